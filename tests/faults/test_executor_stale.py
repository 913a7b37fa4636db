"""The executor in its own OS process when its inputs stop mid-motion and come back.

tests/nodes/test_executor_node.py shows the hold when joint states stop; here the action
chunks stop while the arm follows them (the action expert died), then both inputs return:
the executor must hold one pose within its stale timeout, say so once, and move again when
fresh inputs arrive, reporting how many cycles it held.
"""

import os
import subprocess
import sys
import time

import pytest

rclpy = pytest.importorskip('rclpy')
pytestmark = pytest.mark.ros

from geometry_msgs.msg import PoseStamped  # noqa: E402
from sensor_msgs.msg import JointState  # noqa: E402

from memory_interfaces.msg import ActionChunk, Subgoal  # noqa: E402
from memory_nodes.ros_common import RELIABLE_QOS, SENSOR_QOS  # noqa: E402


def chunk(node, x0, n=30):
    msg = ActionChunk()
    now = node.get_clock().now().to_msg()
    msg.header.stamp = msg.observation_stamp = now
    msg.dt, msg.horizon, msg.action_dim, msg.n_execute = 0.1, n, 5, n
    msg.actions = [v for i in range(n) for v in (x0 + 0.005 * i, 0.0, 0.3, 0.0, 0.0)]
    return msg


def test_chunks_stop_mid_motion_the_executor_holds_then_resumes():
    proc = subprocess.Popen(
        [sys.executable, '-m', 'memory_nodes.executor_node', '--ros-args',
         '-p', 'autostart:=true', '-p', "primitive_actions:=['']", '-p', 'stale_chunk_s:=0.5'],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=dict(os.environ))
    rclpy.init()
    node = rclpy.create_node('executor_stale_peer')
    targets = []
    node.create_subscription(PoseStamped, '/sim/ee_target',
                             lambda m: targets.append((time.monotonic(), m.pose.position.x)),
                             RELIABLE_QOS)
    joints = node.create_publisher(JointState, '/joint_states', SENSOR_QOS)
    subgoals = node.create_publisher(Subgoal, '/planner/subgoal', RELIABLE_QOS)
    chunks = node.create_publisher(ActionChunk, '/action_expert/chunk', RELIABLE_QOS)

    def spin(seconds, send_chunks_from=None):
        end = time.monotonic() + seconds
        last = 0.0
        while time.monotonic() < end:
            joints.publish(JointState(name=['j1'], position=[0.0]))
            if send_chunks_from is not None and time.monotonic() - last > 0.2:
                last = time.monotonic()
                x = targets[-1][1] if targets else send_chunks_from
                chunks.publish(chunk(node, x))
            rclpy.spin_once(node, timeout_sec=0.02)

    try:
        deadline = time.monotonic() + 60
        while min(subgoals.get_subscription_count(), chunks.get_subscription_count(),
                  joints.get_subscription_count()) == 0:
            assert time.monotonic() < deadline, 'executor never subscribed'
            spin(0.1)
        # joint states flowing before the subgoal: otherwise the first cycles hold on
        # ['action_chunk', 'joint_states'] (right, but not the hold this test is about)
        spin(0.5)
        subgoals.publish(Subgoal(plan_id='p', action='push', target='cube', text='push',
                                 timeout_s=60.0))
        spin(1.5, send_chunks_from=0.4)
        moving = [x for _, x in targets]
        assert len(moving) >= 8 and moving[-1] > moving[0] + 0.01, 'did not follow chunks'
        # the action expert dies: no more chunks; the queued one covers 3 s, so what stops
        # the arm is the executor's stale_chunk_s, not the chunk running out
        t_stop = time.monotonic()
        spin(2.5)
        after = [(t, x) for t, x in targets if t > t_stop + 0.5 + 0.3]
        assert after, 'the executor stopped sending (a hold repeats the pose)'
        assert len({round(x, 6) for _, x in after}) == 1, 'moved on stale chunks'
        held_x = after[-1][1]
        # chunks return: the arm moves on from where it held
        t_back = time.monotonic()
        spin(1.5, send_chunks_from=held_x)
        resumed = [x for t, x in targets if t > t_back + 0.3]
        assert resumed and max(resumed) > held_x + 0.005, 'did not resume'
    finally:
        node.destroy_node()
        rclpy.shutdown()
        proc.terminate()
        out, _ = proc.communicate(timeout=10)
    assert "holding still: stale inputs ['action_chunk']" in out, out[-2000:]
    # the stale-chunk hold is said once, not every cycle
    assert out.count("holding still: stale inputs ['action_chunk']") == 1, out[-2000:]
    assert 'inputs fresh again after' in out and '1 stale holds so far' in out, out[-2000:]
