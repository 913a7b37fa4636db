"""The action-expert node in its own OS process: loads a checkpoint (a small network with
the simulator's input sizes, saved by the project's checkpoint code), turns the topics into
the policy's observation, publishes chunks stamped with the image they came from, and
survives malformed input (wrong image size, NaN joints) with a logged, counted error."""

import math
import os
import subprocess
import sys
import time

import numpy as np
import pytest

rclpy = pytest.importorskip('rclpy')
torch = pytest.importorskip('torch')
pytestmark = pytest.mark.ros

from geometry_msgs.msg import PoseStamped  # noqa: E402
from sensor_msgs.msg import Image, JointState  # noqa: E402
from std_msgs.msg import String  # noqa: E402

from memory_interfaces.msg import ActionChunk, EpisodeStatus  # noqa: E402
from memory_nodes.action_expert_node import DEFAULT_JOINTS  # noqa: E402
from memory_nodes.policy_inputs import load_policy_inputs  # noqa: E402
from memory_nodes.ros_common import (  # noqa: E402
    LATCHED_QOS,
    RELIABLE_QOS,
    SENSOR_QOS,
    sec_to_stamp,
)
from tests.nodes.action_expert_checkpoint import save_tiny_node_checkpoint  # noqa: E402

JOINTS = DEFAULT_JOINTS + ['finger_left', 'finger_right']


@pytest.fixture(scope='module')
def checkpoint(tmp_path_factory):
    return save_tiny_node_checkpoint(tmp_path_factory.mktemp('ckpt') / 'tiny')


def _image(t, w=128, h=96, bad=False):
    msg = Image(height=h, width=w, encoding='rgb8', step=w * 3)
    msg.header.stamp = sec_to_stamp(t)
    data = np.random.default_rng(0).integers(0, 255, (h, w, 3), np.uint8).tobytes()
    msg.data = data[:-7] if bad else data
    return msg


def _start_node(checkpoint, record, *params):
    """The node in its own OS process on the tiny checkpoint, recording into ``record``."""
    args = ['autostart:=true', f'checkpoint:={checkpoint}', 'device:=cpu',
            'max_latency_s:=5.0', f'record_dir:={record}', *params]
    return subprocess.Popen(
        [sys.executable, '-m', 'memory_nodes.action_expert_node', '--ros-args',
         *[x for a in args for x in ('-p', a)]],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=dict(os.environ))


def _peer(name):
    """A peer node: the chunks it receives and publishers of the node's inputs."""
    node = rclpy.create_node(name)
    chunks = []
    node.create_subscription(ActionChunk, '/action_expert/chunk', chunks.append, RELIABLE_QOS)
    pubs = {'scene': (Image, '/camera/scene/color/image_raw', SENSOR_QOS),
            'wrist': (Image, '/camera/wrist/color/image_raw', SENSOR_QOS),
            'joints': (JointState, '/joint_states', SENSOR_QOS),
            'ee': (PoseStamped, '/sim/ee_pose', SENSOR_QOS),
            'instruction': (String, '/instruction', LATCHED_QOS),
            'status': (EpisodeStatus, '/sim/episode_status', LATCHED_QOS)}
    return node, chunks, {k: node.create_publisher(*v) for k, v in pubs.items()}


def _of_episode(chunks, episode_id='ep'):
    """The chunks of episode ``episode_id`` (those from its first on)."""
    first = next((i for i, c in enumerate(chunks) if c.episode_id == episode_id), len(chunks))
    return chunks[first:]


def _stop(node, proc):
    """Tear down the peer and the node's process; return (and print the tail of) its log."""
    node.destroy_node()
    rclpy.shutdown()
    proc.terminate()
    out, _ = proc.communicate(timeout=20)
    print(out[-3000:])
    return out


