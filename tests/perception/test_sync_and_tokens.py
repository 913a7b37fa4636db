"""Approximate-time pairing and the token stage."""

import numpy as np
import pytest

from memory_nodes.perception.objects import ObjectMeasurement
from memory_nodes.perception.sync import ApproximateTimeSync
from memory_nodes.perception.tokens import (
    OBJECT_FEATURE_NAMES,
    ObjectFeatureTokens,
    TokenInputs,
    check_tokens,
    load_token_encoder,
)
from memory_nodes.perception.tracking import ObjectTracker


def test_sync_pairs_by_nearest_stamp_within_slop():
    sync = ApproximateTimeSync(('color', 'depth', 'seg'), slop_s=0.01)
    assert sync.add('color', 1.000, 'c1') is None
    assert sync.add('depth', 1.004, 'd1') is None
    assert sync.add('color', 1.100, 'c2') is None
    assert sync.add('seg', 0.998, 's1') == {'color': 'c1', 'depth': 'd1', 'seg': 's1'}
    # c1/d1/s1 are used up; c2 waits for its partners
    assert sync.add('depth', 1.103, 'd2') is None
    assert sync.add('seg', 1.2, 's-late') is None  # too far from everything
    assert sync.add('seg', 1.099, 's2') == {'color': 'c2', 'depth': 'd2', 'seg': 's2'}


def test_sync_drops_old_items_from_full_queues():
    sync = ApproximateTimeSync(('a', 'b'), slop_s=0.0, queue_size=2)
    for i in range(5):
        sync.add('a', float(i), i)
    assert sync.dropped == 3
    assert sync.add('b', 0.0, 'old') is None  # stamp 0 fell out of the queue
    assert sync.add('b', 4.0, 'x') == {'a': 4, 'b': 'x'}


def test_sync_rejects_bad_input():
    with pytest.raises(ValueError, match='stream is'):
        ApproximateTimeSync(('a', 'b')).add('c', 0.0, None)
    with pytest.raises(ValueError, match='a stamp is nan'):
        ApproximateTimeSync(('a', 'b')).add('a', float('nan'), None)
    with pytest.raises(ValueError, match='streams is'):
        ApproximateTimeSync(('a',))


def _tracks():
    tracker = ObjectTracker()

    def measure(rgb_button):
        return [ObjectMeasurement(instance_id=i, label=label, class_index=ci,
                                  rgb=np.array(rgb), color='', position=np.array(pos),
                                  covariance=np.eye(3) * 1e-5, extent=np.full(3, 0.05),
                                  num_points=50, pixel_count=60, confidence=0.9,
                                  brightness=max(rgb), lightable=label == 'button')
                for i, (label, ci, rgb, pos) in enumerate([
                    ('cube', 0, (0.9, 0.1, 0.1), (0.4, 0.1, 0.02)),
                    ('button', 2, rgb_button, (0.5, -0.1, 0.01))], start=1)]

    tracker.update(measure((0.08, 0.36, 0.08)), 0.0)  # the button dark ...
    return tracker.update(measure((0.2, 0.9, 0.2))[1:], 0.1)  # ... then lit; the cube unseen


def test_object_feature_tokens_follow_the_contract():
    assert OBJECT_FEATURE_NAMES[:4] == ('visible', 'x', 'y', 'z')
    encoder = ObjectFeatureTokens(object_slots=3, num_classes=4)
    tracks = _tracks()
    perceptual, cognitive = encoder.encode(TokenInputs(0.1, np.zeros((2, 2, 3), np.uint8),
                                                       tracks))
    dim = len(OBJECT_FEATURE_NAMES)
    assert perceptual.shape == (3, dim) and cognitive.shape == (0, dim)
    # slot 0: the cube, unseen -> visible = 0 and zeros elsewhere, as in recorded episodes
    assert not perceptual[0].any()
    row = dict(zip(OBJECT_FEATURE_NAMES, perceptual[1]))
    assert row['visible'] == 1 and row['lit'] == 1 and row['class'] == pytest.approx(0.5)
    assert row.get('state', 0.0) == 0.0
    # z is the object's bottom (centre 0.01 minus half the 0.05 extent): the body origin
    assert (row['x'], row['y'], row['z']) == pytest.approx((0.5, -0.1, -0.015))
    assert (row['r'], row['g'], row['b']) == pytest.approx((0.2, 0.9, 0.2))
    assert not perceptual[2].any()  # empty slot


def test_token_encoders_load_by_name_and_by_import_path():
    assert isinstance(load_token_encoder('object_features', 2), ObjectFeatureTokens)
    encoder = load_token_encoder('memory_nodes.perception.tokens:ObjectFeatureTokens', 6, 3)
    assert encoder.object_slots == 6 and encoder.num_classes == 3
    with pytest.raises(ValueError, match="token_encoder is 'nonsense'"):
        load_token_encoder('nonsense')
    with pytest.raises(ValueError, match='cannot be loaded'):
        load_token_encoder('memory_nodes.perception.tokens:Missing')
    with pytest.raises(ValueError, match='NaN'):
        check_tokens(np.full((2, 3), np.nan), np.zeros((0, 3)))
    with pytest.raises(ValueError, match='width'):
        check_tokens(np.zeros((2, 3)), np.zeros((1, 4)))
