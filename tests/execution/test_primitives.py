"""Motion primitives: shape and speed of the paths, and that they really lift a cup and press
a button in MuJoCo when given points a camera could measure (the object's top)."""

import numpy as np
import pytest

from memory_nodes.execution.primitives import PRIMITIVES, PrimitiveConfig, plan_primitive

HOME = (0.32, 0.0, 0.30)


def test_lift_path_closes_at_the_target_and_rises_within_the_speed_limit():
    config = PrimitiveConfig()
    target = np.array([0.5, 0.1, 0.088])
    actions = plan_primitive('lift', target, HOME, config)
    assert actions.shape[1] == 5
    steps = np.linalg.norm(np.diff(actions[:, :3], axis=0), axis=1)
    assert steps.max() <= config.speed * config.dt + 1e-9
    first_closed = int(np.argmax(actions[:, 4] > 0.5))
    assert np.allclose(actions[first_closed, :3], target)
    assert np.allclose(actions[first_closed - 1, :3], target)  # arrived open, then closed
    assert np.allclose(actions[-1, :3], target + [0, 0, config.lift])
    assert np.all(actions[first_closed:, 4] == 1.0)


def test_bad_primitive_inputs_name_the_value():
    with pytest.raises(ValueError, match='wave'):
        plan_primitive('wave', (0.5, 0, 0.1), HOME)
    with pytest.raises(ValueError, match='not finite'):
        plan_primitive('press', (0.5, float('nan'), 0.1), HOME)
    with pytest.raises(ValueError, match='speed'):
        PrimitiveConfig(speed=0.0)
    assert {'lift', 'press', 'place', 'pick'} <= set(PRIMITIVES)


def _act_phase(env):
    from sim.arm import HOME_POSE
    env.reset()
    hold = np.array([*HOME_POSE, 0.0])
    while env.phase() != 2:
        env.step(hold)


def _run(env, actions):
    for a in actions:
        _, done, _ = env.step(a)
        if done:
            break


def test_lift_primitive_lifts_the_cup_in_mujoco():
    from sim import make_env
    env = make_env('shell_game', seed=3, mode='oracle', num_swaps=0, delay_s=2.0)
    try:
        _act_phase(env)
        cup = env.task.cups[env.task.ball_cup]
        top = env.obj_pos(cup) + np.array([0, 0, env.objects[cup].top_height])
        _run(env, plan_primitive('lift', top - [0, 0, 0.012], env.pinch()))
        assert env.task.lifted == cup
        assert env.success()
    finally:
        env.close()


def test_press_primitive_presses_the_button_once_in_mujoco():
    from sim import make_env
    env = make_env('count', seed=1, mode='oracle', delay_s=2.0)
    try:
        _act_phase(env)
        p = env.obj_pos('count_button')
        top = p + np.array([0, 0, env.objects['count_button'].top_height])
        _run(env, plan_primitive('press', top, env.pinch()))
        assert env.task.count == 1
    finally:
        env.close()


def test_pull_and_push_paths_slide_along_x_holding_the_knob():
    config = PrimitiveConfig()
    knob = np.array([0.585, 0.08, 0.058])
    for verb, sign in (('pull', -1.0), ('push', 1.0)):
        actions = plan_primitive(verb, knob, HOME, config)
        steps = np.linalg.norm(np.diff(actions[:, :3], axis=0), axis=1)
        assert steps.max() <= config.speed * config.dt + 1e-9
        closed = actions[actions[:, 4] > 0.5]
        assert np.allclose(closed[0, :3], knob)  # closes on the knob
        assert np.allclose(closed[-1, :3], knob + [sign * config.drawer_travel, 0, 0])
        assert np.allclose(closed[:, 1:3], knob[1:])  # holding it, moves along x only
        assert actions[-1, 2] > knob[2] + 0.05  # backs off upwards, open
        assert actions[-1, 4] == 0.0
    with pytest.raises(ValueError, match='drawer_travel'):
        PrimitiveConfig(drawer_travel=-0.1)


def _knob_seen(env, drawer):
    """The knob's centre as perception gives it: top of the knob box minus half its height."""
    p = env.obj_pos(drawer)
    return p + np.array([-0.075, 0.0, 0.07 - 0.012])


def test_pull_opens_and_push_closes_the_put_back_drawer_in_mujoco():
    from sim import make_env
    env = make_env('put_back', seed=2, mode='oracle', distractor='drawer', delay_s=2.0)
    try:
        _act_phase(env)
        _run(env, plan_primitive('pull', _knob_seen(env, 'drawer'), env.pinch()))
        assert env.drawer_opening('drawer') > 0.08
        assert env.attached is None
        _run(env, plan_primitive('push', _knob_seen(env, 'drawer'), env.pinch()))
        assert env.drawer_opening('drawer') < 0.01
        assert env.attached is None
    finally:
        env.close()


def test_pull_opens_the_chosen_drawer_first_in_mujoco():
    from sim import make_env
    env = make_env('where_did_i_leave_it', seed=7, mode='memory', stage='probe')
    try:
        _act_phase(env)
        right = env.task.drawers[env.task.drawer_index]
        _run(env, plan_primitive('pull', _knob_seen(env, right), env.pinch()))
        assert env.task.opened == [right]
        assert env.success()
    finally:
        env.close()
