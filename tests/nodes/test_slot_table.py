"""The action expert node's object slots keep their track for the whole episode, with
features in the simulator's convention (memory_nodes/perception/slots.py)."""

from types import SimpleNamespace

import numpy as np
import pytest

from memory_nodes.perception.slots import SlotTable

CLASSES = ['cube', 'cup', 'ball']


def track(track_id, label='cube', x=0.4, visible=True, rgb=(0.9, 0.1, 0.1), z=0.02,
          extent=(0.04, 0.04, 0.04)):
    return SimpleNamespace(track_id=track_id, label=label, visible=visible, state='',
                           rgb=rgb, position=SimpleNamespace(x=x, y=0.0, z=z),
                           extent=SimpleNamespace(x=extent[0], y=extent[1], z=extent[2]))


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
    with pytest.raises(ValueError, match='cube_8.*extent.*not finite'):
        table.features(message(track('cube_8', extent=(0.04, float('inf'), 0.04))))
    assert np.isfinite(table.features(message(track('cube_2')))).all()


def test_features_follow_the_simulators_convention():
    """z is the bottom of the seen box (the simulator's body origin is at an object's base);
    a drawer's origin lies behind its seen front and its opening is what shows beyond the
    knob (sim/scene.py drawer_spec), both measured on frames rendered by the simulator."""
    table = SlotTable(3, CLASSES + ['drawer'])
    cube = track('cube_1', z=0.0125, extent=(0.025, 0.025, 0.025))
    # a closed drawer at body x 0.620: only its knob shows (seen centre 0.534, 1 cm deep)
    closed = track('drawer_2', label='drawer', x=0.534, z=0.031, extent=(0.010, 0.078, 0.039))
    out = table.features(message(cube, closed))
    assert out[0, 3] == pytest.approx(0.0)
    assert out[1, 1] == pytest.approx(0.614, abs=0.01) and out[1, 9] == pytest.approx(0.0)
    # the same drawer opened by 0.10 m (simulator state 0.91, body x 0.520)
    opened = track('drawer_2', label='drawer', x=0.486, z=0.039, extent=(0.100, 0.087, 0.062))
    out = table.features(message(cube, opened))
    assert out[1, 1] == pytest.approx(0.521, abs=0.01)
    assert out[1, 9] == pytest.approx(0.82, abs=0.1)
