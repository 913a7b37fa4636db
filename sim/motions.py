"""Motion primitives for the scripted experts: generators of [x, y, z, yaw, grip] actions.

Each primitive yields absolute gripper targets until the measured pinch point is there (or a
step budget runs out), so experts compose them with `yield from`. They read the env's
privileged state; they are for experts and demos, never for learned policies.
"""

from __future__ import annotations

import numpy as np

from sim.arm import HOME_POSE

OPEN, CLOSED = 0.0, 1.0
HOVER = 0.16  # m above a grasp point to approach from
TOLERANCE = 0.006  # m: the pinch point counts as arrived


def action(pose, grip: float) -> np.ndarray:
    return np.array([pose[0], pose[1], pose[2], pose[3], grip], dtype=np.float32)


def move_to(env, pose, grip: float, tol: float = TOLERANCE, max_steps: int = 40):
    pose = np.asarray(pose, dtype=float)
    for _ in range(max_steps):
        err = np.linalg.norm(env.pinch() - pose[:3])
        if err < tol and np.linalg.norm(env.ref_pose[:3] - pose[:3]) < 1e-6:
            return
        yield action(pose, grip)


def hold(env, steps: int, grip: float | None = None):
    g = env.grip if grip is None else grip
    for _ in range(steps):
        yield action(env.ref_pose.copy(), g)


def home(env, grip: float = OPEN):
    yield from move_to(env, HOME_POSE, grip, tol=0.02)


def wait_for_act(env):
    """Stay at home through the cue and the delay."""
    while env.phase() != 2:
        yield action(HOME_POSE, OPEN)


def grasp_point(env, name: str) -> np.ndarray:
    o = env.objects[name]
    p = env.obj_pos(name) + np.array([0.0, 0.0, o.grasp_height])
    if o.kind == 'drawer':
        p[0] -= 0.075
    return p


def pick(env, name: str, yaw: float = 0.0, lift: float = HOVER):
    g = grasp_point(env, name)
    yield from move_to(env, (g[0], g[1], g[2] + HOVER, yaw), OPEN, tol=0.015)
    yield from move_to(env, (g[0], g[1], g[2], yaw), OPEN, tol=0.004)
    yield from hold(env, 2, CLOSED)
    yield from move_to(env, (g[0], g[1], g[2] + lift, yaw), CLOSED, tol=0.015)


def place(env, name: str, xy, yaw: float = 0.0):
    """Put the held object down at xy on whatever supports it there."""
    o = env.objects[name]
    top, _ = env.support_height(name, xy)
    z = top + o.rest_height + o.grasp_height + 0.004
    yield from move_to(env, (xy[0], xy[1], z + HOVER, yaw), CLOSED, tol=0.015)
    yield from move_to(env, (xy[0], xy[1], z, yaw), CLOSED, tol=0.004)
    yield from hold(env, 1, OPEN)
    yield from move_to(env, (xy[0], xy[1], z + HOVER, yaw), OPEN, tol=0.015)


def press(env, button: str, depth: float = 0.011):
    """Push a button's cap down with the closed fingers and come back up."""
    p = env.obj_pos(button)
    top = p[2] + env.objects[button].top_height
    fingertip = 0.015  # fingertips reach this far below the pinch point
    yield from move_to(env, (p[0], p[1], top + 0.08, 0.0), CLOSED, tol=0.01)
    yield from move_to(env, (p[0], p[1], top + fingertip - depth, 0.0), CLOSED, tol=0.003,
                       max_steps=15)
    yield from hold(env, 1, CLOSED)
    yield from move_to(env, (p[0], p[1], top + 0.08, 0.0), CLOSED, tol=0.01)


def pull_drawer(env, drawer: str, amount: float):
    """Grasp a drawer's knob, pull it out by `amount` (m), let go and back off."""
    g = grasp_point(env, drawer)
    yield from move_to(env, (g[0], g[1], g[2] + 0.1, 0.0), OPEN, tol=0.015)
    yield from move_to(env, (g[0], g[1], g[2], 0.0), OPEN, tol=0.004)
    yield from hold(env, 2, CLOSED)
    yield from move_to(env, (g[0] - amount, g[1], g[2], 0.0), CLOSED, tol=0.004)
    yield from hold(env, 1, OPEN)
    yield from move_to(env, (g[0] - amount, g[1], g[2] + 0.1, 0.0), OPEN, tol=0.015)


def push_drawer(env, drawer: str):
    """Grasp the knob of an open drawer and push it closed."""
    g = grasp_point(env, drawer)
    closed_x = env.objects[drawer].pos[0] - 0.075
    yield from move_to(env, (g[0], g[1], g[2] + 0.1, 0.0), OPEN, tol=0.015)
    yield from move_to(env, (g[0], g[1], g[2], 0.0), OPEN, tol=0.004)
    yield from hold(env, 2, CLOSED)
    yield from move_to(env, (closed_x + 0.002, g[1], g[2], 0.0), CLOSED, tol=0.004)
    yield from hold(env, 1, OPEN)
    yield from move_to(env, (closed_x, g[1], g[2] + 0.1, 0.0), OPEN, tol=0.015)
