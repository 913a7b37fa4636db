"""Bad input gets one clear error naming the bad value (missing bag, a topic not in the
bag, a bag without images for the preprocessor, malformed question sets, a bad mapping,
a file that is not a report); the live recorder writes a graph's topics (latched state
included) to a bag that rosbags reads back."""

import json
import time

import numpy as np
import pytest

rclpy = pytest.importorskip('rclpy')

from memory_nodes.evaluation.bagio import BagError, parse_topic_map  # noqa: E402
from memory_nodes.evaluation.cli import main  # noqa: E402
from memory_nodes.evaluation.questions import (  # noqa: E402
    QuestionError,
    load_questions,
    validate_questions,
)
from memory_nodes.evaluation.replay import ReplayConfig, plan_topics  # noqa: E402
from tests.evaluation.box_bag import write_box_bag  # noqa: E402

INPUTS = {'color_topic': '/camera/scene/color/image_raw',
          'depth_topic': '/camera/scene/depth/image_raw',
          'segmentation_topic': '/camera/scene/segmentation/image_raw',
          'camera_info_topic': '/camera/scene/camera_info', 'camera_pose_topic': '',
          'joint_states_topic': '/joint_states', 'instruction_topic': '/instruction',
          'episode_status_topic': '/sim/episode_status'}


@pytest.fixture(scope='module')
def small_bag(tmp_path_factory):
    path = tmp_path_factory.mktemp('bags') / 'small'
    write_box_bag(path, [(100.0 + 0.1 * i, 100.0 + 0.1 * i, (0.0, 0.0)) for i in range(3)])
    return path


def _run(argv, capsys):
    code = main(argv)
    captured = capsys.readouterr()
    return code, captured.err


def test_replay_refuses_missing_bag_and_unknown_topic(tmp_path, small_bag, capsys):
    code, err = _run(['replay', str(tmp_path / 'nope'), '--memory', str(tmp_path / 'm.db')],
                     capsys)
    assert code == 2 and 'nope' in err and 'does not exist' in err
    code, err = _run(['replay', str(small_bag), '--memory', str(tmp_path / 'm.db'),
                      '--topic', '/cam/thermal:=/camera/scene/color/image_raw'], capsys)
    assert code == 2 and '/cam/thermal is not in the bag' in err and '/cam/rgb' in err
    code, err = _run(['replay', str(small_bag), '--memory', str(tmp_path / 'm.db'),
                      '--topic', 'cam/rgb'], capsys)
    assert code == 2 and "'cam/rgb'" in err
    not_a_bag = tmp_path / 'folder'
    not_a_bag.mkdir()
    with pytest.raises(BagError, match='no metadata.yaml'):
        ReplayConfig(bag=not_a_bag, memory_path=tmp_path / 'm.db')
    with pytest.raises(BagError, match='rate'):
        ReplayConfig(bag=small_bag, memory_path=tmp_path / 'm.db', rate=-1.0)
    with pytest.raises(BagError, match='--actions needs the actions taken'):
        ReplayConfig(bag=small_bag, memory_path=tmp_path / 'm.db', actions=True)
    code, err = _run(['replay', str(small_bag), '--memory', str(tmp_path / 'm.db'),
                      '--param', 'planner.x=1'], capsys)
    assert code == 2 and "'planner.x=1'" in err
    assert not (tmp_path / 'm.db').exists()  # nothing started, nothing written


def test_a_bag_without_the_preprocessors_images_is_named(small_bag):
    available = {'/cam/rgb': None, '/cam/depth': None, '/cam/instances': None}
    with pytest.raises(BagError, match='color_topic') as error:
        plan_topics(available, {}, INPUTS)
    assert '/cam/rgb' in str(error.value)  # what the bag has, to map from
    plan = plan_topics(available, parse_topic_map(
        ['/cam/rgb:=/camera/scene/color/image_raw', '/cam/depth:=/camera/scene/depth/image_raw',
         '/cam/instances:=/camera/scene/segmentation/image_raw']), INPUTS)
    assert plan['/cam/rgb'] == '/camera/scene/color/image_raw'
    with pytest.raises(BagError, match='mapped twice'):
        parse_topic_map(['/a:=/b', '/a:=/c'])


GOOD = {'id': 'w', 'type': 'where', 'object': 'red cube', 'position': [0.1, 0.2, 0.0]}


@pytest.mark.parametrize('change, words', [
    ({'type': 'where_is'}, "type 'where_is'"),
    ({'position': [0.1, 0.2]}, "'position' has a bad value"),
    ({'position': 'on the table'}, "'position' is 'on the table'"),
    ({'object': ''}, "'object' has a bad value"),
    ({'tolerance_m': -1}, "'tolerance_m' has a bad value"),
    ({'axes': 'z'}, "axes is 'z'"),
])
def test_malformed_questions_are_named(change, words):
    bad = {**GOOD, **change}
    with pytest.raises(QuestionError) as error:
        validate_questions({'questions': [bad]}, 'q.json')
    assert words in str(error.value) and 'question 0 (w)' in str(error.value)