def test_action_expert_publishes_stamped_chunks_and_survives_bad_input(checkpoint, tmp_path):
    record = tmp_path / 'policy_inputs'
    proc = _start_node(checkpoint, record, 'inference_steps:=2')
    rclpy.init()
    node, chunks, pub = _peer('action_expert_peer')
    scene, wrist, joints, ee = pub['scene'], pub['wrist'], pub['joints'], pub['ee']
    instruction, status = pub['instruction'], pub['status']

    def publish(t, bad_image=False, nan_joint=False):
        scene.publish(_image(t, bad=bad_image))
        wrist.publish(_image(t))
        js = JointState(name=JOINTS, position=[0.1] * len(JOINTS))
        if nan_joint:
            js.position[2] = math.nan
        js.header.stamp = sec_to_stamp(t)
        joints.publish(js)
        pose = PoseStamped()
        pose.header.stamp = sec_to_stamp(t)
        pose.pose.position.x, pose.pose.position.z, pose.pose.orientation.w = 0.32, 0.3, 1.0
        ee.publish(pose)

    try:
        instruction.publish(String(data='Lift the cup that hides the green ball.'))
        status.publish(EpisodeStatus(episode_id='ep', state=EpisodeStatus.STATE_RUNNING,
                                     phase=2, instruction='x'))
        deadline = time.monotonic() + 120
        t = time.time()  # the node (no sim time) drops chunks of observations older than 5 s
        t0 = t
        # the latched instruction and status may reach the node one after the other (a slow
        # host): a chunk before the status is of episode '' and the status resets the policy
        while len(_of_episode(chunks)) < 3:
            assert time.monotonic() < deadline, 'no chunks'
            t += 0.05
            publish(t)
            rclpy.spin_once(node, timeout_sec=0.05)
        chunks[:] = _of_episode(chunks)
        c = chunks[-1]
        assert (c.horizon, c.action_dim, c.n_execute) == (16, 5, 8)
        assert list(c.action_names) == ['x', 'y', 'z', 'yaw', 'gripper']
        assert np.all(np.isfinite(c.actions)) and len(c.actions) == 80
        assert t0 < c.observation_stamp.sec + c.observation_stamp.nanosec * 1e-9 <= t
        assert c.episode_id == 'ep' and c.inference_ms > 0
        steps = [m.time_step for m in chunks]
        assert steps == sorted(steps)
        # malformed: a truncated image, then NaN joints; the node logs, counts, goes on
        for bad in ({'bad_image': True}, {'nan_joint': True}):
            end = time.monotonic() + 1.0
            while time.monotonic() < end:
                t += 0.05
                publish(t, **bad)
                rclpy.spin_once(node, timeout_sec=0.05)
        before = len(chunks)
        end = time.monotonic() + 30
        while len(chunks) < before + 2 and time.monotonic() < end:
            t += 0.05
            publish(t)
            rclpy.spin_once(node, timeout_sec=0.05)
        assert len(chunks) >= before + 2, 'node stopped after malformed input'
        # trigger 'image' (the default): one inference per new scene image, none between
        end = time.monotonic() + 1.0
        while time.monotonic() < end:  # let the last chunks arrive
            rclpy.spin_once(node, timeout_sec=0.05)
        before, sent = len(chunks), []
        for _ in range(5):
            t += 0.05
            publish(t)
            sent.append(t)
            end = time.monotonic() + 0.4  # far longer than one inference of this network
            while time.monotonic() < end:
                rclpy.spin_once(node, timeout_sec=0.05)
        stamps = [m.observation_stamp.sec + m.observation_stamp.nanosec * 1e-9
                  for m in chunks[before:]]
        assert stamps == pytest.approx(sent, abs=1e-6)
        # the episode ends: the node writes what its policy saw and answered (record_dir)
        status.publish(EpisodeStatus(episode_id='ep', state=EpisodeStatus.STATE_SUCCEEDED,
                                     phase=2, instruction='x'))
        end = time.monotonic() + 20
        while not (record / 'ep.npz').exists() and time.monotonic() < end:
            t += 0.05
            publish(t)
            rclpy.spin_once(node, timeout_sec=0.05)
        recorded = load_policy_inputs(record / 'ep.npz')
        assert recorded['episode_id'] == 'ep'
        n = len(recorded['step'])
        assert n >= len(chunks)  # every inference, chunks dropped as late too
        assert list(recorded['step']) == list(range(n))
        assert recorded['chunk'].shape == (n, 16, 5) and recorded['objects'].shape == (n, 6, 10)
        np.testing.assert_allclose(recorded['proprio'][-1], [0.1] * 6 + [0.2, 0.32, 0, 0.3, 0],
                                   atol=1e-6)  # joints, gripper opening, the pose published
        mine = {round(m.observation_stamp.sec + m.observation_stamp.nanosec * 1e-9, 6): m
                for m in chunks}
        row = [i for i, s in enumerate(recorded['stamp']) if round(float(s), 6) in mine][-1]
        np.testing.assert_allclose(recorded['chunk'][row].reshape(-1),
                                   mine[round(float(recorded['stamp'][row]), 6)].actions,
                                   rtol=1e-6)
    finally:
        out = _stop(node, proc)
    assert 'rejected input on observation' in out
    assert 'not finite' in out
    assert '2 DDIM steps per chunk' in out   # the inference_steps parameter
    assert proc.returncode == 0, out[-2000:]


