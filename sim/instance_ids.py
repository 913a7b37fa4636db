"""Instance ids of published segmentation images (sim bridge topics and recorded bags).

What it is for: the preprocessor (memory_nodes.perception.labels) labels an instance id
`class_index * instance_id_divisor + instance` as `class_names[class_index]`, with id <= 0 as
background, divisor 1000 and the simulator's classes (sim.scene.CLASSES) as its defaults. The
bridge publishes exactly that encoding, so the preprocessor labels every task's objects with
its default parameters (no per-task `instance_labels`, `segmentation_id_offset` 0):

    id = CLASSES.index(kind) * 1000 + slot + 1    (0 = robot, table, background)

`slot` is the object's index in `env.slot_names` (the row of its features in observations),
so `id % 1000 - 1` recovers the slot and ids are unique within an episode. Example, the shell
game with 3 cups: cup0..cup2 -> 1, 2, 3; ball -> 1004; cue_marker -> 7005; goal -> 8006.
"""

from __future__ import annotations

import numpy as np

from sim.scene import CLASSES

ID_DIVISOR = 1000  # = the preprocessor's default instance_id_divisor
BACKGROUND = 0


def slot_ids(env) -> np.ndarray:
    """(K,) int32 instance id of every slot of an env's task."""
    if len(env.slot_names) >= ID_DIVISOR:
        raise ValueError(f'{len(env.slot_names)} slots do not fit the id encoding '
                         f'(at most {ID_DIVISOR - 1})')
    classes = [CLASSES.index(env.objects[name].kind) for name in env.slot_names]
    return np.array([c * ID_DIVISOR + i + 1 for i, c in enumerate(classes)], dtype=np.int32)


def encode(slot_image: np.ndarray, ids: np.ndarray) -> np.ndarray:
    """(H, W) slot-index image (-1 = background, as env.render gives) -> (H, W) int32 ids."""
    slot_image = np.asarray(slot_image)
    out = np.full(slot_image.shape, BACKGROUND, dtype=np.int32)
    fg = slot_image >= 0
    out[fg] = ids[slot_image[fg]]
    return out


def id_table(env) -> dict[int, str]:
    """{instance id: slot name} of an env's task (for ground truth files and docs)."""
    return {int(i): name for i, name in zip(slot_ids(env), env.slot_names)}
