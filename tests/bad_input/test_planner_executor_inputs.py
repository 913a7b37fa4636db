"""The planner and the executor under adversarial input, in-process, through the real
subscription callbacks, each followed by one run of the node's real timer callback (the
planning tick, the control cycle), so that what a callback accepted is also used. Nothing
escapes, every rejection is a counted ValueError naming the field, certainly-bad messages are
rejected, and every command the executor sends is finite and inside its workspace."""

from hypothesis import strategies as st
import numpy as np
import pytest

pytest.importorskip('rclpy')
pytestmark = pytest.mark.ros

from rclpy.parameter import Parameter  # noqa: E402

from memory_nodes.executor_node import ExecutorNode  # noqa: E402
from memory_nodes.planner_node import PlannerNode  # noqa: E402
from memory_nodes.ros_common import autostart  # noqa: E402
from tests.bad_input import strategies as S  # noqa: E402
from tests.bad_input.harness import deliver, hammer  # noqa: E402

INSTRUCTIONS = ['lift the cup that hides the red ball', 'put the red cube back on the tray',
                'remember the color, then pick up the cube of that color']


@pytest.fixture()
def planner(context):
    node = PlannerNode(context=context, parameter_overrides=[
        Parameter('use_lifelong_memory', value=False), Parameter('plan_wait_s', value=0.0),
        Parameter('settle_s', value=0.0), Parameter('episode_status_topic', value='')])
    autostart(node)
    yield node
    node.destroy_node()


def test_planner_inputs(planner, scale):
    def then_tick(topic):
        def send(case):
            deliver(planner, topic, case)
            planner.timer.callback()
        return send

    instructions = st.one_of(S.string_any(), st.sampled_from(INSTRUCTIONS).map(
        lambda text: S.case(S.String(data=text), ['instruction'], False, text)))
    hammer(instructions, then_tick('/instruction'), 40 * scale)
    planner.on_instruction(S.wire(S.String(data=INSTRUCTIONS[1])))
    hammer(S.observations_any(), then_tick('/perception/objects'), 40 * scale)
    nan_scene = st.builds(lambda x: S.case(S.observation_array([S.observation(
        position=(x, 0.0, 0.0))]), ['position'], True, f'object at x={x}'), S.NONFINITE)
    bad = hammer(nan_scene, then_tick('/perception/objects'), 5 * scale)
    hammer(S.event_any(), then_tick('/memory/events'), 30 * scale)
    assert bad > 0 and planner.guard.rejected['objects'] >= bad


@pytest.fixture()
def executor(context):
    node = ExecutorNode(context=context, parameter_overrides=[
        Parameter('episode_status_topic', value='/sim/episode_status')])
    autostart(node)
    node.box = (np.asarray(node.params['workspace_min']),
                np.asarray(node.params['workspace_max']))
    yield node
    node.destroy_node()


def _then_cycle(executor, topic, cycles=3):
    def send(case):
        deliver(executor, topic, case)
        for _ in range(cycles):
            executor.timer.callback()
            command = executor.last_command
            if command is not None:
                assert np.all(np.isfinite(command)), f'{case}: command {command}'
                lo, hi = executor.box
                assert np.all(command[:3] >= lo - 1e-9) and np.all(command[:3] <= hi + 1e-9), (
                    f'{case}: command {command} outside the workspace')
    return send


def test_executor_subgoals(executor, scale):
    send = _then_cycle(executor, '/planner/subgoal')
    bad = hammer(S.subgoal_one_bad(), send, 30 * scale)
    hammer(S.subgoal_any(), send, 40 * scale)
    assert bad > 0 and executor.guard.rejected['subgoal'] >= bad


def test_executor_chunks_joint_states_and_episode_status(executor, scale):
    executor.on_subgoal(S.wire(S.subgoal(action='follow')))  # chunks drive the arm
    executor.primitive_verbs.discard('follow')
    chunk = _then_cycle(executor, '/action_expert/chunk')
    bad = hammer(S.chunk_one_bad(), chunk, 30 * scale)
    hammer(S.chunk_any(), chunk, 40 * scale)
    assert bad > 0 and executor.guard.rejected['action_chunk'] >= bad
    names = ['shoulder_pan', 'elbow']
    joints = _then_cycle(executor, '/joint_states', cycles=1)
    hammer(S.joint_state_one_bad(names), joints, 15 * scale)
    hammer(S.joint_state_any(names), joints, 20 * scale)
    hammer(S.episode_status_any(), _then_cycle(executor, '/sim/episode_status', cycles=1),
           20 * scale)