def test_a_chunk_every_replan_every_policy_steps(checkpoint, tmp_path):
    """replan_every: 3: one chunk per 3 scene images (policy steps 0, 3, 6, ...); the steps
    between run the policy (bank writes) and are recorded with a NaN chunk. (With
    hold_missed_steps set: it reaches the policy.)"""
    record = tmp_path / 'policy_inputs'
    proc = _start_node(checkpoint, record, 'replan_every:=3', 'hold_missed_steps:=2')
    rclpy.init()
    node, chunks, pub = _peer('action_expert_replan_peer')
    scene, wrist, joints = pub['scene'], pub['wrist'], pub['joints']
    instruction, status = pub['instruction'], pub['status']

    def publish(t):
        wrist.publish(_image(t))
        js = JointState(name=JOINTS, position=[0.1] * len(JOINTS))
        js.header.stamp = sec_to_stamp(t)
        joints.publish(js)
        scene.publish(_image(t))  # the trigger, last

    try:
        instruction.publish(String(data='Lift the cup that hides the green ball.'))
        status.publish(EpisodeStatus(episode_id='ep', state=EpisodeStatus.STATE_RUNNING,
                                     phase=2, instruction='x'))
        t, deadline = time.time(), time.monotonic() + 120
        while not _of_episode(chunks):  # the node is up and has planned the episode's step 0
            assert time.monotonic() < deadline, 'no chunks'
            t += 0.05
            publish(t)
            rclpy.spin_once(node, timeout_sec=0.05)
        end = time.monotonic() + 2.0
        while time.monotonic() < end:
            rclpy.spin_once(node, timeout_sec=0.05)
        chunks[:] = _of_episode(chunks)  # not any of episode '' before it
        for _ in range(9):  # one policy step per image: far longer than one inference
            t += 0.05
            publish(t)
            end = time.monotonic() + 0.4
            while time.monotonic() < end:
                rclpy.spin_once(node, timeout_sec=0.05)
        steps = [m.time_step for m in chunks]
        assert len(steps) >= 3 and steps == list(range(0, 3 * len(steps), 3)), steps
        status.publish(EpisodeStatus(episode_id='ep', state=EpisodeStatus.STATE_SUCCEEDED,
                                     phase=2, instruction='x'))
        end = time.monotonic() + 20
        while not (record / 'ep.npz').exists() and time.monotonic() < end:
            rclpy.spin_once(node, timeout_sec=0.05)
        recorded = load_policy_inputs(record / 'ep.npz')
        planned = np.isfinite(recorded['chunk']).all(axis=(1, 2))
        assert list(np.flatnonzero(planned)) == [s for s in recorded['step'] if s % 3 == 0]
        assert np.isnan(recorded['chunk'][~planned]).all() and (~planned).sum() >= 6
    finally:
        out = _stop(node, proc)
    assert 'a chunk every 3 policy steps' in out
    assert 'missed for up to 2 steps held' in out   # the hold_missed_steps parameter
    assert proc.returncode == 0, out[-2000:]


def test_frames_and_objects_from_before_the_episode_are_stale():
    """The episode status dates the episode's start (stamp minus elapsed time): a message
    stamped earlier belongs to the episode before (its last perception output would take
    object slots of the new one) and is not used; without a status nothing is stale."""
    from memory_nodes.action_expert_node import ActionExpertNode

    status = EpisodeStatus(episode_id='b', state=EpisodeStatus.STATE_RUNNING, elapsed_s=5.0)
    status.header.stamp = sec_to_stamp(20.0)  # started at 15 s
    snap = {'status': status}
    assert ActionExpertNode._before_episode(sec_to_stamp(14.9), snap)
    assert not ActionExpertNode._before_episode(sec_to_stamp(15.0), snap)
    assert not ActionExpertNode._before_episode(sec_to_stamp(19.0), snap)
    assert not ActionExpertNode._before_episode(sec_to_stamp(1.0), {})