def test_malformed_question_sets_and_files(tmp_path, capsys):
    with pytest.raises(QuestionError, match="'count' is 1.5"):
        validate_questions({'questions': [{'id': 'c', 'type': 'count', 'object': 'cup',
                                           'count': 1.5}]})
    with pytest.raises(QuestionError, match="'count' is True"):
        validate_questions({'questions': [{'id': 'c', 'type': 'count', 'object': 'cup',
                                           'count': True}]})
    with pytest.raises(QuestionError, match='used twice'):
        validate_questions({'questions': [GOOD, GOOD]})
    with pytest.raises(QuestionError, match="field 'time_s' is missing"):
        validate_questions({'questions': [{'id': 't', 'type': 'when', 'event': 'moved'}]})
    with pytest.raises(QuestionError, match='ask.kind'):
        validate_questions({'questions': [{'id': 'e', 'type': 'episodic', 'accepted': ['x'],
                                           'ask': {'kind': 'recall'}}]})
    with pytest.raises(QuestionError, match='"questions" list'):
        validate_questions({'question': []})
    broken = tmp_path / 'q.json'
    broken.write_text('{"questions": [')
    with pytest.raises(QuestionError, match='not valid JSON'):
        load_questions(broken)
    as_yaml = tmp_path / 'q.yaml'
    as_yaml.write_text('questions:\n  - {id: n, type: count, object: cube, count: 2}\n')
    assert load_questions(as_yaml)['questions'][0]['event'] == ''
    code, err = _run(['replay', 'any', '--memory', 'm.db', '--questions', str(broken)],
                     capsys)
    assert code == 2 and 'not valid JSON' in err
    code, err = _run(['compare', str(broken), str(broken)], capsys)
    assert code == 2 and 'not JSON' in err


@pytest.mark.ros
def test_replay_at_real_time_rate_follows_the_bag_clock(tmp_path, small_bag):
    from memory_nodes.evaluation.replay import ReplayGraph
    mapping = {'/cam/rgb': '/camera/scene/color/image_raw',
               '/cam/depth': '/camera/scene/depth/image_raw',
               '/cam/instances': '/camera/scene/segmentation/image_raw',
               '/cam/info': '/camera/scene/camera_info'}
    config = ReplayConfig(bag=small_bag, memory_path=tmp_path / 'm.db', topic_map=mapping,
                          rate=0.5, preprocessor_params={'camera_pose': [0.0, 0.0, 1.0, 1.0,
                                                                         0.0, 0.0, 0.0],
                                                         'camera_pose_topic': ''})
    with ReplayGraph(config) as graph:
        stats = graph.play()
    assert stats.bag_duration_s == pytest.approx(0.2)
    assert stats.wall_s >= 0.2 / 0.5 * 0.95   # half real time: 0.4 s of wall at least
    assert stats.published['/camera/scene/color/image_raw'] == 3
    assert '/robot/joints' not in stats.topic_map   # not mapped, not a default name


@pytest.mark.ros
@pytest.mark.parametrize('storage', ['mcap', 'sqlite3'])
def test_live_recorder_writes_a_bag_rosbags_reads(tmp_path, storage):
    from rosbags.highlevel import AnyReader
    from sensor_msgs.msg import JointState
    from std_msgs.msg import String

    from memory_nodes.evaluation.record import LiveRecorder
    from memory_nodes.ros_common import LATCHED_QOS, SENSOR_QOS
    context = rclpy.Context()
    rclpy.init(context=context)
    peer = rclpy.create_node('record_peer', context=context)
    instruction = peer.create_publisher(String, '/instruction', LATCHED_QOS)
    joints = peer.create_publisher(JointState, '/joint_states', SENSOR_QOS)
    instruction.publish(String(data='stack the cubes'))  # before the recorder exists
    recorder = LiveRecorder(tmp_path / 'bag', ['/instruction', '/joint_states', '/absent'],
                            storage, context=context)
    executor = rclpy.executors.SingleThreadedExecutor(context=context)
    executor.add_node(recorder.node)
    try:
        found = recorder.discover(timeout=1.5)  # '/absent' never shows up
        assert found == {'/instruction': 'std_msgs/msg/String',
                         '/joint_states': 'sensor_msgs/msg/JointState'}
        deadline = time.monotonic() + 10
        sent = 0
        while recorder.counts['/joint_states'] < 5:
            assert time.monotonic() < deadline, recorder.counts
            joints.publish(JointState(name=['j'], position=[0.1 * sent]))
            sent += 1
            executor.spin_once(timeout_sec=0.05)
    finally:
        executor.remove_node(recorder.node)
        recorder.close()
        peer.destroy_node()
        rclpy.shutdown(context=context)
    with pytest.raises(BagError, match='exists'):
        LiveRecorder(tmp_path / 'bag', ['/x'], storage)
    with AnyReader([tmp_path / 'bag']) as reader:
        got = {}
        for conn, _, raw in reader.messages():
            got.setdefault(conn.topic, []).append(reader.deserialize(raw, conn.msgtype))
    assert [m.data for m in got['/instruction']] == ['stack the cubes']
    positions = [float(m.position[0]) for m in got['/joint_states']]
    assert len(positions) >= 5 and np.all(np.diff(positions) > 0)
    assert json.dumps(sorted(got)) == '["/instruction", "/joint_states"]'


def test_the_action_expert_gets_the_measured_pose_or_else_the_commanded_one():
    """The node reads the measured end-effector pose (/sim/ee_pose); a bag that has it
    replays it as is; one that has only the executor's commands (/sim/ee_target, recorded
    before the bridge published the measured pose) gives those in its place."""
    images = {'/camera/scene/color/image_raw': None, '/camera/scene/depth/image_raw': None,
              '/camera/scene/segmentation/image_raw': None}
    inputs = dict(INPUTS, **{'action_expert.ee_pose_topic': '/sim/ee_pose'})
    both = plan_topics(dict(images, **{'/sim/ee_pose': None, '/sim/ee_target': None}), {},
                       inputs)
    assert both['/sim/ee_pose'] == '/sim/ee_pose' and '/sim/ee_target' not in both
    old = plan_topics(dict(images, **{'/sim/ee_target': None}), {}, inputs)
    assert old['/sim/ee_target'] == '/sim/ee_pose'
    assert '/sim/ee_target' not in plan_topics(dict(images, **{'/sim/ee_target': None}), {},
                                               INPUTS)  # no action expert: not replayed
