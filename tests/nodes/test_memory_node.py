"""The memory node in its own OS process: ingests observations and events over DDS, answers
QueryMemory, counts malformed input and keeps running, and after a SIGKILL and a restart on
the same file still holds everything it had acknowledged."""

import math
import os
import signal
import subprocess
import sys
import time

import pytest

rclpy = pytest.importorskip('rclpy')
pytestmark = pytest.mark.ros

from memory_interfaces.msg import (  # noqa: E402
    MemoryEvent,
    ObjectObservation,
    ObjectObservationArray,
)
from memory_interfaces.srv import QueryMemory  # noqa: E402
from memory_nodes.ros_common import RELIABLE_QOS, sec_to_stamp  # noqa: E402


def _start(store):
    return subprocess.Popen(
        [sys.executable, '-m', 'memory_nodes.memory_node', '--ros-args', '-p',
         'autostart:=true', '-p', f'store_path:={store}', '-p', "episode_status_topic:=''"],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=dict(os.environ))


def _observations(t, x=0.5, label='cube', color='red'):
    msg = ObjectObservationArray()
    msg.header.stamp = sec_to_stamp(t)
    msg.header.frame_id = 'world'
    o = ObjectObservation(label=label, color=color, visible=True, confidence=1.0)
    o.header = msg.header
    o.position.x, o.position.y, o.position.z = x, 0.1, 0.02
    o.extent.x = o.extent.y = o.extent.z = 0.04
    o.position_covariance = [1e-5, 0, 0, 0, 1e-5, 0, 0, 0, 1e-5]
    msg.objects = [o]
    return msg


class Peer:
    def __init__(self):
        self.node = rclpy.create_node('memory_test_peer')
        self.obs = self.node.create_publisher(ObjectObservationArray, '/perception/objects',
                                              RELIABLE_QOS)
        self.events = self.node.create_publisher(MemoryEvent, '/memory/events', RELIABLE_QOS)
        self.client = self.node.create_client(QueryMemory, '/memory/query')

    def wait_ready(self, timeout=60):
        deadline = time.monotonic() + timeout
        while not (self.client.service_is_ready() and self.obs.get_subscription_count()
                   and self.events.get_subscription_count()):
            assert time.monotonic() < deadline, 'memory node never came up'
            rclpy.spin_once(self.node, timeout_sec=0.1)

    def ask(self, kind, text='', k=50, timeout=60):
        # re-sent every 5 s: after a restart the graph may still show the killed server
        deadline = time.monotonic() + timeout
        while True:
            future = self.client.call_async(QueryMemory.Request(kind=kind, text=text, k=k))
            resend = time.monotonic() + 5
            while not future.done() and time.monotonic() < resend:
                rclpy.spin_once(self.node, timeout_sec=0.05)
            if future.done():
                return future.result()
            self.client.remove_pending_request(future)
            assert time.monotonic() < deadline, 'query timed out'

    def spin(self, seconds):
        end = time.monotonic() + seconds
        while time.monotonic() < end:
            rclpy.spin_once(self.node, timeout_sec=0.02)


def test_memory_node_answers_refuses_and_survives_sigkill(tmp_path):
    store = tmp_path / 'memory.db'
    proc = _start(store)
    rclpy.init()
    peer = Peer()
    try:
        peer.wait_ready()
        for i in range(20):
            peer.obs.publish(_observations(1.0 + 0.1 * i))
            peer.spin(0.02)
        bad = _observations(3.5)
        bad.objects[0].position.x = math.nan
        peer.obs.publish(bad)
        for i in range(5):
            ev = MemoryEvent(kind='button_pressed', subject='blue button', source='test')
            ev.header.stamp = sec_to_stamp(4.0 + 2.0 * i)  # apart: repeats merge
            peer.events.publish(ev)
        peer.spin(1.0)
        where = peer.ask(QueryMemory.Request.KIND_WHERE, 'red cube')
        assert where.success and where.results, where.message
        assert where.results[0].position.x == pytest.approx(0.5, abs=0.01)
        refused = peer.ask(QueryMemory.Request.KIND_WHERE, '')
        assert not refused.success and 'text' in refused.message
        before = peer.ask(QueryMemory.Request.KIND_WHAT_HAPPENED, k=100)
        kinds = [e.kind for e in before.results]
        assert kinds.count('button_pressed') == 5

        # kill -9 mid-stream: what was acknowledged (older than the 100 ms batch) survives
        for i in range(10):
            peer.obs.publish(_observations(20.0 + 0.1 * i, x=0.5 + 0.02 * i))
            peer.spin(0.02)
        peer.spin(0.5)
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=10)
        proc = _start(store)
        peer.wait_ready()
        after = peer.ask(QueryMemory.Request.KIND_WHAT_HAPPENED, k=100)
        assert [e.kind for e in after.results].count('button_pressed') == 5
        moved = peer.ask(QueryMemory.Request.KIND_WHERE, 'red cube')
        assert moved.results[0].position.x > 0.6  # the last acknowledged move is there
    finally:
        peer.node.destroy_node()
        rclpy.shutdown()
        proc.terminate()
        out, _ = proc.communicate(timeout=10)
    import sqlite3
    assert sqlite3.connect(store).execute('PRAGMA integrity_check').fetchone()[0] == 'ok'
