"""Time-indexed queue of action chunks for the executor (no ROS imports).

The action expert computes chunks asynchronously: a chunk computed from the observation
stamped ``t_obs`` holds actions for times ``t_obs + i * dt`` (i = 0 .. horizon-1), of which
the first ``n_execute`` are meant to be executed. The executor asks for the action at the
current control time; this queue answers from the newest chunk that covers that time, blends
the seam between an old and a new chunk linearly over ``blend_steps`` steps (as LeRobot's
asynchronous inference does), and drops chunks that arrive too late to be of use: a chunk
whose executable window has already passed, or whose observation is older than
``max_age_s``.
"""

from dataclasses import dataclass
import math

import numpy as np

# A time this close (in steps) below a step boundary counts as that step. Stamps are whole
# nanoseconds and ActionChunk.dt is a float32 (0.1 s arrives as 0.10000000149 s): with an
# exact comparison the time of step k after the observation fell just short of k, and every
# chunk ran one step late after its first action (the graph's button sequence 6/12 against
# 12/12 in-process). 1e-4 steps is 10 us at 10 Hz, far below any clock's jitter.
STEP_TOLERANCE = 1e-4


@dataclass
class Chunk:
    """A chunk of absolute actions starting at its observation's stamp."""

    observation_time: float     # seconds; stamp of the image the chunk was computed from
    dt: float                   # seconds between actions
    actions: np.ndarray         # (horizon, action_dim)
    n_execute: int              # leading actions meant to be executed

    @property
    def end_time(self):
        """Time after which this chunk has nothing executable left."""
        return self.observation_time + self.n_execute * self.dt

    def action_at(self, t):
        """Action for time ``t`` (nearest step at or before t), or None outside the window."""
        index = int(math.floor((t - self.observation_time) / self.dt + STEP_TOLERANCE))
        if index < 0 or index >= self.n_execute:
            return None
        return self.actions[index]


def validate_chunk(observation_time, dt, actions, n_execute, action_dim=None):
    """Build a Chunk, raising ValueError naming the bad field and value."""
    actions = np.asarray(actions, dtype=np.float64)
    if not math.isfinite(observation_time) or observation_time < 0:
        raise ValueError(f'observation_stamp is {observation_time!r}; expected time >= 0')
    if not math.isfinite(dt) or not 0 < dt <= 10:
        raise ValueError(f'dt is {dt!r}; expected 0 < dt <= 10 seconds')
    if actions.ndim != 2 or actions.shape[0] == 0:
        raise ValueError(f'actions has shape {actions.shape}; expected (horizon>0, action_dim)')
    if action_dim is not None and actions.shape[1] != action_dim:
        raise ValueError(f'action_dim is {actions.shape[1]}; this executor needs {action_dim}')
    if not np.all(np.isfinite(actions)):
        bad = np.argwhere(~np.isfinite(actions))[0]
        raise ValueError(f'actions[{bad[0]}, {bad[1]}] is {float(actions[tuple(bad)])!r}; '
                         'expected finite numbers')
    if not 0 < n_execute <= actions.shape[0]:
        raise ValueError(f'n_execute is {n_execute}; expected 1..{actions.shape[0]}')
    return Chunk(float(observation_time), float(dt), actions, int(n_execute))


class ActionQueue:
    """Newest-chunk-wins action source with seam blending and late-chunk dropping."""

    def __init__(self, max_age_s=0.5, blend_steps=2):
        if max_age_s <= 0:
            raise ValueError(f'max_age_s is {max_age_s!r}; expected > 0')
        if blend_steps < 0:
            raise ValueError(f'blend_steps is {blend_steps!r}; expected >= 0')
        self.max_age_s = max_age_s
        self.blend_steps = blend_steps
        self.current = None
        self.previous = None
        self.dropped_late = 0
        self.accepted = 0

    def clear(self):
        self.current = None
        self.previous = None

    def push(self, chunk, now):
        """Offer a chunk at control time ``now``; return False if it was dropped as late."""
        too_old = now - chunk.observation_time > self.max_age_s
        passed = chunk.end_time <= now
        older_than_current = (self.current is not None
                              and chunk.observation_time <= self.current.observation_time)
        if too_old or passed or older_than_current:
            self.dropped_late += 1
            return False
        self.previous = self.current
        self.current = chunk
        self.accepted += 1
        return True

    def action_at(self, t):
        """Blended action for control time ``t``, or None when no chunk covers it."""
        if self.current is None:
            return None
        new = self.current.action_at(t)
        if new is None:
            # before the new chunk's first step, the previous chunk may still cover t
            old = self.previous.action_at(t) if self.previous is not None else None
            return None if old is None else old.copy()
        if self.previous is None or self.blend_steps == 0:
            return new.copy()
        old = self.previous.action_at(t)
        if old is None:
            return new.copy()
        steps_in = (t - self.current.observation_time) / self.current.dt
        weight = min(1.0, (steps_in + 1.0) / (self.blend_steps + 1.0))
        return (1.0 - weight) * old + weight * new
