"""make_env contract: observation keys and shapes, frozen arm in the cue, experts succeed,
bad input is refused with the name of the field."""

import numpy as np
import pytest

import sim
from sim.dataset import OBJECT_DIM, PROPRIO_DIM
from sim.experts import make_expert


def run_expert(env):
    obs, info, done = env.reset(), None, False
    expert = make_expert(env)
    while not done:
        obs, done, info = env.step(expert(obs, info))
    return env.success()


@pytest.mark.parametrize('task', sorted(sim.TASKS))
def test_expert_solves_a_few_seeds(task):
    for seed in range(3):
        env = sim.make_env(task, seed, render=False)
        assert run_expert(env), (task, seed, env.task.hidden())


def test_observation_contract_and_frozen_cue():
    env = sim.make_env('shell_game', 0, image_size=32)
    obs = env.reset()
    assert set(obs) == {'rgb', 'wrist_rgb', 'proprio', 'objects', 'phase'}
    assert obs['rgb'].shape == (32, 32, 3) and obs['rgb'].dtype == np.uint8
    assert obs['wrist_rgb'].shape == (32, 32, 3)
    assert obs['proprio'].shape == (PROPRIO_DIM,)
    assert obs['objects'].shape == (len(env.slot_names), OBJECT_DIM)
    assert int(obs['phase']) == 0
    start = obs['proprio'].copy()
    obs, done, info = env.step([0.6, 0.3, 0.05, 1.0, 1.0])  # ignored: the arm is frozen
    np.testing.assert_allclose(obs['proprio'], start, atol=2e-3)
    assert not done and info['phase'] == 0
    assert env.max_steps > env.task.cue_steps + env.task.delay_steps


def test_arm_follows_end_effector_targets():
    env = sim.make_env('count', 0, render=False, delay_s=2.0)
    env.reset()
    while env.phase() == 0:
        env.step([0.3, 0.0, 0.3, 0.0, 0.0])
    target = np.array([0.5, -0.2, 0.12, 0.7])
    for _ in range(20):
        obs, _, _ = env.step([*target, 0.0])
    np.testing.assert_allclose(obs['proprio'][-4:-1], target[:3], atol=4e-3)
    assert abs(obs['proprio'][-1] - target[3]) < 0.03


def test_bad_inputs_are_refused_with_names():
    with pytest.raises(ValueError, match='task'):
        sim.make_env('juggling', 0)
    with pytest.raises(ValueError, match='mode'):
        sim.make_env('count', 0, mode='psychic')
    with pytest.raises(ValueError, match='num_cups'):
        sim.make_env('shell_game', 0, num_cups=9)
    with pytest.raises(ValueError, match='delay_s'):
        sim.make_env('shell_game', 0, delay_s=0.5)
    with pytest.raises(ValueError, match='unknown knob'):
        sim.make_env('count', 0, colour='red')
    env = sim.make_env('count', 0, render=False)
    env.reset()
    with pytest.raises(ValueError, match='action'):
        env.step([0.1, 0.2])
