"""act_chunk: the asynchronous consumer's step (the ROS action-expert node) returns a whole
chunk on the planning steps (every replan_every steps, as select_action plans) and None
between, and writes the bank on the same schedule as select_action."""

import numpy as np
import pytest

from models.policy import MemoryDiffusionPolicy
from models.synthetic import SyntheticCupsEnv
from tests.models.test_policy import TEXT, fitted_net


@pytest.mark.parametrize('replan_every, planned', [(1, list(range(9))), (4, [0, 4, 8])])
def test_act_chunk_plans_every_replan_every_steps_and_writes_the_bank_on_schedule(
        synthetic_episodes, replan_every, planned):
    net = fitted_net(synthetic_episodes)
    env = SyntheticCupsEnv(seed=51)
    for memory in (True, False):
        policy = MemoryDiffusionPolicy(net, device='cpu', memory=memory, seed=0,
                                       replan_every=replan_every)
        policy.reset(text_embedding=TEXT)
        obs, steps, action = env.reset(), [], None
        for step in range(9):
            chunk = policy.act_chunk(obs)
            if chunk is not None:
                assert chunk.shape == (1, 16, 5) and np.all(np.isfinite(chunk))
                steps.append(step)
                action = chunk[0, 0]
            obs, _, _ = env.step(action)
        assert steps == planned
        assert policy.step == 9
        assert len(policy.bank) == (3 if memory else 0)  # steps 0, 4, 8


def test_act_chunk_plans_the_chunk_select_action_queues(synthetic_episodes):
    """Same seed, same observations: the chunk act_chunk returns on a planning step starts
    with the actions select_action runs until its next plan."""
    net = fitted_net(synthetic_episodes)
    env = SyntheticCupsEnv(seed=52)
    stepwise = MemoryDiffusionPolicy(net, device='cpu', seed=3, replan_every=4)
    chunked = MemoryDiffusionPolicy(net, device='cpu', seed=3, replan_every=4)
    for policy in (stepwise, chunked):
        policy.reset(text_embedding=TEXT)
    obs = env.reset()
    for step in range(8):
        action = stepwise.select_action(obs)
        chunk = chunked.act_chunk(obs)
        if step % 4 == 0:
            first = chunk[0]
        np.testing.assert_allclose(action, first[step % 4], rtol=1e-5, atol=1e-6)
        obs, _, _ = env.step(action)
    assert len(stepwise.bank) == len(chunked.bank)
