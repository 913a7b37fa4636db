"""A small synthetic memory task with the sim contract's episode schema and env API.

`SyntheticCupsEnv` is a top-down tabletop with three coloured cups. During the cue phase
(arm frozen) one cup lights up; the light goes out for a delay longer than an action chunk;
in the act phase the robot must go to the cup that was lit and close the gripper on it. The
current frame never shows the answer after the cue, so a memoryless policy sits at the chance
ceiling (1/3). It is rendered with numpy (64x64 scene + wrist camera), so the models can be
trained, tested and evaluated closed-loop without MuJoCo. It is NOT the simulation suite:
results on it are labelled synthetic everywhere.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np

from memory_nodes.file_safety import open_private, write_private_text
from models.config import ACTION_DIM

TASK_NAME = 'synthetic_cups'
CHANCE_CEILING = 1.0 / 3.0
PROPRIO_NAMES = ('gripper', 'ee_x', 'ee_y', 'ee_z', 'ee_yaw')
OBJECT_FEATURE_NAMES = ('visible', 'x', 'y', 'z', 'r', 'g', 'b', 'lit', 'class')
PALETTE = np.array([[220, 40, 40], [40, 180, 60], [40, 80, 220], [230, 200, 40],
                    [200, 60, 200], [40, 200, 210]], dtype=np.float32)
INSTRUCTIONS = ('pick up the cup that lit up', 'grasp the cup that was lit',
                'go to the cup that flashed and grab it')
HOME = np.array([0.5, 0.0, 0.3, 0.0, 0.0], dtype=np.float32)
X_RANGE = (0.25, 0.75)  # table extent seen by the scene camera (metres, world frame)
Y_RANGE = (-0.25, 0.25)
MAX_STEP = 0.03  # metres the end effector moves per control step at most
SUCCESS_RADIUS = 0.035  # xy distance from the cup centre for a successful grasp
GRASP_HEIGHT = 0.06  # the gripper must close below this height


class SyntheticCupsEnv:
    """Memory task with the contract's env API: reset / step / success / instruction."""

    def __init__(self, seed: int, mode: str = 'memory', num_cups: int = 3,
                 cue_steps: int = 6, delay_steps: int = 20, act_steps: int = 34,
                 image_size: int = 64) -> None:
        if mode not in ('memory', 'oracle', 'cue_visible'):
            raise ValueError(f"mode={mode!r}: must be 'memory', 'oracle' or 'cue_visible'")
        if num_cups < 2 or num_cups > len(PALETTE):
            raise ValueError(f'num_cups={num_cups}: must be in [2, {len(PALETTE)}]')
        self.seed, self.mode, self.num_cups = seed, mode, num_cups
        self.cue_steps, self.delay_steps, self.act_steps = cue_steps, delay_steps, act_steps
        self.max_steps = cue_steps + delay_steps + act_steps
        self.image_size = image_size
        self.task = TASK_NAME
        rng = np.random.default_rng(seed)
        self.cups = _place_cups(rng, num_cups)  # (K, 3) cup centres
        self.colors = PALETTE[rng.choice(len(PALETTE), num_cups, replace=False)]
        self.target = int(rng.integers(num_cups))
        self.instruction = INSTRUCTIONS[int(rng.integers(len(INSTRUCTIONS)))]
        self.hidden = {'target_cup': self.target}
        self.reset()

    # -- env API -------------------------------------------------------------------------
    def reset(self) -> dict[str, np.ndarray]:
        self.t = 0
        self.ee = HOME.copy()  # x y z yaw gripper
        self.grasped: int | None = None
        return self._observe()

    def phase(self, t: int | None = None) -> int:
        t = self.t if t is None else t
        if t < self.cue_steps:
            return 0
        return 1 if t < self.cue_steps + self.delay_steps else 2

    def step(self, action: np.ndarray) -> tuple[dict[str, np.ndarray], bool, dict[str, Any]]:
        action = np.asarray(action, dtype=np.float32)
        if action.shape != (ACTION_DIM,) or not np.all(np.isfinite(action)):
            raise ValueError(f'action={action!r}: must be {ACTION_DIM} finite numbers')
        if self.phase() != 0:  # the arm is frozen while the cue is shown
            # the gripper closes where the hand is now, before the hand moves on
            if action[4] > 0.5 and self.ee[4] <= 0.5 and self.grasped is None:
                dist = np.linalg.norm(self.cups[:, :2] - self.ee[None, :2], axis=1)
                if self.ee[2] < GRASP_HEIGHT and dist.min() < SUCCESS_RADIUS:
                    self.grasped = int(dist.argmin())
            delta = action[:3] - self.ee[:3]
            norm = float(np.linalg.norm(delta))
            if norm > MAX_STEP:
                delta *= MAX_STEP / norm
            self.ee[:3] += delta
            self.ee[2] = max(self.ee[2], 0.02)
            self.ee[3] = float(np.clip(action[3], -np.pi, np.pi))
            self.ee[4] = float(np.clip(action[4], 0.0, 1.0))
        self.t += 1
        done = self.t >= self.max_steps
        info = {'target_cup': self.target, 'grasped': self.grasped, 'ee': self.ee.copy()}
        return self._observe(), done, info

    def success(self) -> bool:
        return self.grasped == self.target

    # -- observation ---------------------------------------------------------------------
    def _lit(self, t: int) -> int | None:
        shown = self.phase(t) == 0 or self.mode in ('oracle', 'cue_visible')
        return self.target if shown else None

    def _observe(self) -> dict[str, np.ndarray]:
        t = min(self.t, self.max_steps - 1)
        lit = self._lit(t)
        objects = np.zeros((self.num_cups, len(OBJECT_FEATURE_NAMES)), np.float32)
        for k in range(self.num_cups):
            objects[k, 0] = 1.0
            objects[k, 1:4] = self.cups[k]
            objects[k, 4:7] = self.colors[k] / 255.0
            objects[k, 7] = 1.0 if lit == k else 0.0
            objects[k, 8] = 0.5  # one class (cup) of two
        proprio = np.array([self.ee[4], *self.ee[:4]], np.float32)
        return {'rgb': self._render(lit, wrist=False), 'wrist_rgb': self._render(lit, wrist=True),
                'proprio': proprio, 'objects': objects, 'phase': np.int8(self.phase(t))}

    def _render(self, lit: int | None, wrist: bool) -> np.ndarray:
        n = self.image_size
        if wrist:  # a 0.2 m square window centred under the end effector
            cx, cy, half = self.ee[0], self.ee[1], 0.1
        else:
            cx, cy, half = 0.5 * sum(X_RANGE), 0.5 * sum(Y_RANGE), 0.5 * (X_RANGE[1] - X_RANGE[0])
        px = (np.arange(n, dtype=np.float32) + 0.5) / n * 2 * half
        xs = (cx - half + px)[:, None]  # (n, 1) rows = world x
        ys = (cy - half + px)[None, :]  # (1, n) cols = world y
        img = np.full((n, n, 3), 150.0, np.float32)
        for k in range(self.num_cups):
            d2 = (xs - self.cups[k, 0]) ** 2 + (ys - self.cups[k, 1]) ** 2
            if lit == k:
                img[d2 < 0.045 ** 2] = 255.0
            img[d2 < 0.03 ** 2] = self.colors[k]
        if not wrist:
            size = 0.01 + 0.03 * self.ee[2]
            mask = (np.abs(xs - self.ee[0]) < size) & (np.abs(ys - self.ee[1]) < size)
            img[mask] = 30.0 if self.ee[4] > 0.5 else 80.0
        return img.astype(np.uint8)


