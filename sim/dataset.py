"""Recorded episodes: the sim/models contract's one-compressed-.npz-per-episode format.

A dataset is a folder `<root>/<task>/ep_<seed>_<mode>.npz` plus `<root>/meta.json`. Arrays
are stored as they are; strings, lists and dicts as JSON in 0-d str arrays, so every file
loads with `np.load(..., allow_pickle=False)`. Column meanings are fixed here:
PROPRIO_NAMES, OBJECT_FEATURE_NAMES, PHASE_NAMES, ACTION_NAMES.
"""

from __future__ import annotations

from dataclasses import dataclass, field, fields
import json
from pathlib import Path
import re

import numpy as np

from memory_nodes.file_safety import open_private, private_dir, write_private_text
from sim.arm import ARM_JOINTS
from sim.scene import CLASSES

ACTION_NAMES = ('x', 'y', 'z', 'yaw', 'gripper')
ACTION_DIM = len(ACTION_NAMES)
# proprio columns: arm joint angles (rad), gripper opening (m, 0 closed .. 0.08 open),
# pinch-point pose in the world frame (m, rad).
PROPRIO_NAMES = ARM_JOINTS + ('gripper_opening', 'ee_x', 'ee_y', 'ee_z', 'ee_yaw')
PROPRIO_DIM = len(PROPRIO_NAMES)
# objects features per slot; a slot that is not visible is all zeros.
OBJECT_FEATURE_NAMES = (
    'visible',  # 1 when a camera-based front end could see the object now
    'x', 'y', 'z',  # body origin in the world frame (m)
    'r', 'g', 'b',  # displayed colour in [0, 1] (dim when a button/LED is dark)
    'lit',  # 1 when the button/LED/lamp is lit
    'class',  # class index / len(CLASSES), see sim.scene.CLASSES
    'state',  # button depression or drawer opening, normalised to [0, 1]
)
OBJECT_DIM = len(OBJECT_FEATURE_NAMES)
NUM_CLASSES = len(CLASSES)
PHASE_NAMES = ('cue', 'delay', 'act')
MODES = ('memory', 'oracle', 'cue_visible')
STEP_KEYS = ('rgb', 'wrist_rgb', 'proprio', 'objects', 'phase')
EPISODE_FILE = re.compile(r'^ep_(?P<seed>-?\d+)_(?P<mode>[a-z_]+)\.npz$')

_JSON_FIELDS = ('task', 'mode', 'instruction', 'object_names', 'hidden')
_SCALAR_FIELDS = {'seed': int, 'success': bool, 'dt': float}


@dataclass
class EpisodeData:
    """One episode: per-step observations, the expert's actions and privileged truth."""

    task: str
    seed: int
    mode: str  # one of MODES
    instruction: str
    success: bool
    rgb: np.ndarray  # uint8 (T, H, W, 3) scene camera
    wrist_rgb: np.ndarray  # uint8 (T, H, W, 3) wrist camera
    proprio: np.ndarray  # float32 (T, P), columns PROPRIO_NAMES
    objects: np.ndarray  # float32 (T, K, D_OBJ), features OBJECT_FEATURE_NAMES
    object_names: list  # K slot names
    action: np.ndarray  # float32 (T, 5), columns ACTION_NAMES
    phase: np.ndarray  # int8 (T,), index into PHASE_NAMES
    gt_positions: np.ndarray  # float32 (T, K, 3) true positions (privileged)
    hidden: dict = field(default_factory=dict)  # hidden variables and the answer (privileged)
    dt: float = 0.1  # seconds of simulated time per step

    @property
    def length(self) -> int:
        return int(self.action.shape[0])

    def validate(self) -> None:
        """Raise ValueError naming the first field whose type or shape breaks the schema."""
        if self.mode not in MODES:
            raise ValueError(f'mode must be one of {MODES}, got {self.mode!r}')
        t = self.length
        k = len(self.object_names)
        expected = {
            'rgb': (np.uint8, 4), 'wrist_rgb': (np.uint8, 4), 'proprio': (np.float32, 2),
            'objects': (np.float32, 3), 'action': (np.float32, 2), 'phase': (np.int8, 1),
            'gt_positions': (np.float32, 3),
        }
        for name, (dtype, ndim) in expected.items():
            value = getattr(self, name)
            if not isinstance(value, np.ndarray) or value.dtype != dtype or value.ndim != ndim:
                got = (getattr(value, 'dtype', type(value)), getattr(value, 'shape', None))
                raise ValueError(f'{name} must be a {dtype.__name__} array with {ndim} dims, '
                                 f'got {got}')
            if value.shape[0] != t:
                raise ValueError(f'{name} has {value.shape[0]} steps, action has {t}')
        if self.action.shape[1] != ACTION_DIM:
            raise ValueError(f'action has {self.action.shape[1]} columns, expected {ACTION_DIM}')
        if self.proprio.shape[1] != PROPRIO_DIM:
            raise ValueError(f'proprio has {self.proprio.shape[1]} columns, '
                             f'expected {PROPRIO_DIM}')
        if self.objects.shape[1:] != (k, OBJECT_DIM):
            raise ValueError(f'objects shape {self.objects.shape} does not match '
                             f'{k} object_names x {OBJECT_DIM} features')
        if self.gt_positions.shape[1:] != (k, 3):
            raise ValueError(f'gt_positions shape {self.gt_positions.shape}, expected (T, {k}, 3)')


