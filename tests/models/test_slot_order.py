"""The canonical object-slot order (models/slot_order.py): built offline from a whole
episode and online step by step, the same at every step, whatever order the source lists
the objects in; and a policy that uses it acts the same on any given order."""

import numpy as np
import pytest

from models.slot_order import FirstSeenSlots, first_seen_order


def episode_objects(seed=0, steps=20):
    """(T, 5, 10): two cups seen from step 0, a cube from step 3 (hidden at 9-12), another
    cube from step 7, one object never seen; invisible slots are all zeros."""
    rng = np.random.default_rng(seed)
    objects = np.zeros((steps, 5, 10), np.float32)
    seen = {0: range(0, steps), 1: range(0, steps), 2: [t for t in range(3, steps)
                                                        if not 9 <= t <= 12],
            3: range(7, steps)}
    cls = {0: 0.2, 1: 0.2, 2: 0.1, 3: 0.1}
    for k, ts in seen.items():
        for t in ts:
            objects[t, k] = [1.0, *rng.uniform(0.2, 0.6, 3), *rng.uniform(0, 1, 3), 0.0,
                             cls[k], 0.0]
    objects[:, 1, 2] = objects[:, 0, 2] + 0.12  # cup 1 stands right of cup 0 (larger y)
    return objects


def test_order_is_first_sight_then_class_then_place():
    objects = episode_objects()
    order = first_seen_order(objects)
    # step 0: the two cups (same class) by y; then the cube of step 3, the cube of step 7;
    # the never-seen slot last
    assert order.tolist() == [0, 1, 2, 3, 4]
    objects[:, [0, 1]] = objects[:, [1, 0]]
    assert first_seen_order(objects).tolist() == [1, 0, 2, 3, 4]


@pytest.mark.parametrize('seed', [0, 1, 2])
def test_offline_and_online_agree_whatever_the_given_order(seed):
    objects = episode_objects(seed)
    reference = objects[:, first_seen_order(objects)]
    rng = np.random.default_rng(seed)
    for _ in range(4):
        given = objects[:, rng.permutation(5)]
        offline = given[:, first_seen_order(given)]
        assert np.array_equal(offline, reference)  # the given order does not matter
        online = FirstSeenSlots(batch=1)
        for t in range(len(given)):
            assert np.array_equal(online(given[t][None])[0], offline[t])
    online.reset()
    assert online.state().tolist() == [[-1]]


def test_online_state_round_trip_and_batch_check():
    objects = episode_objects()
    slots = FirstSeenSlots(batch=2)
    for t in range(8):
        slots(np.stack([objects[t], objects[t][::-1]]))
    copy = FirstSeenSlots(batch=2)
    copy.load_state(slots.state())
    assert copy.placed == slots.placed == [[0, 1, 2, 3], [4, 3, 2, 1]]
    with pytest.raises(ValueError, match='batch 1, expected 2'):
        slots(objects[:1])
