"""Training batches: causal keyframes and the act-phase share of query steps."""

import numpy as np
import pytest

from models.episodes import SequenceBatcher


def batcher(episodes, **kwargs) -> SequenceBatcher:
    text = {e.instruction: np.zeros(384, np.float32) for e in episodes}
    return SequenceBatcher(episodes, text, ('rgb',), 3, 16, 4, queries=8, seed=1, **kwargs)


def test_act_fraction_draws_queries_where_the_answer_is_used(synthetic_episodes):
    uniform = batcher(synthetic_episodes).sample(16)
    focused = batcher(synthetic_episodes, act_fraction=1.0).sample(16)
    # every focused query lies in the act phase or within one chunk (16 steps) before it
    act_start = min(int(np.flatnonzero(e.phase == 2)[0]) for e in synthetic_episodes)
    assert focused['query_step'].min() >= act_start - 16
    # the uniform draw does reach the cue (steps 0-5), so the check above can fail
    assert uniform['query_step'].min() < act_start - 16
    # keyframes are the bank writes strictly before the latest query
    valid = focused['key_valid'].numpy()
    key_step = focused['key_step'].numpy()
    assert np.all(key_step[valid] % 4 == 0)
    latest = focused['query_step'].numpy().max(1)
    assert np.all(np.where(valid, key_step, -1).max(1) < latest)


def test_bad_act_fraction_is_refused(synthetic_episodes):
    with pytest.raises(ValueError, match='act_fraction=1.5'):
        batcher(synthetic_episodes, act_fraction=1.5)


def test_permute_slots_moves_every_step_and_the_grasped_slot_together(synthetic_episodes):
    """One permutation per sampled episode: its queries, its bank and its pointer target are
    shuffled alike, and different episodes get different orders."""
    from models.episodes import goal_slot

    plain = batcher(synthetic_episodes).sample(24)
    shuffled = batcher(synthetic_episodes, permute_slots=True).sample(24)
    # same rng draws for episodes and steps: only the slot order differs
    assert np.array_equal(plain['query_step'], shuffled['query_step'])
    orders = set()
    for b in range(24):
        q0, q1 = plain['query_objects'][b].numpy(), shuffled['query_objects'][b].numpy()
        k0, k1 = plain['key_objects'][b].numpy(), shuffled['key_objects'][b].numpy()
        # the permutation that maps the plain slots onto the shuffled ones, from the keys
        # and queries stacked (slots are told apart by their whole history)
        h0 = np.concatenate([q0, k0]).transpose(1, 0, 2).reshape(3, -1)
        h1 = np.concatenate([q1, k1]).transpose(1, 0, 2).reshape(3, -1)
        order = [int(np.flatnonzero((h0 == row).all(1))[0]) for row in h1]
        assert sorted(order) == [0, 1, 2]
        assert np.array_equal(h1, h0[order])
        orders.add(tuple(order))
        target = int(plain['goal_slot'][b])
        assert target >= 0 and order[int(shuffled['goal_slot'][b])] == target
    assert len(orders) > 1
    assert goal_slot(synthetic_episodes[0]) >= 0
