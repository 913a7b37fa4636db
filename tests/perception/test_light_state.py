"""Lit / dark judged against a track's own dark brightness; stable colour names per track."""

import numpy as np
import pytest

from memory_nodes.perception.colors import ColorVote
from memory_nodes.perception.light_state import LightConfig, LightState
from memory_nodes.perception.objects import ObjectMeasurement
from memory_nodes.perception.tracking import ObjectTracker


def _states(brightness, config=None):
    light = LightState(config)
    return [light.update(b) for b in brightness]


def test_a_rise_over_the_dark_baseline_is_lit_whatever_the_absolute_level():
    # a dim blue button at 0.39 that lights to 0.73 (1.9x), never near an absolute 0.8
    assert _states([0.39] * 5 + [0.73] * 8 + [0.39] * 4) == (
        ['dark'] * 5 + ['lit'] * 8 + ['dark'] * 4)
    # a bright white button at 0.74 that does not change is never lit
    assert set(_states([0.74, 0.75, 0.73] * 10)) == {'dark'}


def test_hysteresis_and_noise():
    light = LightState(LightConfig(rise_ratio=1.4, hold_ratio=1.2))
    for b in [0.40, 0.41, 0.39, 0.40, 0.42]:  # +-5 % noise stays dark
        assert light.update(b) == 'dark'
    assert light.baseline() == pytest.approx(0.40)
    assert light.update(0.54) == 'dark'  # 1.36x: below the rise ratio
    assert light.update(0.60) == 'lit'  # 1.5x
    assert light.update(0.50) == 'lit'  # 1.26x: held above the hold ratio
    assert light.update(0.46) == 'dark'  # 1.16x: off
    assert light.update(0.50) == 'dark'  # not above the rise ratio again


def test_lit_frames_never_become_the_baseline():
    # a light switched on for far longer than the history stays lit
    config = LightConfig(history_frames=10)
    states = _states([0.3] * 5 + [0.8] * 50 + [0.3] * 3, config)
    assert states == ['dark'] * 5 + ['lit'] * 50 + ['dark'] * 3


def test_an_object_first_seen_lit_learns_its_dark_level_and_then_works():
    config = LightConfig(history_frames=20)
    states = _states([0.8] * 10 + [0.35] * 11 + [0.8] * 3 + [0.35] * 2, config)
    assert states[:21] == ['dark'] * 21  # the lighting seen first is missed
    assert states[21:] == ['lit'] * 3 + ['dark'] * 2


def test_shadow_is_not_lit_and_black_objects_do_not_light_by_noise():
    # the arm shades a button (0.4 -> 0.25) for 4 s of a 10 s history, then moves away
    assert set(_states([0.4] * 60 + [0.25] * 40 + [0.4] * 20)) == {'dark'}
    assert set(_states([0.0, 0.01, 0.0, 0.015, 0.0])) == {'dark'}


@pytest.mark.parametrize('kwargs, field', [
    ({'hold_ratio': 1.0}, 'lit_hold_ratio'), ({'rise_ratio': 1.1}, 'lit_rise_ratio'),
    ({'baseline_quantile': 1.0}, 'lit_baseline_quantile'),
    ({'history_frames': 0}, 'lit_history_frames'), ({'min_baseline': 0.0}, 'lit_min_baseline'),
])
def test_bad_light_config_names_the_field(kwargs, field):
    with pytest.raises(ValueError, match=field):
        LightConfig(**kwargs)


def test_brightness_out_of_range_is_refused():
    with pytest.raises(ValueError, match='brightness'):
        LightState().update(1.5)
    with pytest.raises(ValueError, match='brightness'):
        LightState().update(float('nan'))


def test_colour_vote_keeps_the_first_name_until_another_is_seen_more_often():
    vote = ColorVote('white')
    assert vote.add('gray') == 'white'  # a tie keeps the first name
    assert vote.add('white') == 'white'
    assert vote.add('gray') == 'white'
    assert vote.add('gray') == 'gray'  # 3 gray against 2 white
    with pytest.raises(ValueError, match="'pink'"):
        vote.add('pink')


def _button(rgb, color, x=0.45, y=0.0):
    rgb = np.asarray(rgb, dtype=float)
    return ObjectMeasurement(instance_id=3001, label='button', class_index=3, rgb=rgb,
                             color=color, position=np.array([x, y, 0.01]),
                             covariance=np.eye(3) * 1e-5, extent=np.array([0.04, 0.04, 0.02]),
                             num_points=40, pixel_count=50, confidence=0.9,
                             brightness=float(rgb.max()), lightable=True)


def test_tracker_keeps_one_track_with_a_stable_colour_while_a_button_lights_up():
    """A dark red button whose lit frames get another colour name (the naming is made to
    disagree on purpose): one track, its dark name kept, state dark -> lit -> dark."""
    tracker = ObjectTracker()
    dark, lit = (0.36, 0.05, 0.05), (0.75, 0.11, 0.10)
    frames = [(dark, 'red')] * 5 + [(lit, 'orange')] * 8 + [(dark, 'red')] * 4
    seen = []
    for i, (rgb, name) in enumerate(frames):
        (track,) = tracker.update([_button(rgb, name)], 0.1 * i)
        seen.append((track.track_id, track.color, track.state))
    assert {s[0] for s in seen} == {'button_1'}
    assert {s[1] for s in seen} == {'red'}
    assert [s[2] for s in seen] == ['dark'] * 5 + ['lit'] * 8 + ['dark'] * 4


def test_tracker_gives_non_lightable_tracks_no_state():
    tracker = ObjectTracker()
    m = _button((0.8, 0.1, 0.1), 'red')
    m.label, m.lightable = 'cube', False
    (track,) = tracker.update([m], 0.0)
    assert track.state == '' and track.light is None and track.color == 'red'


def test_a_button_seen_again_elsewhere_starts_a_new_dark_baseline():
    """A dark blue button at one place, then (after 2 s unseen) a bright blue button 20 cm
    away: it may be the same button, but its brightness there is no lighting."""
    tracker = ObjectTracker()
    for i in range(10):
        tracker.update([_button((0.2, 0.25, 0.4), 'blue', y=0.18)], 0.1 * i)
    for i in range(10, 30):  # unseen for 2 s
        tracker.update([], 0.1 * i)
    (track,) = tracker.update([_button((0.31, 0.43, 0.74), 'blue', y=-0.03)], 3.0)
    assert track.track_id == 'button_1' and track.state == 'dark'
    (track,) = tracker.update([_button((0.31, 0.43, 0.74), 'blue', y=-0.03)], 3.1)
    assert track.state == 'dark'


def test_an_unseen_track_is_not_re_identified_by_another_colour_name():
    tracker = ObjectTracker()
    tracker.update([_button((0.40, 0.20, 0.20), 'red', y=0.18)], 0.0)
    # 2 s later a gray button 2 cm beyond the visible gate, within the chromaticity gate:
    # it is another button
    tracks = tracker.update([_button((0.40, 0.31, 0.31), 'gray', y=0.18 - 0.14)], 2.0)
    assert sorted(t.track_id for t in tracks) == ['button_1', 'button_2']
    # nearer than the visible gate a frame later the same measurement would be associated
    tracker = ObjectTracker()
    tracker.update([_button((0.40, 0.20, 0.20), 'red', y=0.18)], 0.0)
    tracks = tracker.update([_button((0.40, 0.31, 0.31), 'gray', y=0.18 - 0.05)], 0.1)
    assert [t.track_id for t in tracks] == ['button_1']
