"""The planner node in its own OS process: an instruction it does not understand is refused
with a clear message and counted, and it goes on to plan the next one (here without
lifelong memory, guessing among the cups it sees) and sends the subgoal."""

import os
import subprocess
import sys
import time

import pytest

rclpy = pytest.importorskip('rclpy')
pytestmark = pytest.mark.ros

from std_msgs.msg import String  # noqa: E402

from memory_interfaces.msg import (  # noqa: E402
    ObjectObservation,
    ObjectObservationArray,
    PlanStatus,
    Subgoal,
)
from memory_nodes.ros_common import LATCHED_QOS, RELIABLE_QOS  # noqa: E402


def _cups():
    msg = ObjectObservationArray()
    for i, y in enumerate((-0.12, 0.0, 0.12)):
        o = ObjectObservation(track_id=f'cup_{i + 1}', label='cup', color='orange',
                              visible=True)
        o.position.x, o.position.y, o.position.z = 0.5, y, 0.05
        o.extent.x = o.extent.y = 0.07
        o.extent.z = 0.1
        msg.objects.append(o)
    return msg


def test_planner_refuses_unknown_instruction_then_plans_the_next():
    proc = subprocess.Popen(
        [sys.executable, '-m', 'memory_nodes.planner_node', '--ros-args', '-p',
         'autostart:=true', '-p', "episode_status_topic:=''", '-p',
         'use_lifelong_memory:=false'],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=dict(os.environ))
    rclpy.init()
    node = rclpy.create_node('planner_peer')
    statuses, subgoals = [], []
    node.create_subscription(PlanStatus, '/planner/status', statuses.append, LATCHED_QOS)
    node.create_subscription(Subgoal, '/planner/subgoal', subgoals.append, RELIABLE_QOS)
    instruction = node.create_publisher(String, '/instruction', LATCHED_QOS)
    objects = node.create_publisher(ObjectObservationArray, '/perception/objects',
                                    RELIABLE_QOS)

    def spin_until(condition, what, seconds=60):
        deadline = time.monotonic() + seconds
        while not condition():
            assert time.monotonic() < deadline, what
            objects.publish(_cups())
            rclpy.spin_once(node, timeout_sec=0.05)

    try:
        spin_until(lambda: objects.get_subscription_count() > 0, 'planner never subscribed')
        instruction.publish(String(data='Dance a little jig on the table.'))
        spin_until(lambda: any(s.state == PlanStatus.STATE_FAILED for s in statuses),
                   'unknown instruction was not refused')
        failed = [s for s in statuses if s.state == PlanStatus.STATE_FAILED][-1]
        assert 'not one the task planner understands' in failed.message
        instruction.publish(String(data='Lift the cup that hides the green ball.'))
        spin_until(lambda: subgoals, 'no subgoal after a valid instruction')
        goal = subgoals[-1]
        assert goal.action == 'lift' and goal.has_target_pose
        assert min(abs(goal.target_pose.pose.position.y - y) for y in (-0.12, 0.0, 0.12)) < 1e-6
        assert abs(goal.target_pose.pose.position.z - 0.088) < 1e-6
        assert 'guess' in goal.text
    finally:
        node.destroy_node()
        rclpy.shutdown()
        proc.terminate()
        out, _ = proc.communicate(timeout=20)
    assert 'rejected input on instruction' in out
    assert proc.returncode == 0, out[-2000:]
