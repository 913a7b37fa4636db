"""Workspace and speed limits, and the stale-input watchdog of the executor (no ROS).

Every command the executor sends passes through ``SafetyLimits.clamp``: the end-effector
target is kept inside the workspace box, its step from the last command is bounded by the
linear and yaw speed limits, and the gripper command is kept in [0, 1]. ``InputWatchdog``
says which inputs (joint states, chunks, observations) are older than allowed, so the
executor can hold the arm still instead of acting on stale data.
"""

from dataclasses import dataclass
import math

import numpy as np


@dataclass(frozen=True)
class SafetyLimits:
    """Limits on end-effector commands [x, y, z, yaw, gripper] in the world frame."""

    workspace_min: tuple = (0.15, -0.45, 0.0)   # metres; lower corner of the allowed box
    workspace_max: tuple = (0.85, 0.45, 0.6)    # metres; upper corner
    max_speed: float = 0.5                      # metres per second, end-effector
    max_yaw_rate: float = 2.0                   # radians per second

    def __post_init__(self):
        lo, hi = np.asarray(self.workspace_min), np.asarray(self.workspace_max)
        if lo.shape != (3,) or hi.shape != (3,) or not np.all(lo < hi):
            raise ValueError(f'workspace_min {self.workspace_min} must be below '
                             f'workspace_max {self.workspace_max} on every axis')
        if not self.max_speed > 0 or not self.max_yaw_rate > 0:
            raise ValueError(f'max_speed {self.max_speed} and max_yaw_rate '
                             f'{self.max_yaw_rate} must be > 0')

    def clamp(self, command, previous, dt):
        """Return (safe command, list of the limits that acted)."""
        command = np.asarray(command, dtype=np.float64).copy()
        if command.shape != (5,) or not np.all(np.isfinite(command)):
            raise ValueError(f'command is {command!r}; expected 5 finite numbers '
                             '[x, y, z, yaw, gripper]')
        acted = []
        lo, hi = np.asarray(self.workspace_min), np.asarray(self.workspace_max)
        clipped = np.clip(command[:3], lo, hi)
        if not np.allclose(clipped, command[:3]):
            acted.append('workspace')
        command[:3] = clipped
        if previous is not None:
            previous = np.asarray(previous, dtype=np.float64)
            step = command[:3] - previous[:3]
            limit = self.max_speed * dt
            norm = float(np.linalg.norm(step))
            if norm > limit:
                command[:3] = previous[:3] + step * (limit / norm)
                acted.append('speed')
            dyaw = math.remainder(command[3] - previous[3], 2 * math.pi)
            yaw_limit = self.max_yaw_rate * dt
            if abs(dyaw) > yaw_limit:
                command[3] = previous[3] + math.copysign(yaw_limit, dyaw)
                acted.append('yaw_rate')
        grip = min(1.0, max(0.0, command[4]))
        if grip != command[4]:
            acted.append('gripper')
        command[4] = grip
        return command, acted


class InputWatchdog:
    """Tracks when each input last arrived and reports the stale ones."""

    def __init__(self, limits_s):
        for name, limit in limits_s.items():
            if not limit > 0:
                raise ValueError(f'staleness limit for {name!r} is {limit!r}; expected > 0')
        self.limits_s = dict(limits_s)
        self.last_seen = {}

    def seen(self, name, t):
        if name not in self.limits_s:
            raise ValueError(f'unknown input {name!r}; watched: {sorted(self.limits_s)}')
        self.last_seen[name] = t

    def stale(self, now):
        """Names of inputs never seen or older than their limit at time ``now``."""
        return sorted(name for name, limit in self.limits_s.items()
                      if now - self.last_seen.get(name, -math.inf) > limit)
