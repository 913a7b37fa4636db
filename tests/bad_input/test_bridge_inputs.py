"""The sim bridge under adversarial input, in-process: its command subscriptions (end-effector
target, gripper, joint command, action chunk) and its StartEpisode service get hypothesis-drawn
messages through the real callbacks while its worker steps the MuJoCo env. Nothing escapes,
every rejection is a counted ValueError naming the field, the command the sim follows stays
finite, a refused StartEpisode names the field, and the worker thread is alive afterwards."""

import numpy as np
import pytest

pytest.importorskip('rclpy')
pytest.importorskip('mujoco')
pytestmark = pytest.mark.ros

from rclpy.parameter import Parameter  # noqa: E402

from memory_interfaces.srv import StartEpisode  # noqa: E402
from memory_nodes.ros_common import autostart  # noqa: E402
from sim import TASKS  # noqa: E402
from sim.arm import ARM_JOINTS  # noqa: E402
from sim.bridge_node import SimBridgeNode  # noqa: E402
from sim.tasks.base import COMMON_KNOBS  # noqa: E402
from tests.bad_input import strategies as S  # noqa: E402
from tests.bad_input.harness import deliver, hammer, names_a_field, service  # noqa: E402

KNOBS = sorted({name for task in TASKS.values() for name in task.KNOBS} | set(COMMON_KNOBS)
               | {'render', 'image_size'})


@pytest.fixture()
def bridge(context):
    node = SimBridgeNode(context=context, parameter_overrides=[
        Parameter('task', value='remember_color'), Parameter('width', value=16),
        Parameter('height', value=16), Parameter('real_time_factor', value=2.0)])
    autostart(node)
    yield node
    node.destroy_node()


def _checked(bridge, topic, must_reject=None):
    def send(case):
        must = case.must_reject if must_reject is None else must_reject(case)
        deliver(bridge, topic, case, must)
        with bridge._lock:
            command = np.array(bridge.command, dtype=float)
            chunk = np.array(bridge.chunk, dtype=float)
        assert np.all(np.isfinite(command)), f'{case}: the sim now follows {command}'
        assert np.all(np.isfinite(chunk)), f'{case}: the sim now runs {chunk}'
    return send


def test_commands(bridge, scale):
    ee = _checked(bridge, '/sim/ee_target')
    hammer(S.pose_one_bad(frame_checked=False), ee, 15 * scale)
    hammer(S.pose_any(), ee, 25 * scale)
    hammer(S.float64_any(), _checked(bridge, '/sim/gripper'), 25 * scale)
    joints = _checked(bridge, '/sim/joint_command')
    hammer(S.joint_trajectory_one_bad(ARM_JOINTS), joints, 15 * scale)
    hammer(S.joint_trajectory_any(ARM_JOINTS), joints, 25 * scale)
    chunk = _checked(bridge, '/sim/action_chunk')
    hammer(S.chunk_one_bad(), chunk, 20 * scale)
    hammer(S.chunk_any(), chunk, 25 * scale)
    assert bridge._worker is not None and bridge._worker.is_alive()
    steps = bridge.env.step_count
    bridge.on_ee_target(S.wire(S.pose_stamped((0.35, 0.0, 0.25), (0, 0, 0, 1))))
    for _ in range(100):
        if bridge.env.step_count > steps:
            break
        bridge._stop.wait(0.05)
    assert bridge.env.step_count > steps, 'the sim stopped stepping'


def test_start_episode(bridge, scale):
    srv = service(bridge, '/sim/start_episode')

    def start(case):
        res = srv.callback(case.msg, StartEpisode.Response())
        assert isinstance(res, StartEpisode.Response)
        if not res.success:
            assert names_a_field(res.message, case.fields), f'{case}: {res.message!r}'
        assert bridge._worker is not None and bridge._worker.is_alive(), (
            f'{case}: the env worker died ({res.message!r})')

    hammer(S.start_episode_any(TASKS, KNOBS), start, 15 * scale)
    for name, value in (('render', 1.0), ('image_size', 4.0), ('image_size', 1e308)):
        req = S.wire(StartEpisode.Request(task='remember_color', seed=1, knob_names=[name],
                                          knob_values=[value]))
        start(S.Case(req, ['knob', name], True, f'knob {name}={value}'))
