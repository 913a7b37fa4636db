"""MissedSlotHold: a slot missed for at most N steps shows its last features; a longer
absence, a slot never seen and N = 0 pass through; its state travels with the policy's."""

import numpy as np
import pytest

from models.slot_hold import MissedSlotHold
from tests.models.test_policy import TEXT, fitted_net


def step(*seen, k=3):
    """(1, k, 4) objects: slot i visible with position i + 1 when seen[i]."""
    objects = np.zeros((1, k, 4), np.float32)
    for i, s in enumerate(seen):
        if s:
            objects[0, i] = [1.0, i + 1.0, 0.5, 0.25]
    return objects


def test_a_brief_miss_is_bridged_a_longer_absence_is_not():
    hold = MissedSlotHold(batch=1, steps=2)
    assert np.array_equal(hold(step(1, 1, 0)), step(1, 1, 0))
    # slot 1 missed for two steps: shown as last seen; slot 2 never seen: stays empty
    assert np.array_equal(hold(step(1, 0, 0)), step(1, 1, 0))
    assert np.array_equal(hold(step(1, 0, 0)), step(1, 1, 0))
    # a third step in a row: the absence reaches the policy
    assert np.array_equal(hold(step(1, 0, 0)), step(1, 0, 0))
    # seen again, then missed once: bridged again, with the newest features
    again = step(1, 1, 0)
    again[0, 1, 1] = 7.0
    assert np.array_equal(hold(again), again)
    assert np.array_equal(hold(step(1, 0, 0)), again)
    hold.reset()
    assert np.array_equal(hold(step(1, 0, 0)), step(1, 0, 0))   # a new episode forgets


def test_zero_steps_passes_through_and_bad_values_are_refused():
    hold = MissedSlotHold(batch=1, steps=0)
    hold(step(1, 1, 1))
    assert np.array_equal(hold(step(0, 0, 0)), step(0, 0, 0))
    for bad in (-1, 1.5):
        with pytest.raises(ValueError, match=f'hold_missed_steps={bad!r}'):
            MissedSlotHold(batch=1, steps=bad)
    with pytest.raises(ValueError, match='expected'):
        MissedSlotHold(batch=2, steps=1)(step(1, 1, 1))


def test_the_policy_bridges_misses_and_saves_the_hold(synthetic_episodes):
    """The policy's object slots (what it encodes and stores) with the hold on: a slot
    missed for a step reads as last seen; the hold's state is part of the episode state."""
    from models.policy import MemoryDiffusionPolicy
    from models.synthetic import SyntheticCupsEnv

    net = fitted_net(synthetic_episodes)
    policy = MemoryDiffusionPolicy(net, device='cpu', seed=0, hold_missed_steps=1)
    policy.reset(text_embedding=TEXT)
    obs = SyntheticCupsEnv(seed=3).reset()
    seen = policy._objects(obs)
    missed = dict(obs, objects=np.array(obs['objects']))
    missed['objects'][0] = 0.0
    assert np.array_equal(policy._objects(missed), seen)
    state = policy.memory_state()
    assert 'slot_hold.last' in state
    other = MemoryDiffusionPolicy(net, device='cpu', seed=0, hold_missed_steps=1)
    other.reset(text_embedding=TEXT)
    other.load_memory_state(state)
    assert np.array_equal(other._objects(missed), policy._objects(missed))
    assert not other._objects(missed)[0, 0].any()   # the second miss in a row shows
