"""Scripted experts: a callable per env that returns the next action of the task's script.

The expert uses privileged state (the hidden variable, true positions); it is the source of
demonstrations and the reference success of the expert table, never a policy to evaluate.
"""

from __future__ import annotations


class ScriptedExpert:
    """Wraps the task's expert generator; restarts it when the env was reset."""

    def __init__(self, env):
        self.env = env
        self._gen = None
        self._reset_count = None

    def __call__(self, obs=None, info=None):
        if self._reset_count != self.env.reset_count:
            self._gen = self.env.task.expert(self.env)
            self._reset_count = self.env.reset_count
        return next(self._gen)


def make_expert(env) -> ScriptedExpert:
    """callable(obs, info) -> action (float32 [x, y, z, yaw, grip]) for env's task."""
    return ScriptedExpert(env)
