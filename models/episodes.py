"""Recorded episodes (the sim/models contract's .npz schema) and training batches from them.

A dataset is `<root>/<task>/ep_<seed>_<mode>.npz` (+ `<root>/meta.json`). Episodes are read
with `np.load(..., allow_pickle=False)` following the contract's schema (strings as JSON in
0-d str arrays). Only policy inputs are kept (never gt_positions or hidden: privileged).

`SequenceBatcher` turns episodes into the batched training view of the memory bank: per
episode the bank keyframes (every `write_every` steps) and a few query steps, each query
seeing only keyframes strictly before it, exactly as the step-by-step policy does.
"""

from __future__ import annotations

from dataclasses import dataclass
import json
from pathlib import Path
import re
from typing import Any

import numpy as np
import torch

from models.config import GOAL_TARGETS, SLOT_ORDERS
from models.goal_pointer import POSITION, VISIBLE
from models.slot_order import first_seen_order

EPISODE_NAME = re.compile(r'^ep_(?P<seed>-?\d+)_(?P<mode>[a-z_]+)\.npz$')
STEP_KEYS = ('rgb', 'wrist_rgb', 'proprio', 'objects', 'phase')
# proprio ends with the pinch point's x, y, z, yaw (sim.env's and models.synthetic's)
PINCH = slice(-4, None)


@dataclass
class Episode:
    """The policy-visible part of one recorded episode."""

    task: str
    seed: int
    mode: str
    instruction: str
    success: bool
    rgb: np.ndarray  # (T, H, W, 3) uint8 scene camera
    wrist_rgb: np.ndarray  # (T, H, W, 3) uint8 wrist camera
    proprio: np.ndarray  # (T, P) float32
    objects: np.ndarray  # (T, K, D_OBJ) float32
    phase: np.ndarray  # (T,) int8: 0 cue, 1 delay, 2 act
    action: np.ndarray  # (T, 5) float32 expert end-effector targets + gripper

    @property
    def length(self) -> int:
        return int(self.action.shape[0])

    def validate(self, where: str) -> None:
        t = self.length
        for key in ('rgb', 'wrist_rgb', 'proprio', 'objects', 'phase'):
            value = getattr(self, key)
            if value.shape[0] != t:
                raise ValueError(f'{where}: {key} has {value.shape[0]} steps, action has {t}')
        if self.action.ndim != 2 or self.action.shape[1] != 5:
            raise ValueError(f'{where}: action shape {self.action.shape}, expected (T, 5)')
        if self.rgb.dtype != np.uint8 or self.rgb.ndim != 4:
            raise ValueError(f'{where}: rgb must be uint8 (T, H, W, 3), got '
                             f'{self.rgb.dtype} {self.rgb.shape}')


def _text(value: np.ndarray) -> str:
    """A 0-d str array holding JSON (the contract) or, leniently, a bare string."""
    raw = str(value.item() if isinstance(value, np.ndarray) else value)
    try:
        decoded = json.loads(raw)
    except json.JSONDecodeError:
        return raw
    return decoded if isinstance(decoded, str) else raw


def load_episode(path: str | Path) -> Episode:
    """Read one episode file of the contract's schema into an `Episode` (policy inputs only).

    Read with np.load(allow_pickle=False) directly, so the models need nothing from sim/."""
    path = Path(path)
    try:
        with np.load(path, allow_pickle=False) as npz:
            data = {key: npz[key] for key in npz.files}
    except (OSError, ValueError) as err:
        raise ValueError(f'episode file {str(path)!r}: unreadable ({err})') from err
    missing = [k for k in ('task', 'seed', 'mode', 'instruction', 'success', 'action', *STEP_KEYS)
               if k not in data]
    if missing:
        raise ValueError(f'episode file {str(path)!r}: missing fields {missing}')
    episode = Episode(
        task=_text(data['task']), seed=int(data['seed']), mode=_text(data['mode']),
        instruction=_text(data['instruction']), success=bool(data['success']),
        rgb=data['rgb'], wrist_rgb=data['wrist_rgb'],
        proprio=data['proprio'].astype(np.float32),
        objects=data['objects'].astype(np.float32),
        phase=data['phase'].astype(np.int64), action=data['action'].astype(np.float32))
    episode.validate(str(path))
    return episode


