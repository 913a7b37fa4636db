"""Cue animations move objects continuously: no jumps at swap or move boundaries.

A policy (and the preprocessor's tracker) follows the cups by their motion; a cup that
teleports between two control steps breaks tracking and makes the shell game unfair. Each
test drives the task's real animation on a real env (no physics needed: the cue objects are
mocap bodies moved only by `animate`) over every difficulty and many seeds, and bounds the
displacement of every animated object between consecutive control steps by the speed the
animation is designed to have.
"""

import numpy as np
import pytest

import sim
from sim.tasks import moved_while_watched as mww
from sim.tasks import shell_game as sg


def _trajectory(env, names):
    """Positions (steps, objects, 3) of `names` through the cue and one step past it."""
    env.reset()
    out = []
    for step in range(env.task.cue_steps + 2):
        env.task.animate(env, step)
        out.append([env.obj_pos(n) for n in names])
    return np.array(out)


def _largest_jump(traj):
    """(metres, step, object index) of the largest displacement between consecutive steps."""
    d = np.linalg.norm(np.diff(traj, axis=0), axis=2)  # (steps - 1, objects)
    step, obj = np.unravel_index(np.argmax(d), d.shape)
    return float(d[step, obj]), int(step), int(obj)


def _shell_game_speed_bound(num_cups, swap_steps):
    """Most a cup may move in one control step: along the row the longest swap runs at
    (N - 1) pitches per swap; sideways the smoothstep ramp adds at most 1.5 x its slope
    (SWAP_BULGE / SWAP_RAMP) per metre along the row. Or the cover's lowering step."""
    along = (num_cups - 1) * sg.CUP_PITCH / swap_steps
    slope = 1.5 * sg.SWAP_BULGE / sg.SWAP_RAMP
    return max(along * np.hypot(1.0, slope), 0.12 / sg.LOWER_STEPS) + 1e-9


@pytest.mark.parametrize('num_cups', [3, 4, 5])
@pytest.mark.parametrize('num_swaps', range(7))
def test_shell_game_cups_move_continuously(num_cups, num_swaps, seeds=range(4)):
    for seed in seeds:
        for mode in ('memory', 'cue_visible'):
            env = sim.make_env('shell_game', seed, mode, num_cups=num_cups,
                               num_swaps=num_swaps, render=False)
            task = env.task
            names = [*task.cups, 'ball'] + (['cue_marker'] if mode == 'cue_visible' else [])
            traj = _trajectory(env, names)
            bound = _shell_game_speed_bound(num_cups, task.swap_steps)
            assert bound < sg.CUP_PITCH  # a jump to a neighbouring place would be caught
            jump, step, obj = _largest_jump(traj)
            assert jump <= bound, (
                f'seed {seed} N={num_cups} k={num_swaps} {mode}: {names[obj]} moved '
                f'{jump * 100:.1f} cm between steps {step} and {step + 1} (swaps {task.swaps})')
            # The ball stays under its cup at every step.
            ball_cup = traj[:, task.ball_cup, :2]
            assert np.allclose(traj[:, len(task.cups), :2], ball_cup)
            # After the last swap the cups stand on the start places, permuted as the swaps say.
            places = list(range(num_cups))
            for a, b in task.swaps:
                places[a], places[b] = places[b], places[a]
            end = traj[-1, :num_cups]
            want = np.array([task.start[p] for p in places])
            np.testing.assert_allclose(end, want, atol=1e-9)


def test_shell_game_cup_paths_over_many_seeds():
    """The cup paths alone (the task's own function, no env), 40 seeds of every N and k:
    bounded steps, no intersection, the right final places."""
    for num_cups in (3, 4, 5):
        for num_swaps in range(7):
            for seed in range(40):
                task = sg.ShellGame(seed, num_cups=num_cups, num_swaps=num_swaps)
                traj = np.array([task._cup_positions(step)
                                 for step in range(task.cue_steps + 2)])  # (T, N, 3)
                jump, step, cup = _largest_jump(traj)
                assert jump <= _shell_game_speed_bound(num_cups, task.swap_steps), (
                    seed, num_cups, num_swaps, step, cup, jump)
                gaps = np.linalg.norm(traj[:, :, None, :2] - traj[:, None, :, :2], axis=3)
                gaps[:, np.arange(num_cups), np.arange(num_cups)] = np.inf
                assert gaps.min() >= 2 * sg.CUP_RADIUS + 0.005, (seed, num_cups, num_swaps)
                places = list(range(num_cups))
                for a, b in task.swaps:
                    places[a], places[b] = places[b], places[a]
                np.testing.assert_allclose(traj[-1], [task.start[p] for p in places])


