"""The memory node (a real rclpy lifecycle node) on a damaged or full store file.

A damaged file fails configure with a message naming the file, and the file is left byte
for byte as it was; a file that fills up mid-run (a real SQLITE_FULL) makes writes fail,
counted and logged, while queries go on answering from what is stored, their replies
warning that writes failed.
"""

import hashlib

import pytest

pytest.importorskip('rclpy')
pytestmark = pytest.mark.ros

from rclpy.parameter import Parameter  # noqa: E402

from memory_interfaces.msg import MemoryEvent as MemoryEventMsg  # noqa: E402
from memory_interfaces.srv import QueryMemory  # noqa: E402
from memory_nodes.lifelong_memory import LifelongMemory, MemoryEvent  # noqa: E402
from memory_nodes.memory_node import MemoryNode  # noqa: E402
from memory_nodes.ros_common import TransitionCallbackReturn  # noqa: E402


def make_node(context, path):
    return MemoryNode(context=context, parameter_overrides=[
        Parameter('store_path', value=str(path)), Parameter('stats_period_s', value=0.0)])


def test_configure_fails_cleanly_on_a_damaged_file(context, tmp_path):
    path = tmp_path / 'memory.db'
    with LifelongMemory(str(path)) as mem:
        mem.log_event(MemoryEvent(1.0, 'tick', 'step 1')).result(10)
    with open(path, 'r+b') as f:
        f.truncate(path.stat().st_size // 2)
    before = hashlib.sha256(path.read_bytes()).hexdigest()
    node = make_node(context, path)
    try:
        assert node.trigger_configure() == TransitionCallbackReturn.FAILURE
        assert node.memory is None
    finally:
        node.destroy_node()
    assert hashlib.sha256(path.read_bytes()).hexdigest() == before


def test_a_full_store_fails_writes_but_queries_go_on(context, tmp_path):
    node = make_node(context, tmp_path / 'memory.db')
    try:
        assert node.trigger_configure() == TransitionCallbackReturn.SUCCESS
        assert node.trigger_activate() == TransitionCallbackReturn.SUCCESS

        def event(i):
            msg = MemoryEventMsg(kind='tick', subject=f'step {i}', text='x' * 300)
            msg.header.stamp.sec = i
            return msg
        for i in range(1, 20):
            node.on_event(event(i))
        node.memory.flush()
        assert node.acknowledged == 19 and node.write_errors == 0
        conn = node.memory.store.write_conn   # the writer is idle after the flush
        pages = conn.execute('PRAGMA page_count').fetchone()[0]
        conn.execute(f'PRAGMA max_page_count={pages + 2}')
        for i in range(20, 400):
            node.on_event(event(i))
        try:
            node.memory.flush()
        except Exception:  # noqa: B902 - the flush's own no-op write may fail too
            pass
        assert node.write_errors > 0
        assert str(tmp_path / 'memory.db') in node.last_write_error
        assert 'full' in node.last_write_error
        reply = node.on_query(QueryMemory.Request(
            kind=QueryMemory.Request.KIND_WHAT_HAPPENED, k=5), QueryMemory.Response())
        assert reply.success and [e.subject for e in reply.results][:2] == ['step 1', 'step 2']
        assert 'memory writes failed' in reply.message
    finally:
        node.destroy_node()