def _place_cups(rng: np.random.Generator, num_cups: int) -> np.ndarray:
    """Cup centres on the table, at least 0.12 m apart."""
    while True:
        xy = np.stack([rng.uniform(0.33, 0.67, num_cups), rng.uniform(-0.17, 0.17, num_cups)], 1)
        gaps = np.linalg.norm(xy[:, None] - xy[None], axis=-1) + np.eye(num_cups)
        if gaps.min() > 0.12:
            return np.concatenate([xy, np.full((num_cups, 1), 0.02)], 1).astype(np.float32)


def expert_action(env: SyntheticCupsEnv) -> np.ndarray:
    """The scripted expert: hover during the delay, then approach, descend and grasp."""
    cup = env.cups[env.target]
    t_act = env.t - env.cue_steps - env.delay_steps
    ee = env.ee
    if env.phase() < 2:
        # wander during the delay so the arm's pose carries no hint of the answer
        wobble = 0.05 * np.sin(0.3 * env.t)
        goal = np.array([HOME[0] + wobble, HOME[1] - wobble, HOME[2]], np.float32)
        grip = 0.0
    elif np.linalg.norm(ee[:2] - cup[:2]) > 0.01 and t_act < 24:
        goal, grip = np.array([cup[0], cup[1], 0.15], np.float32), 0.0
    elif ee[2] > GRASP_HEIGHT - 0.02 and env.ee[4] < 0.5:
        goal, grip = np.array([cup[0], cup[1], 0.03], np.float32), 0.0
    else:
        goal, grip = np.array([cup[0], cup[1], 0.12], np.float32), 1.0
    delta = goal - ee[:3]
    norm = float(np.linalg.norm(delta))
    if norm > MAX_STEP:
        delta *= MAX_STEP / norm
    return np.array([*(ee[:3] + delta), 0.0, grip], np.float32)


