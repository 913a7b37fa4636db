"""MuJoCo side of the stack: scenes, the memory-task suite, scripted experts, sim bridge.

Nothing here needs ROS except the sim bridge node module (sim.bridge_node).
`make_env(task, seed, mode='memory', **knobs)` is the entry point; `TASKS` maps task names
to task classes (each with its chance ceiling); `sim.experts.make_expert(env)` gives the
scripted expert.
"""

import os

# Offscreen rendering only: pick EGL unless the user chose (osmesa on machines without EGL).
os.environ.setdefault('MUJOCO_GL', 'egl')
os.environ.setdefault('PYOPENGL_PLATFORM', os.environ['MUJOCO_GL'])

from sim.env import MemoryTaskEnv  # noqa: E402
from sim.tasks import TASKS  # noqa: E402

ENV_OPTIONS = ('image_size', 'render')  # env-level keyword arguments of make_env


def make_env(task: str, seed: int, mode: str = 'memory', **knobs) -> MemoryTaskEnv:
    """Build the env of one seeded task instance.

    `knobs` are the task's difficulty knobs (see TASKS[task].KNOBS) plus the env options
    image_size (policy image side, default 64) and render (False: no images, faster).
    """
    if task not in TASKS:
        raise ValueError(f'task must be one of {sorted(TASKS)}, got {task!r}')
    env_kwargs = {k: knobs.pop(k) for k in ENV_OPTIONS if k in knobs}
    return MemoryTaskEnv(TASKS[task](seed, mode, **knobs), **env_kwargs)


__all__ = ['make_env', 'TASKS', 'MemoryTaskEnv']
