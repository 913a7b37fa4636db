"""Bridging a detector's brief misses: a slot missed for a step or two keeps what it showed.

Why: in the policy's inputs a slot that reads "not seen" (all zeros) is what a task's hidden
answer looks like: the ball under its cup, the tool in its drawer. A detector that misses a
visible object now and then (too few pixels behind the arm, a reflection) writes the same
signal into the memory bank. With each visible slot missed at random in 20 % of the steps
(`memory-eval --object-dropout 0.2`) the default fell from 98 to 46 % on shell game and from
88 to 60 % on remember colour (docs/models.md, "Detector misses").

`MissedSlotHold` keeps, per episode and slot, the features the slot last showed; a slot that
reads not seen now but was seen at most `steps` steps ago shows those instead. A real
disappearance (covered, put away) then reaches the policy `steps` steps late; a miss of at
most `steps` steps in a row does not reach it at all. It works on the slots as their source
gives them (one slot, one object for the episode: the simulator's order or the node's
`SlotTable`), before the policy's own slot order.
"""

from __future__ import annotations

import numpy as np

from models.goal_pointer import VISIBLE


class MissedSlotHold:
    """Holds each slot's last seen features through up to `steps` missed steps."""

    def __init__(self, batch: int, steps: int) -> None:
        if not (isinstance(steps, (int, np.integer)) and steps >= 0):
            raise ValueError(f'hold_missed_steps={steps!r}: expected an integer >= 0')
        self.batch, self.steps = int(batch), int(steps)
        self.reset()

    def reset(self) -> None:
        self.last: np.ndarray | None = None     # (B, K, D) features when last seen
        self.missed: np.ndarray | None = None   # (B, K) steps since last seen

    def __call__(self, objects: np.ndarray) -> np.ndarray:
        """objects (B, K, D) of this step -> the same, missed slots bridged (a copy;
        with `steps` 0 the array itself)."""
        if objects.ndim != 3 or objects.shape[0] != self.batch:
            raise ValueError(f'objects: shape {objects.shape}, expected ({self.batch}, K, D)')
        if self.steps == 0:
            return objects
        seen = objects[..., VISIBLE] > 0.5
        if self.last is None or self.last.shape != objects.shape:
            self.last = np.zeros_like(objects)
            self.missed = np.full(seen.shape, self.steps + 1, np.int64)
        self.missed = np.where(seen, 0, self.missed + 1)
        self.last[seen] = objects[seen]
        held = ~seen & (self.missed <= self.steps) & (self.last[..., VISIBLE] > 0.5)
        out = np.array(objects)
        out[held] = self.last[held]
        return out

    def state(self) -> dict[str, np.ndarray]:
        """What `load_state` restores (empty before the first step)."""
        if self.last is None:
            return {}
        return {'last': self.last.copy(), 'missed': self.missed.copy()}

    def load_state(self, state: dict[str, np.ndarray]) -> None:
        self.reset()
        if 'last' in state:
            self.last = np.asarray(state['last'], np.float32).copy()
            self.missed = np.asarray(state['missed'], np.int64).copy()
