"""The memory node's occupancy map over real DDS: another node publishes PointCloud2 scene
clouds (packed the way the preprocessor packs them, best effort); the memory node, in its
own OS process, ingests at most one per ``cloud_period_s`` into its file's voxels, counts
malformed clouds in MemoryStats.inputs_rejected and keeps running."""

import os
import sqlite3
import subprocess
import sys
import time

import numpy as np
import pytest

rclpy = pytest.importorskip('rclpy')
pytestmark = pytest.mark.ros

from sensor_msgs.msg import PointCloud2, PointField  # noqa: E402

from memory_interfaces.msg import MemoryStats  # noqa: E402
from memory_nodes.lifelong_memory import LifelongMemory  # noqa: E402
from memory_nodes.perception.cloud import pack_cloud  # noqa: E402
from memory_nodes.ros_common import RELIABLE_QOS, SENSOR_QOS, sec_to_stamp  # noqa: E402

PERIOD_S = 0.5


def _start(store):
    return subprocess.Popen(
        [sys.executable, '-m', 'memory_nodes.memory_node', '--ros-args', '-p',
         'autostart:=true', '-p', f'store_path:={store}', '-p', "episode_status_topic:=''",
         '-p', f'cloud_period_s:={PERIOD_S}', '-p', 'stats_period_s:=0.2'],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=dict(os.environ))


def scene(rng, n=3000):
    """A table top at z = 0.02 (x in [0.2, 0.8], y in [-0.3, 0.3]) and a 10 cm cube at
    (0.5, 0.2) on it."""
    table = np.column_stack([rng.uniform(0.2, 0.8, n), rng.uniform(-0.3, 0.3, n),
                             np.full(n, 0.02)])
    m = n // 3
    top = np.column_stack([rng.uniform(0.45, 0.55, m), rng.uniform(0.15, 0.25, m),
                           np.full(m, 0.12)])
    side = np.column_stack([np.full(m, 0.45), rng.uniform(0.15, 0.25, m),
                            rng.uniform(0.02, 0.12, m)])
    pts = np.vstack([table, top, side]) + rng.normal(0, 0.001, (n + 2 * m, 3))
    return pts, np.full((len(pts), 3), 0.5)


def cloud_msg(points, colors=None, t=1.0, frame='world'):
    fields, step, data = pack_cloud(points, colors)
    msg = PointCloud2(height=1, width=len(points), point_step=step,
                      row_step=step * len(points), is_dense=True, is_bigendian=False)
    msg.fields = [PointField(name=n, offset=o, datatype=d, count=c) for n, o, d, c in fields]
    msg.data = data
    msg.header.stamp = sec_to_stamp(t)
    msg.header.frame_id = frame
    return msg


def voxel_rows(store):
    """(rows, most hits) of the node's map, read beside the running writer (WAL)."""
    try:
        with sqlite3.connect(f'file:{store}?mode=ro', uri=True) as conn:
            return conn.execute('SELECT COUNT(*), COALESCE(MAX(hits), 0) FROM voxels'
                                ).fetchone()
    except sqlite3.OperationalError:   # the file is being created
        return 0, 0


class Peer:
    def __init__(self):
        self.node = rclpy.create_node('memory_cloud_test_peer')
        self.pub = self.node.create_publisher(PointCloud2, '/perception/scene_cloud',
                                              SENSOR_QOS)
        self.stats = []
        self.node.create_subscription(MemoryStats, '/memory/stats', self.stats.append,
                                      RELIABLE_QOS)

    def spin(self, seconds):
        end = time.monotonic() + seconds
        while time.monotonic() < end:
            rclpy.spin_once(self.node, timeout_sec=0.02)

    def wait(self, what, timeout=60.0):
        deadline = time.monotonic() + timeout
        while not what():
            assert time.monotonic() < deadline, 'timed out'
            rclpy.spin_once(self.node, timeout_sec=0.05)

    def rejected(self):
        return self.stats[-1].inputs_rejected if self.stats else 0

    def send_until(self, msg, done, timeout=30.0):
        """Best effort: publish once per period until ``done()``."""
        deadline = time.monotonic() + timeout
        while not done():
            assert time.monotonic() < deadline, 'never taken'
            self.pub.publish(msg)
            self.spin(PERIOD_S + 0.1)


def test_memory_node_maps_scene_clouds_and_refuses_bad_ones(tmp_path):
    store = tmp_path / 'memory.db'
    proc = _start(store)
    rclpy.init()
    peer = Peer()
    rng = np.random.default_rng(0)
    try:
        peer.wait(lambda: peer.pub.get_subscription_count() and peer.stats)
        pts, colors = scene(rng)
        peer.send_until(cloud_msg(pts, colors, t=1.0), lambda: voxel_rows(store)[0] > 0)
        rows, hits = voxel_rows(store)
        assert hits == 1 and 100 < rows < 400

        # malformed: each counted, nothing stored, the node keeps going
        bad_nan = cloud_msg(pts.copy(), t=2.0)
        data = bytearray(bad_nan.data)
        data[4 * 3 * 5:4 * 3 * 5 + 4] = np.float32(np.nan).tobytes()   # point 5's x
        bad_nan.data = bytes(data)
        short = cloud_msg(pts, t=2.0)
        short.width += 1                                     # data shorter than declared
        camera = cloud_msg(pts, t=2.0, frame='camera_link')  # not the world frame
        no_z = cloud_msg(pts, t=2.0)
        no_z.fields = no_z.fields[:2]
        for i, bad in enumerate((bad_nan, short, camera, no_z)):
            peer.send_until(bad, lambda i=i: peer.rejected() >= i + 1)
        peer.spin(1.0)
        assert peer.rejected() == 4 and voxel_rows(store) == (rows, hits)

        # a burst far faster than cloud_period_s: at most one cloud per period is taken
        t0 = time.monotonic()
        for k in range(10):
            peer.pub.publish(cloud_msg(*scene(rng), t=3.0 + 0.02 * k))
            peer.spin(0.02)
        burst_s = time.monotonic() - t0
        peer.spin(1.0)
        _, after = voxel_rows(store)
        assert 2 <= after <= 2 + int(burst_s / PERIOD_S) + 1
        assert proc.poll() is None
    finally:
        peer.node.destroy_node()
        rclpy.shutdown()
        proc.terminate()
        out, _ = proc.communicate(timeout=20)
    assert 'rejected input on scene_cloud' in out
    with LifelongMemory(str(store), read_only=True) as mem:
        cube_top = mem.occupied((0.52, 0.22, 0.12), 0.02)
        assert len(cube_top) == 1 and cube_top[0]['hits'] == after
        assert mem.occupied((0.5, 0.2, 0.35), 0.1) == []      # air above the cube
        assert mem.occupied((0.3, -0.2, 0.12), 0.03) == []    # air above the table
        assert len(mem.occupied((0.72, -0.18, 0.02), 0.02)) == 1   # the table