def find_episode_files(root: str | Path, tasks: list[str] | None = None,
                       modes: tuple[str, ...] = ('memory',),
                       seeds: set[int] | None = None) -> list[Path]:
    """Episode files under `root` filtered by task, mode and seed, sorted."""
    root = Path(root)
    if not root.is_dir():
        raise ValueError(f'data root={str(root)!r}: no such folder')
    found = []
    for path in sorted(root.glob('*/ep_*.npz')):
        match = EPISODE_NAME.match(path.name)
        if not match:
            continue
        if tasks and path.parent.name not in tasks:
            continue
        if match['mode'] not in modes:
            continue
        if seeds is not None and int(match['seed']) not in seeds:
            continue
        found.append(path)
    return found


def read_meta(root: str | Path) -> dict[str, Any]:
    meta = Path(root) / 'meta.json'
    return json.loads(meta.read_text()) if meta.exists() else {}


def pad_objects(objects: np.ndarray, slots: int) -> np.ndarray:
    """(..., K, D) -> (..., slots, D), zero-padded (an absent slot looks like a hidden one)."""
    k = objects.shape[-2]
    if k > slots:
        raise ValueError(f'objects has {k} slots, the model has object_slots={slots}')
    if k == slots:
        return objects
    pad = [(0, 0)] * objects.ndim
    pad[-2] = (0, slots - k)
    return np.pad(objects, pad)


def act_start(ep: Episode) -> int:
    """First step of the act phase (the episode length when it has none)."""
    act = np.flatnonzero(ep.phase >= 2)
    return int(act[0]) if len(act) else ep.length


def onset_steps(ep: Episode, tolerance: float = 1e-3) -> np.ndarray:
    """The act phase's first steps, before the arm has moved (its pinch pose within
    `tolerance` m / rad of where it was when the act phase began); empty without an act phase.
    Here the answer must come from memory: from the arm's first move on, a demonstration's
    heading shows where it is going."""
    start = act_start(ep)
    if start >= ep.length:
        return np.zeros(0, np.int64)
    pinch = ep.proprio[start:, PINCH]
    still = np.abs(pinch - pinch[0]).max(1) <= tolerance
    moved = np.flatnonzero(~still)
    end = int(moved[0]) if len(moved) else len(still)
    return np.arange(start, start + end, dtype=np.int64)


def action_chunk(actions: np.ndarray, t: int, horizon: int) -> np.ndarray:
    """actions[t:t+horizon], padded by repeating the last action (Diffusion Policy)."""
    chunk = actions[t:t + horizon]
    if len(chunk) < horizon:
        chunk = np.concatenate([chunk, np.repeat(chunk[-1:], horizon - len(chunk), 0)])
    return chunk


def episode_probabilities(episodes: list[Episode],
                          task_weights: dict[str, float]) -> np.ndarray | None:
    """Per-episode sampling probabilities such that each task's share of the batches is
    proportional to its weight (default 1), whatever its number of episodes; None (uniform
    over episodes, the old behaviour) when no weights are given."""
    if not task_weights:
        return None
    tasks = sorted({ep.task for ep in episodes})
    unknown = sorted(set(task_weights) - set(tasks))
    if unknown:
        raise ValueError(f'task_weights: task(s) {unknown} not in the dataset {tasks}')
    counts = {task: sum(ep.task == task for ep in episodes) for task in tasks}
    p = np.array([task_weights.get(ep.task, 1.0) / counts[ep.task] for ep in episodes])
    return p / p.sum()


