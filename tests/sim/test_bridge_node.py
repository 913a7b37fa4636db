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
import mujoco  # noqa: E402
import rclpy  # noqa: E402
from rclpy.executors import SingleThreadedExecutor  # noqa: E402
from rosgraph_msgs.msg import Clock  # noqa: E402
from sensor_msgs.msg import CameraInfo, Image, JointState  # noqa: E402
from std_msgs.msg import Float64, String  # noqa: E402

from memory_interfaces.msg import EpisodeStatus  # noqa: E402
from memory_interfaces.srv import StartEpisode  # noqa: E402
from memory_nodes.perception.camera import (  # noqa: E402
    CameraIntrinsics,
    pose_matrix,
    project_points,
)
from memory_nodes.perception.labels import DEFAULT_CLASS_NAMES, InstanceLabeler  # noqa: E402
from memory_nodes.ros_common import LATCHED_QOS, RELIABLE_QOS, SENSOR_QOS  # noqa: E402
import sim  # noqa: E402
from sim import instance_ids  # noqa: E402

pytestmark = pytest.mark.ros
ROOT = Path(__file__).resolve().parents[2]
TOPICS = {
    '/camera/scene/color/image_raw': (Image, SENSOR_QOS),
    '/camera/scene/depth/image_raw': (Image, SENSOR_QOS),
    '/camera/scene/segmentation/image_raw': (Image, SENSOR_QOS),
    '/camera/wrist/color/image_raw': (Image, SENSOR_QOS),
    '/camera/scene/camera_info': (CameraInfo, SENSOR_QOS),
    '/camera/scene/pose': (PoseStamped, LATCHED_QOS),
    '/joint_states': (JointState, SENSOR_QOS),
    '/sim/ee_pose': (PoseStamped, SENSOR_QOS),
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


def _stamp(msg):
    return round(msg.header.stamp.sec + msg.header.stamp.nanosec * 1e-9, 3)


def _check_camera_model_and_ids(listener, timeout=60.0):
    """Project each object's true centre (from a replay of the bridge's deterministic episode
    to the frame's step) through the published CameraInfo (P, as the preprocessor reads it)
    and camera pose: the pixel there must hold that object's id in the published
    segmentation, and the preprocessor's default labeler must name its kind. Checks the
    first frame with an object in view, waiting for more frames while there is none: a
    listener that joins late (slow discovery on a loaded machine) may first see only the
    delay, when the cue cube is parked and no candidate stands yet."""
    env = sim.make_env('remember_color', 2, render=False)  # the fixture's episode
    env.reset()
    hold = np.array([*env.ref_pose, 0.0])  # the bridge's command until told otherwise
    looked, deadline = set(), time.monotonic() + timeout
    while True:
        with listener.lock:
            segs = {_stamp(m): m for m in listener.msgs['/camera/scene/segmentation/image_raw']}
            infos = {_stamp(m): m for m in listener.msgs['/camera/scene/camera_info']}
            poses = {_stamp(m): m for m in listener.msgs['/camera/scene/pose']}
        stamps = sorted(set(segs) & set(infos) & set(poses))
        for t in stamps:
            if t in looked or round(t / 0.1) < env.step_count:
                continue
            looked.add(t)
            while env.step_count < round(t / 0.1):  # valid: the test has not moved the arm
                env.step(hold)
            checked = _check_frame(env, segs[t], infos[t], poses[t])
            if checked:
                return t, checked
        if time.monotonic() > deadline:
            raise AssertionError(f'no object in view to check at any of t = {sorted(looked)}')
        time.sleep(0.1)


def _check_frame(env, seg, info, pose):
    """The objects in view in one frame, each checked at its projected centre."""
    p = np.asarray(info.p).reshape(3, 4)
    k = [p[0, 0], 0.0, p[0, 2], 0.0, p[1, 1], p[1, 2], 0.0, 0.0, 1.0]
    assert (p[0, 2], p[1, 2]) == ((info.width - 1) / 2, (info.height - 1) / 2)
    intrinsics = CameraIntrinsics.from_k(k, info.width, info.height)
    o, q = pose.pose.position, pose.pose.orientation
    t_world_camera = pose_matrix((o.x, o.y, o.z), (q.x, q.y, q.z, q.w))
    image = np.frombuffer(bytes(seg.data), np.int32).reshape(seg.height, seg.width)
    ids = instance_ids.slot_ids(env)
    labeler = InstanceLabeler(DEFAULT_CLASS_NAMES)
    camera = env.data.cam_xpos[env.model.cam('scene').id].copy()
    checked = []
    for slot, name in enumerate(env.slot_names):
        geoms = [g for g in range(env.model.ngeom)
                 if env.model.geom(g).name.startswith(name + '/')]
        if name == 'goal' or env.is_parked(name) or not geoms:
            continue
        centre = env.data.geom_xpos[geoms[0]].copy()
        first = np.zeros(1, np.int32)
        mujoco.mj_ray(env.model, env.data, camera, centre - camera,
                      np.array([1, 1, 1, 0, 0, 0], np.uint8), 1, -1, first)
        if int(first[0]) not in geoms:
            continue  # occluded
        u, v, _ = project_points(centre[None], intrinsics, t_world_camera)
        col, row = int(round(u[0])), int(round(v[0]))
        assert image[row, col] == ids[slot], (name, u, v, image[row, col], ids[slot])
        assert labeler.classify(image[row, col]).label == env.objects[name].kind
        checked.append(name)
    return checked


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
        print('camera model checked at', _check_camera_model_and_ids(listener))
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
        # the measured pinch pose (/sim/ee_pose) follows the arm to the target
        def _at_target(m):
            p = m['/sim/ee_pose'][-1].pose.position
            return np.linalg.norm(np.array([p.x, p.y, p.z]) - (0.5, 0.2, 0.15)) < 0.02
        listener.wait(_at_target, 30, 'the measured pinch pose at the target')
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
