"""Action evaluation: the action expert's chunks against the actions a bag says were taken.

The actions taken are end-effector targets [x, y, z, yaw, gripper] with the time from
which each was in force (zero-order hold). They come from

- the bag's command topics, as the executor publishes them live (``/sim/ee_target``
  PoseStamped: position and yaw; ``/sim/gripper`` Float64 in [0, 1]), or
- a sim bag's ``actions.json`` sidecar (``write_sim_actions``: the scripted expert's action
  of every step, in force from the step's observation time; with the phase start times).

A chunk computed from the observation at t0 with step dt proposes action i for the
interval [t0 + i dt, t0 + (i + 1) dt); it is compared with the action in force in the
middle of that interval. Errors: end-effector position (m), yaw (rad, wrapped), gripper
(absolute), per horizon step, over the chunk's first ``n_execute`` actions and over all.
"""

from __future__ import annotations

from dataclasses import dataclass
import json
import math
from pathlib import Path

import numpy as np

from memory_nodes.evaluation.bagio import BagError
from memory_nodes.file_safety import write_private_text

ACTION_NAMES = ('x', 'y', 'z', 'yaw', 'gripper')
EE_TOPIC, GRIPPER_TOPIC = '/sim/ee_target', '/sim/gripper'
SIDECAR = 'actions.json'


@dataclass
class TakenActions:
    times_s: np.ndarray   # (N,) from when each action was in force, ascending
    values: np.ndarray    # (N, 5) x y z yaw gripper
    source: str

    def __post_init__(self):
        self.times_s = np.asarray(self.times_s, dtype=float)
        self.values = np.asarray(self.values, dtype=float).reshape(-1, len(ACTION_NAMES))
        if len(self.times_s) != len(self.values) or not len(self.times_s):
            raise BagError(f'{self.source}: no actions, or times and actions differ in length')
        if np.any(np.diff(self.times_s) < 0):
            raise BagError(f'{self.source}: action times are not in order')

    def at(self, t: float):
        """The action in force at time t, or None before the first."""
        i = int(np.searchsorted(self.times_s, t, side='right')) - 1
        return None if i < 0 else self.values[i]


def yaw_of(q) -> float:
    return math.atan2(2 * (q.w * q.z + q.x * q.y), 1 - 2 * (q.y * q.y + q.z * q.z))


def taken_from_bag(reader, ee_topic: str = EE_TOPIC, gripper_topic: str = GRIPPER_TOPIC
                   ) -> TakenActions:
    """Actions from a bag's command topics (gripper 0 until the first gripper command)."""
    conns = [c for c in reader.connections if c.topic in (ee_topic, gripper_topic)]
    if not any(c.topic == ee_topic for c in conns):
        raise BagError(f'the bag has no {ee_topic} (end-effector targets) to evaluate actions '
                       f'against; it has {sorted({c.topic for c in reader.connections})}')
    times, values, grip, pose = [], [], 0.0, None
    for conn, t_ns, raw in reader.messages(connections=conns):
        msg = reader.deserialize(raw, conn.msgtype)
        if conn.topic == gripper_topic:
            grip = float(msg.data)
        else:
            p = msg.pose.position
            pose = [p.x, p.y, p.z, yaw_of(msg.pose.orientation)]
        if pose is not None:
            times.append(t_ns * 1e-9)
            values.append([*pose, grip])
    return TakenActions(times, values, f'bag topics {ee_topic} + {gripper_topic}')


def write_sim_actions(path, times_s, actions, dt: float, phase_starts_s: dict) -> Path:
    """The sidecar of a sim bag: each step's action, in force from its observation time."""
    return write_private_text(path, json.dumps({
        'names': list(ACTION_NAMES), 'dt': dt, 'phase_starts_s': phase_starts_s,
        'times_s': [round(float(t), 6) for t in times_s],
        'actions': np.asarray(actions, dtype=float).round(6).tolist()}))


def load_sim_actions(path) -> tuple[TakenActions, dict]:
    """(actions, phase start times) from an ``actions.json`` sidecar."""
    path = Path(path)
    if not path.exists():
        raise BagError(f'actions file {str(path)!r} does not exist')
    try:
        data = json.loads(path.read_text())
        taken = TakenActions(data['times_s'], data['actions'], str(path))
    except (json.JSONDecodeError, KeyError, TypeError, ValueError) as error:
        if isinstance(error, BagError):
            raise
        raise BagError(f'actions file {str(path)!r} is malformed: {error}') from error
    return taken, dict(data.get('phase_starts_s') or {})


@dataclass
class Chunk:
    observation_s: float
    dt: float
    names: list
    actions: np.ndarray   # (horizon, dim)
    n_execute: int
    inference_ms: float


def chunk_from_msg(msg) -> Chunk:
    stamp = msg.observation_stamp.sec + msg.observation_stamp.nanosec * 1e-9
    actions = np.asarray(msg.actions, dtype=float).reshape(int(msg.horizon),
                                                           int(msg.action_dim))
    return Chunk(stamp, float(msg.dt), list(msg.action_names), actions, int(msg.n_execute),
                 float(msg.inference_ms))


def _wrap(angle):
    return (np.asarray(angle) + np.pi) % (2 * np.pi) - np.pi


def score_chunks(chunks: list[Chunk], taken: TakenActions, time_offset_s: float = 0.0
                 ) -> dict:
    """Errors of every chunk against the actions taken. ``time_offset_s`` is added to the
    taken actions' times (a sidecar counts from the bag's start)."""
    per_step = {'position_m': {}, 'yaw_rad': {}, 'gripper': {}}
    executed = {'position_m': [], 'yaw_rad': [], 'gripper': []}
    first = {'position_m': [], 'yaw_rad': [], 'gripper': []}
    scored = 0
    for chunk in chunks:
        missing = [n for n in ACTION_NAMES if n not in chunk.names]
        if missing:
            raise BagError(f'a chunk lacks action columns {missing} (it has {chunk.names})')
        cols = [chunk.names.index(n) for n in ACTION_NAMES]
        any_scored = False
        for i, proposed in enumerate(chunk.actions[:, cols]):
            truth = taken.at(chunk.observation_s + (i + 0.5) * chunk.dt - time_offset_s)
            if truth is None:
                continue
            err = {'position_m': float(np.linalg.norm(proposed[:3] - truth[:3])),
                   'yaw_rad': float(abs(_wrap(proposed[3] - truth[3]))),
                   'gripper': float(abs(proposed[4] - truth[4]))}
            for key, value in err.items():
                per_step[key].setdefault(i, []).append(value)
                if i < max(1, chunk.n_execute):
                    executed[key].append(value)
                if i == 0:
                    first[key].append(value)
            any_scored = True
        scored += any_scored
    out = {'chunks': len(chunks), 'chunks_scored': scored, 'source': taken.source}
    for key in executed:
        out[key] = {'first_action': _stats(first[key]), 'executed': _stats(executed[key]),
                    'per_horizon_step_mean': [round(float(np.mean(per_step[key][i])), 5)
                                              for i in sorted(per_step[key])]}
    return out


def _stats(values) -> dict:
    if not values:
        return {'n': 0}
    a = np.asarray(values)
    return {'n': int(a.size), 'mean': round(float(a.mean()), 5),
            'median': round(float(np.median(a)), 5),
            'p90': round(float(np.percentile(a, 90)), 5)}