class SequenceBatcher:
    """Random training batches: bank keyframes + query steps + target chunks per episode."""

    def __init__(self, episodes: list[Episode], text_vectors: dict[str, np.ndarray],
                 cameras: tuple[str, ...], object_slots: int, horizon: int,
                 write_every: int, queries: int, seed: int = 0,
                 act_fraction: float = 0.0, slot_order: str = 'given',
                 onset_fraction: float = 0.0,
                 task_weights: dict[str, float] | None = None,
                 goal_kind: str = 'episode') -> None:
        if not episodes:
            raise ValueError('episodes: empty; nothing to train on')
        if not 0.0 <= act_fraction <= 1.0:
            raise ValueError(f'act_fraction={act_fraction!r}: must be in [0, 1]')
        if not 0.0 <= onset_fraction <= 1.0 - act_fraction:
            raise ValueError(f'onset_fraction={onset_fraction!r}: must be in [0, 1 - '
                             f'act_fraction={act_fraction}]')
        self.episodes = episodes
        self.text = text_vectors
        self.cameras = cameras
        self.slots = object_slots
        self.horizon = horizon
        self.write_every = write_every
        self.queries = queries
        self.act_fraction = act_fraction
        self.onset_fraction = onset_fraction
        self.rng = np.random.default_rng(seed)
        self.episode_p = episode_probabilities(episodes, task_weights or {})
        # steps whose chunk reaches into the act phase: where the remembered answer is used
        self.decisive = [np.flatnonzero((ep.phase >= 2)
                                        | (np.arange(ep.length) >= act_start(ep) - horizon))
                         for ep in episodes]
        self.onsets = [onset_steps(ep) for ep in episodes]
        # the goal loss's and the pointer loss's targets, per step (`goal_targets`)
        targets = [goal_targets(ep, goal_kind) for ep in episodes]
        self.goals = [points for points, _ in targets]
        self.goal_slots = [slots for _, slots in targets]
        # the slot order the network sees (models/slot_order.py), fixed per episode
        if slot_order not in SLOT_ORDERS:
            raise ValueError(f'slot_order={slot_order!r}: expected one of {SLOT_ORDERS}')
        self.orders: list[np.ndarray | None] = [None] * len(episodes)
        if slot_order == 'first_seen':
            self.orders = [first_seen_order(pad_objects(ep.objects, object_slots))
                           for ep in episodes]
            # slot i shows recorded slot order[i]: a target recorded as slot s is now at
            # the position of s in order (-1 stays -1)
            self.goal_slots = [np.where(slots < 0, -1, np.argsort(order)[slots.clip(0)])
                               for slots, order in zip(self.goal_slots, self.orders)]

    def _query_steps(self, idx: int) -> np.ndarray:
        """Query steps of one episode: a share `act_fraction` from the decisive steps (act
        phase and the chunk before it, a small part of a long episode), a share
        `onset_fraction` from the act phase's onset (`onset_steps`), the rest uniform."""
        ep = self.episodes[idx]
        n_act = int(round(self.queries * self.act_fraction)) if len(self.decisive[idx]) else 0
        n_onset = (int(round(self.queries * self.onset_fraction))
                   if len(self.onsets[idx]) else 0)
        steps = [self.rng.integers(ep.length, size=self.queries - n_act - n_onset),
                 self.rng.choice(self.decisive[idx], size=n_act),
                 self.rng.choice(self.onsets[idx], size=n_onset)]
        return np.sort(np.concatenate(steps))

    def _steps(self, ep: Episode, steps: np.ndarray,
               order: np.ndarray | None = None) -> dict[str, np.ndarray]:
        """Inputs at `steps`; `order` (K,) reorders the object slots: slot i <- order[i]."""
        out = {cam: getattr(ep, cam)[steps] for cam in self.cameras}
        out['proprio'] = ep.proprio[steps]
        out['objects'] = pad_objects(ep.objects[steps], self.slots)
        if order is not None:
            out['objects'] = out['objects'][:, order]
        out['phase'] = ep.phase[steps]
        out['step'] = steps.astype(np.float32)
        return out

    def sample(self, batch_episodes: int) -> dict[str, torch.Tensor]:
        """One batch; keyframe tensors are padded to the batch's longest bank (key_valid)."""
        return self.batch_at(self.draw(batch_episodes))

    def draw(self, batch_episodes: int) -> list[tuple[int, np.ndarray]]:
        """The next batch's (episode index, sorted query steps) pairs, as `sample` draws
        them (for a caller that needs to know which episodes a batch holds)."""
        if self.episode_p is None:
            chosen = self.rng.integers(len(self.episodes), size=batch_episodes)
        else:
            chosen = self.rng.choice(len(self.episodes), size=batch_episodes, p=self.episode_p)
        return [(int(idx), self._query_steps(int(idx))) for idx in chosen]

    def batch_at(self, queries_of: list[tuple[int, np.ndarray]]) -> dict[str, torch.Tensor]:
        """The batch of the given (episode index, sorted query steps) pairs, one row each
        (the same number of steps in every row); `sample` draws them."""
        per_ep = []
        for idx, queries in queries_of:
            ep = self.episodes[idx]
            # the bank a query at step t sees: keyframes at steps < t (written after reading)
            keys = np.arange(0, int(queries.max()), self.write_every)
            per_ep.append((int(idx), ep, queries, keys))
        m = max(1, max(len(k) for _, _, _, k in per_ep))
        batch: dict[str, list[np.ndarray]] = {}
        for idx, ep, queries, keys in per_ep:
            order = self.orders[idx]
            q = self._steps(ep, queries, order)
            padded_keys = np.concatenate([keys, np.zeros(m - len(keys), np.int64)])
            k = self._steps(ep, padded_keys.astype(np.int64), order)
            item = {f'query_{n}': v for n, v in q.items()}
            item.update({f'key_{n}': v for n, v in k.items()})
            item['key_valid'] = np.arange(m) < len(keys)
            item['text'] = self.text[ep.instruction]
            item['actions'] = np.stack([action_chunk(ep.action, int(t), self.horizon)
                                        for t in queries])
            item['goal'] = self.goals[idx][queries]  # (Q, 3)
            item['goal_slot'] = self.goal_slots[idx][queries]  # (Q,)
            for name, value in item.items():
                batch.setdefault(name, []).append(value)
        return {name: torch.from_numpy(np.stack(values)) for name, values in batch.items()}


