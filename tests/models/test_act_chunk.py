"""act_chunk: the asynchronous consumer's step (the ROS action-expert node) returns a whole
chunk each control step and writes the bank on the same schedule as select_action."""

import numpy as np

from models.policy import MemoryDiffusionPolicy
from models.synthetic import SyntheticCupsEnv
from tests.models.test_policy import TEXT, fitted_net


def test_act_chunk_returns_chunks_and_writes_the_bank_on_schedule(synthetic_episodes):
    net = fitted_net(synthetic_episodes)
    env = SyntheticCupsEnv(seed=51)
    for memory in (True, False):
        policy = MemoryDiffusionPolicy(net, device='cpu', memory=memory, seed=0)
        policy.reset(text_embedding=TEXT)
        obs = env.reset()
        for _ in range(9):
            chunk = policy.act_chunk(obs)
            assert chunk.shape == (1, 16, 5) and np.all(np.isfinite(chunk))
            obs, _, _ = env.step(chunk[0, 0])
        assert policy.step == 9
        assert len(policy.bank) == (3 if memory else 0)  # steps 0, 4, 8
