"""The sim bridge takes arm and gripper commands while a step runs: a command callback never
waits for the stepping lock (physics, rendering and publishing of one step). It did once, and
with both callbacks on the node's default (mutually exclusive) callback group the gripper's
queued behind the end-effector target's: in the main job the gripper closed seconds after
the arm had reached a drawer knob and let go mid-pull."""

import threading
import time

import pytest

pytest.importorskip('rclpy')
pytest.importorskip('memory_interfaces.msg')

from geometry_msgs.msg import PoseStamped  # noqa: E402
from rclpy.parameter import Parameter  # noqa: E402
from std_msgs.msg import Float64  # noqa: E402

from memory_interfaces.msg import ActionChunk  # noqa: E402
from memory_nodes.ros_common import autostart  # noqa: E402
from sim.bridge_node import SimBridgeNode  # noqa: E402

pytestmark = pytest.mark.ros


def _in_thread(fn, *args):
    """Run fn(*args) in a thread; return the thread (joined by the caller)."""
    thread = threading.Thread(target=fn, args=args, daemon=True)
    thread.start()
    return thread


def test_commands_are_taken_while_a_step_holds_the_episode(context):
    bridge = SimBridgeNode(context=context, parameter_overrides=[
        Parameter('task', value='count'), Parameter('width', value=32),
        Parameter('height', value=24), Parameter('real_time_factor', value=2.0)])
    try:
        autostart(bridge)  # autoplay: the stepping thread starts an episode of its own
        deadline = time.monotonic() + 60
        while getattr(bridge, 'command', None) is None:
            assert time.monotonic() < deadline, 'the bridge started no episode'
            time.sleep(0.05)
        target = PoseStamped()
        target.pose.position.x, target.pose.position.y, target.pose.position.z = 0.5, 0.2, 0.15
        target.pose.orientation.w = 1.0
        chunk = ActionChunk(dt=0.1, horizon=2, action_dim=5, n_execute=2,
                            actions=[0.4, 0.0, 0.2, 0.0, 1.0, 0.41, 0.0, 0.2, 0.0, 1.0])
        with bridge._lock:  # a step in progress (the stepping thread waits meanwhile)
            start = time.monotonic()
            threads = [_in_thread(bridge.on_ee_target, target),
                       _in_thread(bridge.on_gripper, Float64(data=1.0))]
            for thread in threads:
                thread.join(timeout=5.0)
            taken_s = time.monotonic() - start
            assert not any(t.is_alive() for t in threads), 'a command waited for the step'
            with bridge._command_lock:
                command = bridge.command.tolist()
            _in_thread(bridge.on_action_chunk, chunk).join(timeout=5.0)
            with bridge._command_lock:
                queued = len(bridge.chunk)
        assert taken_s < 1.0, f'{taken_s:.2f} s to take two commands'
        assert command == pytest.approx([0.5, 0.2, 0.15, 0.0, 1.0])
        assert queued == 2
        assert bridge.guard.total_rejected == 0
    finally:
        bridge.trigger_deactivate()
        bridge.destroy_node()
