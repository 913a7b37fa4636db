"""Replayed bags whose clock misbehaves: a forward jump of two hours, header stamps that go
backwards. Bags are written here with rosbags (standard messages, sqlite3 storage) and go
through the real replay path (ReplayGraph: composed preprocessor + memory nodes, /clock
from the bag, questions over /memory/query).

Defined behaviour (docs/faults.md): the replay publishes in log-time order, counts the jumps
in its report and, at a real-time rate, does not sit out a forward jump; the memory node
rejects (and counts) observations stamped before what it already has, so its time-ordered
answers stay consistent.
"""

import pytest

rclpy = pytest.importorskip('rclpy')
pytestmark = pytest.mark.ros

from memory_interfaces.srv import QueryMemory  # noqa: E402
from memory_nodes.evaluation.replay import ReplayConfig, ReplayGraph  # noqa: E402
from tests.evaluation.box_bag import CAMERA_Z, MAPPING, write_box_bag  # noqa: E402

FIRST, SECOND = (0.10, 0.05), (-0.08, -0.06)


def replay(tmp_path, frames, rate):
    write_box_bag(tmp_path / 'bag', frames)
    config = ReplayConfig(
        bag=tmp_path / 'bag', memory_path=tmp_path / 'memory.db', topic_map=MAPPING,
        rate=rate, preprocessor_params={'camera_pose': [0.0, 0.0, CAMERA_Z, 1.0, 0.0, 0.0, 0.0],
                                        'camera_pose_topic': ''})
    graph = ReplayGraph(config).start()
    try:
        stats = graph.play()
        events = graph.query(QueryMemory.Request.KIND_WHAT_HAPPENED, '', k=100)
        where = graph.query(QueryMemory.Request.KIND_WHERE, 'red cube', k=5)
    finally:
        graph.stop()
    assert events.success and where.success
    return stats, events, where


def stamp_s(t):
    return t.sec + t.nanosec * 1e-9


def test_a_two_hour_forward_jump_is_counted_not_waited_for(tmp_path):
    t0, jump = 100.0, 7200.0
    frames = [(t0 + 0.1 * i, t0 + 0.1 * i, FIRST) for i in range(12)]
    frames += [(t0 + jump + 0.1 * i, t0 + jump + 0.1 * i, SECOND) for i in range(12)]
    stats, events, where = replay(tmp_path, frames, rate=1.0)
    assert stats.clock['log_time_jumps'] == 1
    assert stats.clock['stamp_jumps_forward'] == len(MAPPING)  # once per topic
    assert stats.clock['stamps_backwards'] == 0
    assert stats.wall_s < 60, 'the replay sat out the jump'
    assert stats.clock['skipped_wall_s'] > jump - 60
    # the memory tells the move at the time the bag says
    moved = [e for e in events.results if e.kind == 'moved' and e.subject == 'red cube']
    assert moved and t0 + jump - 1 <= stamp_s(moved[0].stamp) <= t0 + jump + 2
    assert where.results[0].position.x == pytest.approx(SECOND[0], abs=0.01)


def test_backward_stamps_are_counted_and_rejected_by_the_memory(tmp_path):
    """Frames 12-17 carry stamps 50 s in the past (the recording clock jumped back) and
    show the box somewhere else: the memory must not rewrite history with them."""
    t0 = 100.0
    frames = []
    for i in range(30):
        log = t0 + 0.1 * i
        back = 12 <= i < 18
        frames.append((log, log - 50.0 if back else log, SECOND if back else FIRST))
    stats, events, where = replay(tmp_path, frames, rate=0.0)
    assert stats.clock['stamps_backwards'] == 6 * len(MAPPING)  # 6 frames, every topic
    assert stats.clock['log_time_jumps'] == 0
    assert stats.inputs_rejected['memory'].get('observations', 0) >= 1, stats.inputs_rejected
    stamps = [stamp_s(e.stamp) for e in events.results]
    assert stamps == sorted(stamps)
    assert min(stamps) >= t0 - 0.5, 'an event from the backward stamps got into memory'
    assert not [e for e in events.results if e.kind == 'moved'], \
        [(e.kind, stamp_s(e.stamp)) for e in events.results]
    assert where.results[0].position.x == pytest.approx(FIRST[0], abs=0.01)
