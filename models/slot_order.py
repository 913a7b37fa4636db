"""A canonical order of the object slots: by when each object was first seen.

Why: the policy remembers per slot (the state token flattens the slots; the goal pointer
keys carry a slot embedding), so it learns whatever slot order its training data had. The
simulator lists objects in each task's own order (remember colour: the candidates, then the
cue cube); the ROS graph lists tracks by class and track number (the cue, seen first, comes
first). The shipped policy trained in the simulator's order fell from 100 % to 40 % on
remember colour with the slots in the graph's order. Training with a random slot order per
episode instead (a permutation-invariant policy) did not learn either task in the same
training budget (26 % and 30 %, chance 33 %).

The canonical order depends on the observations only, so every source gives the same one:
slots sorted by the first step their object is visible, objects first seen at the same
step by class, then y, then x at that step (a row of cups: left to right in the robot's
view); slots never visible keep their given order at the end. A slot keeps its place for
the whole episode, hidden or not. `first_seen_order` computes it from a whole recorded
episode (training); `FirstSeenSlots` builds the same order step by step (the policy, in the
simulator and in the ROS graph). The two agree at every step because a slot not yet seen
is all zeros wherever it sits. What the order needs from its source: a slot (a track)
keeps its object for the episode, as the action expert node's `SlotTable` ensures.
"""

from __future__ import annotations

import numpy as np

from models.goal_pointer import VISIBLE

X, Y, CLASS = 1, 2, 8  # feature indices (sim.dataset.OBJECT_FEATURE_NAMES)


def _tie_key(features: np.ndarray) -> tuple[float, float, float]:
    """Order among objects first seen at the same step: class, y, x (rounded to 1 mm)."""
    cls = float(features[CLASS]) if len(features) > CLASS else 0.0
    return (round(cls, 3), round(float(features[Y]), 3), round(float(features[X]), 3))


def first_seen_order(objects: np.ndarray) -> np.ndarray:
    """objects (T, K, D) of one episode -> order (K,): objects[:, order] is canonical."""
    visible = objects[..., VISIBLE] > 0.5  # (T, K)
    seen = visible.any(0)
    first = np.where(seen, visible.argmax(0), objects.shape[0])
    keys = [(int(first[k]), *(_tie_key(objects[first[k], k]) if seen[k] else (0, 0, 0)), k)
            for k in range(objects.shape[1])]
    return np.array([key[-1] for key in sorted(keys)], np.int64)


class FirstSeenSlots:
    """The canonical order built online for a batch of episodes, one step at a time."""

    def __init__(self, batch: int) -> None:
        self.batch = batch
        self.reset()

    def reset(self) -> None:
        self.placed: list[list[int]] = [[] for _ in range(self.batch)]  # given slots, in order

    def __call__(self, objects: np.ndarray) -> np.ndarray:
        """objects (B, K, D) of this step in the given order -> the same, canonical."""
        if objects.shape[0] != self.batch:
            raise ValueError(f'objects: batch {objects.shape[0]}, expected {self.batch}')
        out = np.zeros_like(objects)
        for b in range(self.batch):
            placed = self.placed[b]
            new = [int(k) for k in np.flatnonzero(objects[b, :, VISIBLE] > 0.5)
                   if k not in placed]
            placed += sorted(new, key=lambda k: (*_tie_key(objects[b, k]), k))
            out[b, :len(placed)] = objects[b, placed]
        return out

    def state(self) -> np.ndarray:
        """(B, K_max) the given slot at each canonical place, -1 padded (save / restore)."""
        width = max([len(p) for p in self.placed] + [1])
        table = np.full((self.batch, width), -1, np.int64)
        for b, placed in enumerate(self.placed):
            table[b, :len(placed)] = placed
        return table

    def load_state(self, table: np.ndarray) -> None:
        self.placed = [[int(k) for k in row if k >= 0] for row in np.asarray(table)]
        self.batch = len(self.placed)
