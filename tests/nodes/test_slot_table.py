"""The action expert node's object slots keep their track for the whole episode."""

from types import SimpleNamespace

import numpy as np
import pytest

from memory_nodes.action_expert_node import SlotTable

CLASSES = ['cube', 'cup', 'ball']


def track(track_id, label='cube', x=0.4, visible=True, rgb=(0.9, 0.1, 0.1)):
    return SimpleNamespace(track_id=track_id, label=label, visible=visible, state='',
                           rgb=rgb, position=SimpleNamespace(x=x, y=0.0, z=0.02))


def message(*tracks):
    return SimpleNamespace(objects=list(tracks))


def occupied(features):
    return [i for i in range(len(features)) if features[i, 0] > 0]


def test_a_slot_keeps_its_track_when_others_come_and_go():
    table = SlotTable(4, CLASSES)
    # the cue cube alone, then dropped; the candidates appear together; a cup before them
    first = table.features(message(track('cube_1', x=0.45)))
    assert occupied(first) == [0] and first[0, 1] == pytest.approx(0.45)
    later = table.features(message(track('cube_4', x=0.3), track('cube_2', x=0.1),
                                   track('cup_3', label='cup', x=0.2)))
    # new tracks take the free slots in class-then-number order: cube_2, cube_4, cup_3;
    # cube_1's slot stays its own (zero while it is not in the message)
    assert table.slot_of == {'cube_1': 0, 'cube_2': 1, 'cube_4': 2, 'cup_3': 3}
    assert occupied(later) == [1, 2, 3]
    assert later[1, 1] == pytest.approx(0.1) and later[2, 1] == pytest.approx(0.3)
    assert later[3, 8] == pytest.approx(1 / 3)  # class feature: cup is class 1 of 3
    # hidden (not visible) keeps the slot but shows zeros
    hidden = table.features(message(track('cube_2', visible=False), track('cube_4', x=0.3)))
    assert occupied(hidden) == [2] and table.slot_of['cube_2'] == 1


def test_a_full_table_reuses_a_missing_tracks_slot_and_counts_overflow():
    table = SlotTable(2, CLASSES)
    table.features(message(track('cube_1'), track('cube_2')))
    table.features(message(track('cube_2'), track('cube_3', x=0.5)))
    assert table.slot_of == {'cube_2': 1, 'cube_3': 0}  # cube_1 was missing: its slot reused
    out = table.features(message(track('cube_2'), track('cube_3'), track('cube_5')))
    assert table.overflow == 1 and 'cube_5' not in table.slot_of
    assert occupied(out) == [0, 1]
    table.reset()  # a new episode: slots assigned afresh
    table.features(message(track('cube_5')))
    assert table.slot_of == {'cube_5': 0}


def test_unknown_labels_are_left_out_and_bad_positions_named():
    table = SlotTable(3, CLASSES)
    out = table.features(message(track('hand_1', label='hand'), track('cube_2')))
    assert table.slot_of == {'cube_2': 0} and occupied(out) == [0]
    bad = track('cube_7', x=float('nan'))
    with pytest.raises(ValueError, match='cube_7.*not finite'):
        table.features(message(bad))
    assert np.isfinite(table.features(message(track('cube_2')))).all()
