"""Scripted motion primitives for subgoals that are plain motion (no ROS imports).

The planner sends subgoals such as ``lift`` a cup at a grasp point or ``press`` a button at
its cap; when the subgoal's verb is one of ``PRIMITIVES`` the executor runs it as a motion
primitive instead of waiting for the action expert. A primitive is a list of absolute
actions ``[x, y, z, yaw, gripper]`` (gripper 0 open, 1 closed) at the control rate: straight
segments through waypoints at a bounded speed, with dwell steps where the gripper closes or
opens so that a lagging arm arrives before it acts. The list becomes one time-indexed chunk of
the executor's ``ActionQueue``, so it goes through the same workspace and speed limits as
the action expert's chunks.

Only the subgoal's target point is used, never privileged simulator state: the planner
derives that point from perception and memory.
"""

from dataclasses import dataclass
import math

import numpy as np

OPEN, CLOSED = 0.0, 1.0
MAX_REACH_M = 10.0  # farthest target a primitive goes to from where the arm is


@dataclass(frozen=True)
class PrimitiveConfig:
    """Geometry and timing of the primitives."""

    speed: float = 0.3             # m/s along straight segments
    dt: float = 0.1                # s between actions (the control period)
    hover: float = 0.14            # m above a grasp or press point to approach from
    lift: float = 0.16             # m to raise a grasped object
    dwell_steps: int = 4           # steps to wait at a point before the gripper acts
    press_depth: float = 0.011     # m to push a button cap down
    fingertip: float = 0.015       # m the closed fingertips reach below the pinch point
    yaw: float = 0.0               # rad, gripper yaw for every primitive
    drawer_travel: float = 0.09    # m a pull opens a drawer (and a push closes it)
    knob_hover: float = 0.1        # m above a drawer knob to approach it from

    def __post_init__(self):
        for name in ('speed', 'dt', 'hover', 'lift', 'drawer_travel', 'knob_hover'):
            value = getattr(self, name)
            if not (math.isfinite(value) and value > 0):
                raise ValueError(f'PrimitiveConfig.{name} is {value!r}; expected > 0')
        if self.dwell_steps < 0:
            raise ValueError(f'PrimitiveConfig.dwell_steps is {self.dwell_steps}; expected >= 0')


def _segment(start, end, grip, config):
    """Actions moving from pose ``start`` to ``end`` (x, y, z) at ``config.speed``."""
    start, end = np.asarray(start, float), np.asarray(end, float)
    distance = float(np.linalg.norm(end - start))
    steps = max(1, int(math.ceil(distance / (config.speed * config.dt))))
    return [np.array([*(start + (end - start) * (i / steps)), config.yaw, grip])
            for i in range(1, steps + 1)]


def _dwell(point, grip, steps, config):
    return [np.array([*point, config.yaw, grip]) for _ in range(steps)]


def _path(start, waypoints, config):
    """Follow ``waypoints`` [(xyz, grip, dwell_steps)] from ``start`` (xyz)."""
    actions, here = [], np.asarray(start, float)
    for point, grip, dwell in waypoints:
        point = np.asarray(point, float)
        actions += _segment(here, point, grip, config)
        actions += _dwell(point, grip, dwell, config)
        here = point
    return actions


def _up(point, height):
    return np.asarray(point, float) + np.array([0.0, 0.0, height])


def plan_primitive(action, target, start, config=PrimitiveConfig()):
    """Actions (N, 5) for subgoal verb ``action`` at ``target`` (xyz) from ``start`` (xyz).

    Verbs: ``lift``/``pick`` (grasp at target, raise), ``touch`` (the same), ``press``
    (push the cap whose top is at target), ``place`` (lower the held object to target,
    open, back off), ``pull`` / ``push`` (grasp the drawer knob at target, slide it
    ``drawer_travel`` towards -x / +x, let go, back off upwards), ``move_to`` (go there with
    the gripper as it is), ``release``.
    """
    if action not in PRIMITIVES:
        raise ValueError(f'subgoal action {action!r} is not a motion primitive '
                         f'(known: {sorted(PRIMITIVES)})')
    target = np.asarray(target, float).reshape(3)
    start = np.asarray(start, float).reshape(3)
    if not (np.all(np.isfinite(target)) and np.all(np.isfinite(start))):
        raise ValueError(f'primitive {action!r}: target {target.tolist()} / start '
                         f'{start.tolist()} not finite')
    reach = float(np.linalg.norm(target - start))
    if not reach <= MAX_REACH_M:  # a far target would be millions of waypoints
        raise ValueError(f'primitive {action!r}: target {target.tolist()} is {reach:.3g} m '
                         f'from the start {start.tolist()}; the limit is {MAX_REACH_M} m')
    return np.asarray(PRIMITIVES[action](target, start, config), dtype=np.float64)


def _lift(target, start, c):
    above = _up(target, c.hover)
    return _path(start, [(_up(start, 0.0), OPEN, 0), (above, OPEN, 0),
                         (target, OPEN, c.dwell_steps), (target, CLOSED, c.dwell_steps),
                         (_up(target, c.lift), CLOSED, c.dwell_steps)], c)


def _press(target, start, c):
    above = _up(target, c.hover)
    bottom = _up(target, c.fingertip - c.press_depth)
    return _path(start, [(above, CLOSED, 0), (bottom, CLOSED, c.dwell_steps),
                         (above, CLOSED, 1)], c)


def _place(target, start, c):
    above = _up(target, c.hover)
    return _path(start, [(_up(start, 0.0), CLOSED, 0), (above, CLOSED, 0),
                         (target, CLOSED, c.dwell_steps), (target, OPEN, c.dwell_steps),
                         (above, OPEN, 0)], c)


def _slide(target, start, c, direction):
    """Grasp a drawer knob at ``target``, slide it along x by ``direction * drawer_travel``
    (drawers run along x), let go and rise."""
    above = _up(target, c.knob_hover)
    end = np.asarray(target, float) + np.array([direction * c.drawer_travel, 0.0, 0.0])
    return _path(start, [(_up(start, 0.0), OPEN, 0), (above, OPEN, 0),
                         (target, OPEN, c.dwell_steps), (target, CLOSED, c.dwell_steps),
                         (end, CLOSED, c.dwell_steps), (end, OPEN, c.dwell_steps),
                         (_up(end, c.knob_hover), OPEN, 0)], c)


def _pull(target, start, c):
    return _slide(target, start, c, -1.0)


def _push(target, start, c):
    return _slide(target, start, c, 1.0)


def _move_to(target, start, c):
    return _path(start, [(target, OPEN, c.dwell_steps)], c)


def _release(target, start, c):
    return _dwell(start, OPEN, max(1, c.dwell_steps), c)


PRIMITIVES = {
    'lift': _lift,
    'pick': _lift,
    'touch': _lift,
    'press': _press,
    'place': _place,
    'move_to': _move_to,
    'release': _release,
    'pull': _pull,
    'push': _push,
}
