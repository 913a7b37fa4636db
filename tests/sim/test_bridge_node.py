"""The sim bridge in its own OS process; a separate rclpy process (this test) receives its
topics, commands the arm, and starts a new episode through the service."""

import os
from pathlib import Path
import subprocess
import sys
import threading
import time

import numpy as np
import pytest

pytest.importorskip('rclpy')
pytest.importorskip('memory_interfaces.msg')

from geometry_msgs.msg import PoseStamped  # noqa: E402
import rclpy  # noqa: E402
from rclpy.executors import SingleThreadedExecutor  # noqa: E402
from rosgraph_msgs.msg import Clock  # noqa: E402
from sensor_msgs.msg import CameraInfo, Image, JointState  # noqa: E402
from std_msgs.msg import Float64, String  # noqa: E402

from memory_interfaces.msg import EpisodeStatus  # noqa: E402
from memory_interfaces.srv import StartEpisode  # noqa: E402
from memory_nodes.ros_common import LATCHED_QOS, RELIABLE_QOS, SENSOR_QOS  # noqa: E402

pytestmark = pytest.mark.ros
ROOT = Path(__file__).resolve().parents[2]
TOPICS = {
    '/camera/scene/color/image_raw': (Image, SENSOR_QOS),
    '/camera/scene/depth/image_raw': (Image, SENSOR_QOS),
    '/camera/scene/segmentation/image_raw': (Image, SENSOR_QOS),
    '/camera/wrist/color/image_raw': (Image, SENSOR_QOS),
    '/camera/scene/camera_info': (CameraInfo, SENSOR_QOS),
    '/joint_states': (JointState, SENSOR_QOS),
    '/clock': (Clock, SENSOR_QOS),
    '/instruction': (String, LATCHED_QOS),
    '/sim/episode_status': (EpisodeStatus, LATCHED_QOS),
}


@pytest.fixture
def bridge(tmp_path):
    log = open(tmp_path / 'bridge.log', 'w')
    argv = [sys.executable, '-m', 'sim.bridge_node', '--ros-args', '-p', 'autostart:=true',
            '-p', 'task:=remember_color', '-p', 'seed:=2', '-p', 'real_time_factor:=3.0',
            '-p', 'width:=48', '-p', 'height:=32']
    env = dict(os.environ, PYTHONUNBUFFERED='1')
    proc = subprocess.Popen(argv, cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT)
    yield proc, tmp_path / 'bridge.log'
    proc.terminate()
    try:
        proc.wait(timeout=20)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait(timeout=5)
    log.close()


class Listener:
    def __init__(self):
        self.context = rclpy.Context()
        rclpy.init(context=self.context)
        self.node = rclpy.create_node('sim_bridge_test', context=self.context)
        self.msgs = {t: [] for t in TOPICS}
        self.lock = threading.Lock()
        for topic, (msg_type, qos) in TOPICS.items():
            self.node.create_subscription(msg_type, topic,
                                          lambda m, t=topic: self._store(t, m), qos)
        self.target = self.node.create_publisher(PoseStamped, '/sim/ee_target', RELIABLE_QOS)
        self.gripper = self.node.create_publisher(Float64, '/sim/gripper', RELIABLE_QOS)
        self.start = self.node.create_client(StartEpisode, '/sim/start_episode')
        self.executor = SingleThreadedExecutor(context=self.context)
        self.executor.add_node(self.node)
        self.thread = threading.Thread(target=self.executor.spin, daemon=True)
        self.thread.start()

    def _store(self, topic, msg):
        with self.lock:
            self.msgs[topic].append(msg)

    def wait(self, predicate, timeout, what):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with self.lock:
                if predicate(self.msgs):
                    return
            time.sleep(0.05)
        with self.lock:
            counts = {t: len(v) for t, v in self.msgs.items()}
        raise AssertionError(f'timed out waiting for {what}; received {counts}')

    def call(self, request, timeout=30.0):
        assert self.start.wait_for_service(timeout_sec=timeout)
        future = self.start.call_async(request)
        deadline = time.monotonic() + timeout
        while not future.done() and time.monotonic() < deadline:
            time.sleep(0.05)
        assert future.done(), 'start_episode did not answer'
        return future.result()

    def close(self):
        self.executor.shutdown(timeout_sec=1.0)
        self.node.destroy_node()
        rclpy.try_shutdown(context=self.context)


def test_bridge_topics_commands_and_episodes_across_processes(bridge):
    proc, log = bridge
    listener = Listener()
    try:
        listener.wait(lambda m: all(m[t] for t in TOPICS), 60, 'every topic')
        with listener.lock:
            color = listener.msgs['/camera/scene/color/image_raw'][-1]
            depth = listener.msgs['/camera/scene/depth/image_raw'][-1]
            seg = listener.msgs['/camera/scene/segmentation/image_raw'][-1]
            info = listener.msgs['/camera/scene/camera_info'][-1]
            instruction = listener.msgs['/instruction'][-1].data
        assert (color.width, color.height, color.encoding) == (48, 32, 'rgb8')
        assert depth.encoding == '32FC1' and seg.encoding == '32SC1'
        assert len(color.data) == 48 * 32 * 3 and info.k[0] > 0
        assert 'colour' in instruction
        # Simulated time advances on /clock.
        listener.wait(lambda m: len(m['/clock']) > 20, 30, 'clock ticks')
        with listener.lock:
            ticks = [c.clock.sec + c.clock.nanosec * 1e-9 for c in listener.msgs['/clock']]
        assert ticks[-1] > ticks[0]
        # Wait for the act phase, then command the gripper somewhere and see the joints move.
        listener.wait(lambda m: m['/sim/episode_status'][-1].phase == 2, 30, 'act phase')
        with listener.lock:
            before = np.array(listener.msgs['/joint_states'][-1].position)
        target = PoseStamped()
        target.header.frame_id = 'world'
        target.pose.position.x, target.pose.position.y, target.pose.position.z = 0.5, 0.2, 0.15
        target.pose.orientation.w = 1.0
        listener.target.publish(target)
        listener.gripper.publish(Float64(data=1.0))
        listener.wait(lambda m: np.abs(np.array(m['/joint_states'][-1].position)[:6]
                                       - before[:6]).max() > 0.2, 30, 'the arm to move')
        # A bad knob is refused with its name; a good request starts the new episode.
        bad = listener.call(StartEpisode.Request(task='count', seed=1, mode='memory',
                                                 knob_names=['blinks'], knob_values=[3.0]))
        assert not bad.success and 'blinks' in bad.message
        good = listener.call(StartEpisode.Request(task='count', seed=1, mode='oracle',
                                                  knob_names=['max_blinks'],
                                                  knob_values=[3.0]))
        assert good.success and good.time_limit_s > 0 and 'blinks' in good.instruction
        listener.wait(lambda m: m['/instruction'][-1].data == good.instruction, 30,
                      'the new instruction')
        listener.wait(lambda m: m['/sim/episode_status'][-1].task == 'count', 30,
                      'the new episode status')
    finally:
        listener.close()
    assert proc.poll() is None, log.read_text()
