"""Baseline policies for the CLI and tests: a random policy (memoryless, motorically active).

The scripted experts live in sim/experts.py; learned policies in models/.
"""

from __future__ import annotations

import numpy as np

from sim.arm import WORKSPACE_HIGH, WORKSPACE_LOW


class RandomPolicy:
    """Random gripper targets held for a few steps, random grip toggles; seeded."""

    def __init__(self, seed: int = 0, hold_steps=(4, 12)):
        self.rng = np.random.default_rng(seed)
        self.hold_steps = hold_steps  # range of steps a random target is held
        self._target = None
        self._left = 0

    def __call__(self, obs=None, info=None) -> np.ndarray:
        if self._left <= 0:
            low = np.array([0.3, -0.3, 0.01])
            high = np.array([0.65, 0.3, 0.25])
            xyz = self.rng.uniform(np.maximum(low, WORKSPACE_LOW),
                                   np.minimum(high, WORKSPACE_HIGH))
            yaw = self.rng.uniform(-np.pi / 2, np.pi / 2)
            grip = float(self.rng.random() < 0.5)
            self._target = np.array([*xyz, yaw, grip], dtype=np.float32)
            self._left = int(self.rng.integers(*self.hold_steps))
        self._left -= 1
        return self._target.copy()
