"""The action expert under adversarial input, in-process, with a small checkpoint: each input
(scene image, JointState, end-effector pose, object observations, instruction, episode
status) gets hypothesis-drawn messages through its real subscription callback, then a valid
scene image triggers one inference on the worker thread. Nothing escapes, every rejection is
a counted ValueError naming the field, and certainly-bad input is rejected."""

import time

import pytest

pytest.importorskip('rclpy')
pytest.importorskip('torch')
pytestmark = pytest.mark.ros

from rclpy.parameter import Parameter  # noqa: E402

from memory_interfaces.msg import EpisodeStatus  # noqa: E402
from memory_nodes.action_expert_node import ActionExpertNode  # noqa: E402
from memory_nodes.ros_common import autostart  # noqa: E402
from tests.bad_input import strategies as S  # noqa: E402
from tests.bad_input.harness import hammer, judge, subscription  # noqa: E402
from tests.nodes.test_action_expert_node import JOINTS, checkpoint  # noqa: E402, F401

SCENE = '/camera/scene/color/image_raw'


@pytest.fixture()
def expert(context, checkpoint):  # noqa: F811
    node = ActionExpertNode(context=context, parameter_overrides=[
        Parameter('checkpoint', value=str(checkpoint)), Parameter('device', value='cpu'),
        Parameter('stats_period_s', value=0.0), Parameter('max_latency_s', value=10.0)])
    autostart(node)
    yield node
    node.destroy_node()


def _baseline():
    image = S._image('rgb8', 8, 8, 24, bytes(range(192)))
    return {SCENE: image, '/camera/wrist/color/image_raw': image,
            '/joint_states': S.joint_state(JOINTS, [0.1] * len(JOINTS)),
            '/instruction': S.String(data='lift the cup that hides the red ball'),
            '/sim/episode_status': EpisodeStatus(episode_id='e', state=1, phase=2),
            '/perception/objects': S.observation_array([S.observation()]),
            '/sim/ee_pose': S.pose_stamped((0.3, 0.0, 0.2), (0, 0, 0, 1))}


def _send(expert, topic):
    topics = {s.topic_name for s in expert.subscriptions}
    baseline = {t: S.wire(m) for t, m in _baseline().items() if t in topics}

    def send(case):
        guard = expert.guard
        before = guard.total_rejected
        for name, msg in baseline.items():
            subscription(expert, name).callback(msg)
        subscription(expert, topic).callback(case.msg)
        if topic != SCENE:
            subscription(expert, SCENE).callback(baseline[SCENE])  # the trigger
        deadline = time.monotonic() + 30
        while expert._busy or expert._pending:
            assert time.monotonic() < deadline, 'inference never finished'
            time.sleep(0.005)
        judge(guard, before, case)
    return send


def test_action_expert_inputs(expert, scale):
    hammer(S.image_one_bad('color'), _send(expert, SCENE), 10 * scale)
    hammer(S.image_any('color'), _send(expert, SCENE), 10 * scale)
    hammer(S.joint_state_any(JOINTS), _send(expert, '/joint_states'), 15 * scale)
    hammer(S.pose_any(), _send(expert, '/sim/ee_pose'), 10 * scale)
    hammer(S.observations_any(), _send(expert, '/perception/objects'), 15 * scale)
    hammer(S.string_any(), _send(expert, '/instruction'), 5 * scale)
    hammer(S.episode_status_any(), _send(expert, '/sim/episode_status'), 10 * scale)
    # inference ran (its chunks are dropped as late: the images are stamped at t = 1 s)
    assert expert.chunks + expert.dropped_late > 0 and expert.guard.total_rejected > 0
