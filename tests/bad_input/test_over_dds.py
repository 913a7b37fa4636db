"""Ties the in-process callback tests to the real transport: bad messages published over DDS
reach the memory node spinning on the project's WorkerThreadExecutor, are counted, leave the
store unchanged, and the node still ingests good input and answers a query afterwards."""

import threading
import time

import pytest

rclpy = pytest.importorskip('rclpy')
pytestmark = pytest.mark.ros

from rclpy.parameter import Parameter  # noqa: E402

from memory_interfaces.msg import MemoryEvent, ObjectObservationArray  # noqa: E402
from memory_interfaces.srv import QueryMemory  # noqa: E402
from memory_nodes.memory_node import MemoryNode  # noqa: E402
from memory_nodes.ros_common import RELIABLE_QOS, autostart  # noqa: E402
from memory_nodes.worker_executor import WorkerThreadExecutor  # noqa: E402
from tests.bad_input import strategies as S  # noqa: E402
from tests.bad_input.test_memory_inputs import store_digest  # noqa: E402


def _wait(condition, what, timeout=30.0):
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, f'timed out waiting for {what}'
        time.sleep(0.02)


def test_bad_messages_over_dds_are_counted_and_survived(context, tmp_path):
    store = tmp_path / 'memory.db'
    node = MemoryNode(context=context, parameter_overrides=[
        Parameter('store_path', value=str(store)), Parameter('stats_period_s', value=0.0)])
    peer = rclpy.create_node('bad_input_peer', context=context)
    executor = WorkerThreadExecutor(num_threads=2, context=context)
    stop = threading.Event()
    spinner = threading.Thread(target=executor.spin_until, args=(stop,), daemon=True)
    try:
        autostart(node)
        executor.add_node(node)
        executor.add_node(peer)
        spinner.start()
        objects = peer.create_publisher(ObjectObservationArray, '/perception/objects',
                                        RELIABLE_QOS)
        events = peer.create_publisher(MemoryEvent, '/memory/events', RELIABLE_QOS)
        client = peer.create_client(QueryMemory, '/memory/query')
        _wait(lambda: objects.get_subscription_count() and events.get_subscription_count()
              and client.service_is_ready(), 'the memory node on DDS')
        node.memory.flush()
        before = store_digest(store)
        bad = [S.observation_array([S.observation(position=(float('nan'), 0.0, 0.0))]),
               S.observation_array([S.observation(label='')]),
               S.observation_array([S.observation(confidence=float('inf'))])]
        for msg in bad:
            objects.publish(msg)
        events.publish(S.memory_event(kind=''))
        events.publish(S.memory_event(text='t' * 2001))
        _wait(lambda: node.guard.total_rejected >= 5, 'five rejections')
        assert node.guard.rejected == {'observations': 3, 'events': 2}
        assert "label=''" in node.guard.last_error['observations'] or \
            'confidence' in node.guard.last_error['observations']
        node.memory.flush()
        assert store_digest(store) == before
        objects.publish(S.observation_array([S.observation(label='teapot')], seconds=9.0))
        _wait(lambda: node.acknowledged >= 1, 'the good observation')
        future = client.call_async(QueryMemory.Request(kind=0, text='teapot', k=5))
        _wait(future.done, 'the query answer')
        answer = future.result()
        assert answer.success and answer.results and 'teapot' in answer.results[0].subject
    finally:
        stop.set()
        spinner.join(timeout=5)
        executor.shutdown(timeout_sec=1.0)
        peer.destroy_node()
        node.destroy_node()
