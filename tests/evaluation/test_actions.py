"""Action evaluation: the scorer aligns chunks with the actions in force (exact chunks score
zero, shifted or late ones score their shift), reads actions from a bag's command topics,
refuses malformed input; and the action expert composed into a replay (tiny untrained
checkpoint) receives the sim bag's actions taken as /sim/ee_target and the phases, and its
chunks, stamped with the replayed frames, are all scored."""

import json

import numpy as np
import pytest

rclpy = pytest.importorskip('rclpy')
torch = pytest.importorskip('torch')

from memory_nodes.evaluation.actions import (  # noqa: E402
    ACTION_NAMES,
    Chunk,
    TakenActions,
    load_sim_actions,
    score_chunks,
    taken_from_bag,
)
from memory_nodes.evaluation.bagio import BagError, open_reader  # noqa: E402
from memory_nodes.evaluation.cli import main  # noqa: E402
from memory_nodes.evaluation.replay import ReplayConfig, ReplayGraph  # noqa: E402
from tests.nodes.test_action_expert_node import checkpoint  # noqa: E402, F401

DT = 0.1


def _taken(n=30):
    t = np.arange(n) * DT
    values = np.stack([0.3 + 0.01 * np.arange(n), np.zeros(n), 0.2 + 0 * t,
                       0.05 * np.arange(n), (np.arange(n) >= 10).astype(float)], axis=1)
    return TakenActions(t, values, 'test')


def _chunk(taken, start, horizon=4, shift=(0.0, 0.0, 0.0)):
    rows = taken.values[start:start + horizon].copy()
    rows[:, :3] += shift
    return Chunk(start * DT, DT, list(ACTION_NAMES), rows, 2, 5.0)


def test_score_aligns_chunks_with_the_actions_in_force():
    taken = _taken()
    exact = score_chunks([_chunk(taken, k) for k in range(0, 20, 3)], taken)
    assert exact['chunks_scored'] == 7
    for key in ('position_m', 'yaw_rad', 'gripper'):
        assert exact[key]['executed']['mean'] == 0.0, (key, exact[key])
    shifted = score_chunks([_chunk(taken, 5, shift=(0.0, 0.03, 0.04))], taken)
    assert shifted['position_m']['executed']['mean'] == pytest.approx(0.05)
    late = score_chunks([Chunk(5 * DT, DT, list(ACTION_NAMES), taken.values[6:10], 4, 1.0)],
                        taken)   # the actions of one step later
    assert late['position_m']['per_horizon_step_mean'] == pytest.approx([0.01] * 4)
    assert late['yaw_rad']['first_action']['mean'] == pytest.approx(0.05)
    # a sidecar counts from the bag's start: the offset moves the chunk onto it
    offset = score_chunks([Chunk(100.0 + 5 * DT, DT, list(ACTION_NAMES), taken.values[5:9],
                                 4, 1.0)], taken, time_offset_s=100.0)
    assert offset['position_m']['executed']['mean'] == 0.0
    before = score_chunks([Chunk(-1.0, DT, list(ACTION_NAMES), taken.values[:2], 2, 1.0)],
                          taken)
    assert before['chunks_scored'] == 0 and before['position_m']['executed'] == {'n': 0}
    with pytest.raises(BagError, match=r"lacks action columns \['gripper'\]"):
        score_chunks([Chunk(0.0, DT, ['x', 'y', 'z', 'yaw'], taken.values[:2, :4], 1, 1.0)],
                     taken)


def test_actions_from_bag_topics_and_bad_sidecars(tmp_path):
    from rosbags.rosbag2 import Writer
    from rosbags.typesys import Stores, get_typestore
    ts = get_typestore(Stores.ROS2_JAZZY)
    T = ts.types  # noqa: N806
    with Writer(tmp_path / 'bag', version=8) as writer:
        ee = writer.add_connection('/sim/ee_target', 'geometry_msgs/msg/PoseStamped',
                                   typestore=ts)
        grip = writer.add_connection('/sim/gripper', 'std_msgs/msg/Float64', typestore=ts)
        for k in range(5):
            yaw = 0.1 * k
            pose = T['geometry_msgs/msg/PoseStamped'](
                header=T['std_msgs/msg/Header'](
                    stamp=T['builtin_interfaces/msg/Time'](sec=k, nanosec=0), frame_id='world'),
                pose=T['geometry_msgs/msg/Pose'](
                    position=T['geometry_msgs/msg/Point'](x=0.1 * k, y=0.0, z=0.2),
                    orientation=T['geometry_msgs/msg/Quaternion'](
                        x=0.0, y=0.0, z=np.sin(yaw / 2), w=np.cos(yaw / 2))))
            writer.write(ee, k * 1_000_000_000, ts.serialize_cdr(pose, pose.__msgtype__))
            if k == 2:
                msg = T['std_msgs/msg/Float64'](data=1.0)
                writer.write(grip, k * 1_000_000_000 + 1, ts.serialize_cdr(msg, msg.__msgtype__))
    reader = open_reader(tmp_path / 'bag')
    try:
        taken = taken_from_bag(reader)
        with pytest.raises(BagError, match='no /robot/target'):
            taken_from_bag(reader, ee_topic='/robot/target')
    finally:
        reader.close()
    assert taken.at(1.5) == pytest.approx([0.1, 0.0, 0.2, 0.1, 0.0])
    assert taken.at(3.0) == pytest.approx([0.3, 0.0, 0.2, 0.3, 1.0])
    assert taken.at(-0.5) is None
    bad = tmp_path / 'actions.json'
    bad.write_text(json.dumps({'times_s': [0.0, 0.1], 'actions': [[0, 0, 0, 0, 0]]}))
    with pytest.raises(BagError, match='differ in length'):
        load_sim_actions(bad)
    bad.write_text('{"times_s": ')
    with pytest.raises(BagError, match='malformed'):
        load_sim_actions(bad)
    with pytest.raises(BagError, match='does not exist'):
        load_sim_actions(tmp_path / 'none.json')


@pytest.mark.ros
def test_action_expert_in_the_replay_is_scored_against_the_sim_actions(
        tmp_path, checkpoint, capsys):  # noqa: F811
    assert main(['sim-bag', 'shell_game', '--seed', '4', '--out', str(tmp_path / 'bag'),
                 '--image-size', '64', '--knob', 'num_swaps=0']) == 0
    capsys.readouterr()
    sidecar, phases = load_sim_actions(tmp_path / 'bag' / 'actions.json')
    assert set(phases) == {'cue', 'delay', 'act'} and len(sidecar.times_s) > 40
    config = ReplayConfig(bag=tmp_path / 'bag', memory_path=tmp_path / 'm.db', actions=True,
                          action_expert_params={'checkpoint': str(checkpoint),
                                                'device': 'cpu'})
    with ReplayGraph(config) as graph:
        stats = graph.play()
        ee = graph.expert.latest['ee'].pose.position
        status = graph.expert.latest['status']
        chunks = list(graph.chunks)
    # it saw the actions taken up to the step before the last, and the act phase
    assert [ee.x, ee.y, ee.z] == pytest.approx(sidecar.values[-2][:3], abs=1e-6)
    assert status.phase == 2
    frame_times = {round(k * DT, 3) for k in range(round(stats.bag_duration_s / DT) + 1)}
    assert len(chunks) >= 10
    assert {round(c.observation_s, 3) for c in chunks} <= frame_times  # replayed frames
    result = score_chunks(chunks, sidecar, time_offset_s=stats.bag_start_s)
    assert result['chunks_scored'] == len(chunks)
    assert np.isfinite(result['position_m']['executed']['mean'])
