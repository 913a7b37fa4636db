"""The synthetic memory task: the expert solves it, the cue is hidden after the cue phase."""

import numpy as np
import pytest

from models.synthetic import SyntheticCupsEnv, expert_action, record_episode


def test_expert_succeeds_and_schema():
    for seed in range(5):
        ep = record_episode(seed)
        assert ep['success']
        t = ep['action'].shape[0]
        assert ep['rgb'].shape == (t, 64, 64, 3) and ep['rgb'].dtype == np.uint8
        assert ep['objects'].shape[0] == t and ep['phase'].dtype == np.int8


def test_cue_hidden_in_memory_mode_and_shown_in_oracle_mode():
    ep = record_episode(3, 'memory')
    lit = ep['objects'][:, :, 7]
    cue = ep['phase'] == 0
    assert lit[cue].sum(1).tolist() == [1.0] * int(cue.sum())
    assert lit[~cue].sum() == 0.0
    # the images after the cue are identical whichever cup was the answer: same seed layout
    oracle = record_episode(3, 'oracle')
    assert oracle['objects'][:, :, 7][~cue].sum() == float((~cue).sum())


def test_wrong_cup_fails_and_bad_action_is_refused():
    env = SyntheticCupsEnv(seed=0)
    env.target = (env.target + 1) % env.num_cups  # the expert now goes to another cup
    env.reset()
    for _ in range(env.max_steps):
        env.step(expert_action(env))
    env.target = (env.target - 1) % env.num_cups
    assert not env.success()
    with pytest.raises(ValueError, match='action'):
        env.step(np.zeros(4))
