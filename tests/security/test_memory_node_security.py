"""The memory node's security rules, on a real node, a real SQLite file and the real
QueryMemory service over DDS (node and client in this process, one rclpy context):

- ``store_path`` must resolve inside ``storage_root``: an absolute path elsewhere, a ``..``
  escape and a symlink pointing out are refused at configure, with a log line naming the
  parameter; the node stays unconfigured;
- queries beyond the configured limits (k, text length, time window) get success=False with
  a message naming the field, and so does a query while ``max_concurrent_queries`` are
  being answered; the node keeps serving afterwards.
"""

import os
import stat
import threading
import time

import pytest

rclpy = pytest.importorskip('rclpy')
pytestmark = pytest.mark.ros

from rclpy.parameter import Parameter  # noqa: E402

from memory_interfaces.srv import QueryMemory  # noqa: E402
from memory_nodes.memory_node import MemoryNode  # noqa: E402
from memory_nodes.ros_common import TransitionCallbackReturn, sec_to_stamp  # noqa: E402


def _node(context, **params):
    params.setdefault('episode_status_topic', '')
    params.setdefault('scene_cloud_topic', '')
    params.setdefault('stats_period_s', 0.0)
    return MemoryNode(context=context, parameter_overrides=[
        Parameter(k, value=v) for k, v in params.items()])


def test_store_path_outside_storage_root_fails_configure(tmp_path, context, capfd):
    root = tmp_path / 'data'
    root.mkdir()
    outside = tmp_path / 'elsewhere'
    outside.mkdir()
    (root / 'link').symlink_to(outside)
    cases = {
        str(outside / 'memory.db'): 'outside storage_root=',
        '../elsewhere/memory.db': 'outside storage_root=',
        str(root / '..' / 'elsewhere' / 'memory.db'): 'outside storage_root=',
        str(root / 'link' / 'memory.db'): 'outside storage_root=',
        '': 'the path is empty',
    }
    for store_path, message in cases.items():
        node = _node(context, store_path=store_path, storage_root=str(root))
        try:
            assert node.trigger_configure() == TransitionCallbackReturn.FAILURE, store_path
            assert node._state_machine.current_state[1] == 'unconfigured'
            assert node.memory is None
        finally:
            node.destroy_node()
        err = capfd.readouterr().err
        assert f'configure failed: store_path={store_path!r}' in err, err[-600:]
        assert message in err, err[-600:]
    assert not list(outside.iterdir()), 'something was written outside the root'

    node = _node(context, store_path='sub/memory.db', storage_root=str(root))  # relative: in
    try:
        assert node.trigger_configure() == TransitionCallbackReturn.SUCCESS
        db = root / 'sub' / 'memory.db'
        assert node.store_path == str(db)
        assert stat.S_IMODE(os.stat(db).st_mode) == 0o600
        assert stat.S_IMODE(os.stat(db.parent).st_mode) == 0o700
    finally:
        node.trigger_cleanup()
        node.destroy_node()


class Client:
    """A QueryMemory client on the same executor as the node."""

    def __init__(self, context, executor):
        self.node = rclpy.create_node('security_query_client', context=context)
        executor.add_node(self.node)
        self.cli = self.node.create_client(QueryMemory, '/memory/query')
        assert self.cli.wait_for_service(timeout_sec=30), 'no /memory/query service'

    def ask(self, timeout=30, **fields):
        start = fields.pop('time_start', 0.0)
        end = fields.pop('time_end', 0.0)
        request = QueryMemory.Request(time_start=sec_to_stamp(start),
                                      time_end=sec_to_stamp(end), **fields)
        done = threading.Event()
        future = self.cli.call_async(request)
        future.add_done_callback(lambda _: done.set())
        assert done.wait(timeout), f'no reply to {fields}'
        return future.result()


def test_queries_beyond_limits_are_refused_and_the_node_keeps_serving(tmp_path, context):
    from memory_nodes.worker_executor import WorkerThreadExecutor
    node = _node(context, store_path=str(tmp_path / 'memory.db'), storage_root=str(tmp_path),
                 max_k=5, default_k=2, max_text_chars=20, max_window_s=100.0,
                 max_concurrent_queries=1)
    assert node.trigger_configure() == TransitionCallbackReturn.SUCCESS
    assert node.trigger_activate() == TransitionCallbackReturn.SUCCESS
    from memory_nodes.lifelong_memory import MemoryEvent
    node.memory.log_event(MemoryEvent(stamp=5.0, kind='appeared', subject='red cube')) \
        .result(10)
    executor = WorkerThreadExecutor(num_threads=2, context=context)
    executor.add_node(node)
    spinner = threading.Thread(target=executor.spin, daemon=True)
    spinner.start()
    try:
        client = Client(context, executor)
        what = QueryMemory.Request.KIND_WHAT_HAPPENED
        ok = client.ask(kind=what, k=5)
        assert ok.success and ok.count == 1, ok.message
        refused = {
            'k is 6; the limit is 5': dict(kind=what, k=6),
            'text has 21 characters; the limit is 20': dict(kind=what, text='x' * 21),
            'time window is 101 s; the limit is 100 s': dict(kind=what, time_start=1.0,
                                                             time_end=102.0),
        }
        for message, fields in refused.items():
            reply = client.ask(**fields)
            assert not reply.success and message in reply.message, (fields, reply.message)
            assert not reply.results
        # one query is being answered (a slot held, as a slow query would hold it): the next
        # is refused at once rather than queued behind it, and the node still answers after
        assert node._query_slots.acquire(blocking=False)
        try:
            t0 = time.monotonic()
            busy = client.ask(kind=what)
            assert not busy.success and 'busy: max_concurrent_queries=1' in busy.message
            assert time.monotonic() - t0 < 5.0
        finally:
            node._query_slots.release()
        again = client.ask(kind=what, k=0)
        assert again.success and again.count == 1, again.message
        assert node.guard.rejected['query'] == 4
    finally:
        executor.shutdown(timeout_sec=2.0)
        spinner.join(timeout=5)
        node.trigger_deactivate()
        node.trigger_cleanup()
        node.destroy_node()
