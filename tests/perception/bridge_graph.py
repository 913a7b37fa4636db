"""The sim bridge and the preprocessor node composed in one process, with a listener node.

Shared by the perception tests that watch /perception/objects while the real bridge plays a
task: ``setup(listener, bridge)`` creates the listener's subscriptions and clients before
anything spins, so no early frame is missed; the nodes run on a WorkerThreadExecutor in a
thread until the ``with`` block ends, and are then destroyed with their context.
"""

from contextlib import contextmanager
import threading

import rclpy

from memory_nodes.preprocessor_node import PreprocessorNode
from memory_nodes.ros_common import autostart
from memory_nodes.worker_executor import WorkerThreadExecutor
import sim.bridge_node as bridge_module


@contextmanager
def bridge_with_preprocessor(ros_args, listener_name, setup):
    """Yield (bridge, preprocessor, listener) spinning; ros_args are global parameters."""
    context = rclpy.Context()
    rclpy.init(context=context, args=['--ros-args', *ros_args])
    bridge = bridge_module.SimBridgeNode(context=context)
    pre = PreprocessorNode(context=context)
    listener = rclpy.create_node(listener_name, context=context)
    setup(listener, bridge)
    executor = WorkerThreadExecutor(num_threads=3, context=context)
    for node in (bridge, pre, listener):
        executor.add_node(node)
    autostart(pre)
    autostart(bridge)
    threading.Thread(target=executor.spin, daemon=True).start()
    try:
        yield bridge, pre, listener
    finally:
        executor.shutdown(timeout_sec=5.0)
        for node in (bridge, pre, listener):
            node.destroy_node()
        rclpy.shutdown(context=context)