def grasp_step(ep: Episode) -> int | None:
    """The step at which the demonstration's gripper first closes in the act phase (the cup
    lifted, the cube picked); None when it never closes there."""
    start = act_start(ep)
    closing = np.flatnonzero(ep.action[start:, 4] > 0.5)
    return start + int(closing[0]) if len(closing) else None


def goal_point(ep: Episode) -> np.ndarray:
    """The episode's goal point (x, y, z): the commanded end-effector position at
    `grasp_step`; the last commanded position if the gripper never closes in the act phase.
    Read from the demonstration's actions."""
    step = grasp_step(ep)
    index = len(ep.action) - 1 if step is None else step
    return ep.action[index, :3].astype(np.float32)


def goal_slot(ep: Episode, radius: float = 0.09) -> int:
    """The object slot the demonstration grasped: the visible slot nearest (in x, y) to the
    goal point at `grasp_step` (`slot_at`); -1 when none is within `radius` metres (or the
    gripper never closes there). Slots keep their identity through an episode, so this is
    the slot to point at from every step."""
    step = grasp_step(ep)
    return -1 if step is None else slot_at(ep, step, radius)


def slot_at(ep: Episode, step: int, radius: float = 0.09, exclude: int = -1) -> int:
    """The visible object slot nearest (in x, y) to the commanded end-effector position at
    `step`, other than `exclude`; -1 when none is within `radius` metres. The radius allows
    for a drawer, grasped by its knob 7.5 cm in front of the drawer's centre (neighbouring
    objects of the suite stand 10 cm or more apart)."""
    def nearest(objects):
        distance = np.linalg.norm(objects[:, POSITION][:, :2] - ep.action[step, :2], axis=1)
        if exclude >= 0:
            distance[exclude] = np.inf
        return _nearest_visible(objects, distance, radius)

    return _now_or_last_seen(ep, step, nearest)


def _now_or_last_seen(ep: Episode, step: int, nearest, recent: int = 10) -> int:
    """`nearest(objects)` on the slots visible at `step`; when that finds none, on the
    slots seen in the `recent` steps up to `step`, each as it was last seen. The simulator's
    slots are visible under the gripper; perception-made ones (record_demos --objects
    perception) often are not: the gripper on a drawer's knob hides the drawer. (Not any
    earlier: the helper hand that left an item in a drawer was last seen there.)"""
    found = nearest(ep.objects[step])
    if found >= 0:
        return found
    first = max(0, step + 1 - recent)
    seen = ep.objects[first:step + 1, :, VISIBLE] > 0.5  # (t, K)
    if not seen.any():
        return -1
    last = np.where(seen.any(0), step - np.argmax(seen[::-1], axis=0), step)  # (K,)
    objects = ep.objects[last, np.arange(ep.objects.shape[1])]  # (K, D_OBJ)
    return nearest(np.where(seen.any(0)[:, None], objects, 0.0))


def _nearest_visible(objects: np.ndarray, distance: np.ndarray, within: float) -> int:
    """The visible slot of `objects` (K, D_OBJ) with the smallest `distance` (K,), or -1
    when none is within `within`."""
    distance = np.where(objects[:, VISIBLE] < 0.5, np.inf, distance)
    best = int(np.argmin(distance))
    return best if distance[best] <= within else -1