def episode_filename(seed: int, mode: str) -> str:
    return f'ep_{int(seed)}_{mode}.npz'


def save_episode(path, ep: EpisodeData) -> Path:
    """Write one episode as a compressed .npz (no pickled objects)."""
    ep.validate()
    path = Path(path)
    if path.suffix != '.npz':   # where np.savez_compressed would have written it
        path = path.with_name(path.name + '.npz')
    arrays = {}
    for f in fields(EpisodeData):
        value = getattr(ep, f.name)
        if f.name in _JSON_FIELDS:
            arrays[f.name] = np.array(json.dumps(value))
        elif f.name in _SCALAR_FIELDS:
            arrays[f.name] = np.array(_SCALAR_FIELDS[f.name](value))
        else:
            arrays[f.name] = value
    with open_private(path, 'wb') as f:   # owner-only (0o600), folders 0o700
        np.savez_compressed(f, **arrays)
    return path


def load_episode(path) -> EpisodeData:
    """Read an episode written by save_episode."""
    with np.load(Path(path), allow_pickle=False) as npz:
        missing = [f.name for f in fields(EpisodeData) if f.name not in npz.files]
        if missing:
            raise ValueError(f'{path}: missing fields {missing}')
        kwargs = {}
        for f in fields(EpisodeData):
            value = npz[f.name]
            if f.name in _JSON_FIELDS:
                kwargs[f.name] = json.loads(str(value))
            elif f.name in _SCALAR_FIELDS:
                kwargs[f.name] = _SCALAR_FIELDS[f.name](value)
            else:
                kwargs[f.name] = value
    ep = EpisodeData(**kwargs)
    ep.validate()
    return ep


def write_meta(root, meta: dict) -> Path:
    """Write `<root>/meta.json` (schema names, tasks, counts, image size)."""
    root = private_dir(root)
    full = {
        'format': 'sim.dataset/1',
        'action_names': list(ACTION_NAMES),
        'proprio_names': list(PROPRIO_NAMES),
        'object_feature_names': list(OBJECT_FEATURE_NAMES),
        'phase_names': list(PHASE_NAMES),
        'classes': list(CLASSES),
        **meta,
    }
    return write_private_text(root / 'meta.json', json.dumps(full, indent=2))


def list_episodes(root, task: str | None = None, mode: str | None = None) -> list[Path]:
    """Episode files under a dataset root, sorted, optionally for one task and mode."""
    root = Path(root)
    tasks = [root / task] if task else sorted(p for p in root.iterdir() if p.is_dir())
    out = []
    for folder in tasks:
        for p in sorted(folder.glob('ep_*.npz')):
            m = EPISODE_FILE.match(p.name)
            if m and (mode is None or m.group('mode') == mode):
                out.append(p)
    return out
