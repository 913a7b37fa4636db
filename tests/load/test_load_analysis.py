"""The load test's arithmetic on synthetic samples (no ROS, no processes): growth slopes over
the second half of a run, loss accounting per reliable topic and subscriber, control-rate
misses, and the TopicCounts line every node logs when it stops."""

import json

import numpy as np
import pytest

from memory_nodes.load_analysis import (
    control_misses,
    growth_report,
    growth_slope,
    reliable_loss,
)


def test_slope_is_per_hour_and_ignores_the_first_half():
    t = np.arange(0, 1800, 10.0)                       # 30 simulated minutes
    steady = 200 + 50 * t / 3600                      # 50 MB per hour
    assert growth_slope(t, steady) == pytest.approx(50.0)
    # a start-up jump in the first half does not count; a flat second half is 0
    warm = np.where(t < 600, 100 + t / 6, 200.0)
    assert growth_slope(t, warm) == pytest.approx(0.0, abs=1e-9)
    assert growth_slope(t, warm, from_fraction=0.0) > 100


def test_slope_needs_samples_and_skips_missing_values():
    assert growth_slope([0, 1], [1, 2]) is None
    assert growth_slope([0, 10, 20, 30, 40, 50], [1, 1, 1, 1, 1, 1]) == pytest.approx(0.0)
    values = [1.0, 2.0, None, 4.0, 5.0, 6.0, 7.0]
    slope = growth_slope(np.arange(7) * 3600.0, np.array(values, dtype=float))
    assert slope == pytest.approx(1.0)
    with pytest.raises(ValueError, match='from_fraction'):
        growth_slope([0, 1, 2], [0, 1, 2], from_fraction=1.0)
    with pytest.raises(ValueError, match='one length'):
        growth_slope([0, 1, 2], [0, 1])


def test_growth_report_flags_only_what_grows_faster_than_the_limit():
    t = np.arange(0, 3600, 60.0)
    report = growth_report(t, {'leaky': 100 + 0.1 * t, 'flat': 100 + 0 * t}, 50.0)
    assert report['leaky']['flagged'] and report['leaky']['slope_per_hour'] == \
        pytest.approx(360.0)
    assert not report['flat']['flagged']
    assert report['flat']['first'] == report['flat']['last'] == 100.0


def snapshot(sent=None, received=None, counters=None):
    return {'sent': sent or {}, 'received': received or {}, 'counters': counters or {}}


SUBSCRIBERS = {'/memory/events': ['memory', 'planner'], '/planner/subgoal': ['executor']}


def test_loss_sums_every_publisher_and_checks_every_subscriber():
    counts = {
        'planner': snapshot(sent={'/memory/events': 4, '/planner/subgoal': 3},
                            received={'/memory/events': 9}),
        'executor': snapshot(sent={'/memory/events': 5}, received={'/planner/subgoal': 3}),
        'memory': snapshot(received={'/memory/events': 9}),
    }
    report = reliable_loss(counts, SUBSCRIBERS)
    events = report['/memory/events']
    assert events['sent'] == 9 and events['publishers'] == {'planner': 4, 'executor': 5}
    assert events['lost'] == {'memory': 0, 'planner': 0} and events['ok']
    assert report['/planner/subgoal']['ok']

    counts['memory'] = snapshot(received={'/memory/events': 7})   # two lost
    report = reliable_loss(counts, SUBSCRIBERS)
    assert report['/memory/events']['lost']['memory'] == 2
    assert not report['/memory/events']['ok'] and report['/planner/subgoal']['ok']

    counts['memory'] = snapshot()   # took nothing at all: every message lost
    assert reliable_loss(counts, SUBSCRIBERS)['/memory/events']['lost']['memory'] == 9


def test_a_node_without_counts_makes_the_check_fail_not_pass():
    counts = {'planner': snapshot(sent={'/planner/subgoal': 3}), 'executor': None,
              'memory': snapshot()}
    report = reliable_loss(counts, SUBSCRIBERS)
    assert report['/planner/subgoal']['received'] == {'executor': None}
    assert not report['/planner/subgoal']['ok']
    # an unknown publisher (executor sends events too) makes every topic unknown
    assert not report['/memory/events']['ok']


def test_control_misses_reads_the_counters():
    counts = {'executor': snapshot(counters={'cycles': 100, 'missed_cycles': 2}),
              'sim_bridge': snapshot(counters={'ticks': 90, 'overrun_ticks': 7,
                                               'frames': 270})}
    assert control_misses(counts) == {
        'executor_cycles': 100, 'executor_missed_cycles': 2, 'bridge_steps': 90,
        'bridge_overrun_steps': 7, 'bridge_frames': 270}
    assert control_misses({'executor': None})['executor_missed_cycles'] is None


def test_topic_counts_line_round_trips_through_a_log():
    pytest.importorskip('rclpy')
    from memory_nodes.ros_common import TopicCounts, parse_counts_line

    counts = TopicCounts()
    counts.sent_one('/memory/events')
    counts.sent_one('/memory/events', 2)
    counts.received_one('/perception/objects')
    counts.count('missed_cycles', 4)
    log = ('[INFO] [1.0] [executor]: topic counts: {"sent": {}, "received": {}, '
           '"counters": {}}\n'
           f'[INFO] [2.0] [executor]: {counts.line()}\n[INFO] [3.0] [executor]: bye\n')
    assert parse_counts_line(log) == {'sent': {'/memory/events': 3},
                                      'received': {'/perception/objects': 1},
                                      'counters': {'missed_cycles': 4}}
    assert parse_counts_line('no counts here') is None
    with pytest.raises(ValueError, match='not JSON'):
        parse_counts_line('topic counts: {broken\n')
    with pytest.raises(ValueError, match='lacks'):
        parse_counts_line('topic counts: ' + json.dumps({'sent': {}}))