@pytest.mark.slow
def test_shell_game_cups_move_continuously_many_seeds():
    for num_cups in (3, 4, 5):
        for num_swaps in range(7):
            test_shell_game_cups_move_continuously(num_cups, num_swaps, seeds=range(4, 104))


@pytest.mark.parametrize('num_cups', [3, 4, 5])
def test_shell_game_cups_never_intersect(num_cups):
    """Swapping cups pass each other and the cups standing between their places with room
    to spare, also between control steps (quarter steps checked)."""
    for num_swaps in (1, 3, 6):
        for seed in range(10):
            env = sim.make_env('shell_game', seed, num_cups=num_cups, num_swaps=num_swaps,
                               render=False)
            assert env.model.geom('cup0/body').size[0] == sg.CUP_RADIUS
            task = env.task
            for step in np.arange(0.0, task.cue_steps + 1, 0.25):
                xy = np.array(task._cup_positions(step))[:, :2]
                gaps = np.linalg.norm(xy[:, None] - xy[None], axis=2)
                gaps[np.diag_indices(num_cups)] = np.inf
                assert gaps.min() >= 2 * sg.CUP_RADIUS + 0.005, (
                    f'seed {seed} N={num_cups} k={num_swaps} step {step}: cups '
                    f'{np.unravel_index(np.argmin(gaps), gaps.shape)} {gaps.min():.3f} m apart')


def test_shell_game_swaps_at_visible_speed_keep_every_cup_still_between_its_swaps():
    """Cups not in the running swap stand still; the two in it both move."""
    env = sim.make_env('shell_game', 5, num_cups=5, num_swaps=6, render=False)
    task = env.task
    traj = _trajectory(env, task.cups)[:, :, :2]
    first = sg.SHOW_STEPS + sg.LOWER_STEPS
    for k, (a, b) in enumerate(task.swaps):
        for step in range(first + k * task.swap_steps, first + (k + 1) * task.swap_steps):
            moved = np.linalg.norm(traj[step + 1] - traj[step], axis=1) > 1e-12
            assert set(np.flatnonzero(moved)) == {a, b}, (k, step, task.swaps)


def test_shell_game_stepped_env_follows_the_same_continuous_animation():
    """Through env.step (physics and all), the cups seen in the observations never jump."""
    env = sim.make_env('shell_game', 11, num_cups=4, num_swaps=6, render=False)
    obs = env.reset()
    cups = [env.slot_names.index(c) for c in env.task.cups]
    seen = [obs['objects'][cups, 1:4]]
    hold = np.array([0.3, 0.0, 0.3, 0.0, 0.0], dtype=np.float32)
    while env.phase() == 0:
        obs, _, _ = env.step(hold)
        seen.append(obs['objects'][cups, 1:4])
    traj = np.array(seen, dtype=float)
    jump, step, obj = _largest_jump(traj)
    assert jump <= _shell_game_speed_bound(4, env.task.swap_steps), (jump, step, obj)


@pytest.mark.parametrize('num_moves', range(5))
def test_moved_while_watched_objects_move_continuously(num_moves):
    bound = max(2 * mww.CUP_PITCH / mww.SLIDE_STEPS, 0.12 / mww.RAISE_STEPS)
    assert bound < mww.CUP_PITCH
    for seed in range(6):
        for mode in ('memory', 'cue_visible'):
            env = sim.make_env('moved_while_watched', seed, mode, num_moves=num_moves,
                               render=False)
            names = [*env.task.cups, 'ball'] + (['cue_marker'] if mode == 'cue_visible'
                                                 else [])
            traj = _trajectory(env, names)
            jump, step, obj = _largest_jump(traj)
            assert jump <= bound + 1e-9, (
                f'seed {seed} moves {num_moves} {mode}: {names[obj]} moved '
                f'{jump * 100:.1f} cm between steps {step} and {step + 1}')
            np.testing.assert_allclose(traj[-1, 3], env.task.cup_pos[env.task.path[-1]])