def contact_spans(ep: Episode, min_travel: float = 0.03) -> tuple[np.ndarray, np.ndarray]:
    """The act phase's contacts as (first steps, last steps): every run of steps whose
    commanded end-effector height is below the middle of its act-phase range (a grasp, a
    place, a button press), from the descent's first low step to the last low step before
    the arm rises again. Empty when the act phase has no vertical travel of `min_travel`
    metres."""
    start = act_start(ep)
    z = ep.action[start:, 2]
    if len(z) == 0 or z.max() - z.min() < min_travel:
        return np.zeros(0, np.int64), np.zeros(0, np.int64)
    low = z < 0.5 * (z.max() + z.min())
    first = low & ~np.concatenate([[False], low[:-1]])
    last = low & ~np.concatenate([low[1:], [False]])
    return start + np.flatnonzero(first), start + np.flatnonzero(last)


def contact_steps(ep: Episode, min_travel: float = 0.03) -> np.ndarray:
    """The first step of each of the act phase's contacts (`contact_spans`)."""
    return contact_spans(ep, min_travel)[0]


def carried_slot(ep: Episode, contact: int, reach: float = 0.05) -> int:
    """At a release (the gripper closed at the contact and opening before the arm rises
    again) the slot carried in the hand: the visible one nearest the pinch point in 3-D,
    when within `reach` metres; -1 at a grasp or a press. A place's target is where the
    object goes (the tray, the cube below, the remembered spot), not the object itself."""
    grip = ep.action[:, 4] > 0.5
    if not grip[contact]:
        return -1
    z = ep.action[contact:, 2]
    rises = np.flatnonzero(z > z[0] + 0.03)
    end = contact + (int(rises[0]) if len(rises) else len(z))
    if grip[contact:end].all():
        return -1  # a press: the closed gripper pushes and lifts again
    def nearest(objects):
        distance = np.linalg.norm(objects[:, POSITION] - ep.proprio[contact, PINCH][:3],
                                  axis=1)
        return _nearest_visible(objects, distance, reach)

    return _now_or_last_seen(ep, contact, nearest)


def goal_targets(ep: Episode, kind: str = 'episode') -> tuple[np.ndarray, np.ndarray]:
    """Per-step targets of the goal loss and the goal pointer: points (T, 3) and slots (T,)
    (-1: no object there). 'episode': the same at every step, the grasp's (`goal_point`,
    `goal_slot`): one answer per episode. 'next_contact': at each step the next contact
    starting at or after it (`contact_spans`; after the last one, the last one): where the
    arm must go next, for tasks with several targets in turn (buttons in the remembered
    order, the blue button K times then the white one, the tray and then the remembered
    start place, which no object marks: slot -1). 'unfinished_contact': the same, except
    that a contact stays the target until its last low step (the press is done, the arm
    rises), not only until its first: with 'next_contact' the target moves on as the arm
    starts down, and a policy conditioned on it left presses half done."""
    if kind not in GOAL_TARGETS:
        raise ValueError(f'goal_targets kind={kind!r}: expected one of {GOAL_TARGETS}')
    t = ep.length
    contacts, ends = (contact_spans(ep) if kind != 'episode'
                      else (np.zeros(0, np.int64), np.zeros(0, np.int64)))
    if len(contacts) == 0:
        return (np.repeat(goal_point(ep)[None], t, 0),
                np.full(t, goal_slot(ep), np.int64))
    bounds = contacts if kind == 'next_contact' else ends  # where each target moves on
    following = np.minimum(np.searchsorted(bounds, np.arange(t)), len(contacts) - 1)
    step = contacts[following]  # (T,) the contact each step heads for
    slots = np.array([slot_at(ep, int(c), exclude=carried_slot(ep, int(c)))
                      for c in contacts], np.int64)
    return ep.action[step, :3].astype(np.float32), slots[following]


def dataset_arrays(episodes: list[Episode], object_slots: int) -> dict[str, torch.Tensor]:
    """All actions / proprio / objects of the dataset, to fit the normaliser."""
    return {
        'action': torch.from_numpy(np.concatenate([e.action for e in episodes])),
        'proprio': torch.from_numpy(np.concatenate([e.proprio for e in episodes])),
        'objects': torch.from_numpy(np.concatenate(
            [pad_objects(e.objects, object_slots) for e in episodes]).reshape(
                -1, episodes[0].objects.shape[-1])),
    }