def record_episode(seed: int, mode: str = 'memory', **knobs: Any) -> dict[str, Any]:
    """Run the expert in the env and return one episode in the contract's schema."""
    env = SyntheticCupsEnv(seed, mode, **knobs)
    obs = env.reset()
    steps: dict[str, list[np.ndarray]] = {k: [] for k in
                                          ('rgb', 'wrist_rgb', 'proprio', 'objects', 'phase')}
    actions, gt = [], []
    for _ in range(env.max_steps):
        for key in steps:
            steps[key].append(obs[key])
        action = expert_action(env)
        actions.append(action)
        gt.append(env.cups.copy())
        obs, done, _ = env.step(action)
        if done:
            break
    episode = {key: np.stack(value) for key, value in steps.items()}
    episode.update(task=TASK_NAME, seed=seed, mode=mode, instruction=env.instruction,
                   success=env.success(), dt=0.1, action=np.stack(actions).astype(np.float32),
                   gt_positions=np.stack(gt).astype(np.float32),
                   object_names=[f'cup_{k}' for k in range(env.num_cups)], hidden=env.hidden)
    return episode


def save_episode_npz(path: Path, episode: dict[str, Any]) -> None:
    """Write one episode as a compressed .npz (strings and dicts as JSON in 0-d str arrays)."""
    arrays = {}
    for key, value in episode.items():
        if isinstance(value, np.ndarray):
            arrays[key] = value
        elif isinstance(value, (dict, list, str)):
            arrays[key] = np.array(json.dumps(value))
        else:  # bool, int, float
            arrays[key] = np.array(value)
    with open_private(path, 'wb') as f:   # owner-only (0o600), folders 0o700
        np.savez_compressed(f, **arrays)


def write_synthetic_dataset(root: Path, seeds: range | list[int], mode: str = 'memory',
                            **knobs: Any) -> list[Path]:
    """Record expert episodes into `<root>/synthetic_cups/ep_<seed>_<mode>.npz` + meta.json."""
    root = Path(root)
    paths = []
    for seed in seeds:
        path = root / TASK_NAME / f'ep_{seed}_{mode}.npz'
        save_episode_npz(path, record_episode(seed, mode, **knobs))
        paths.append(path)
    meta = {'tasks': [TASK_NAME], 'proprio_names': list(PROPRIO_NAMES),
            'object_feature_names': list(OBJECT_FEATURE_NAMES), 'synthetic': True}
    write_private_text(root / 'meta.json', json.dumps(meta, indent=1))
    return paths
