"""WorkerThreadExecutor: callback groups keep their meaning, timers keep their rate, idle sleeps.

One process, real rcl timers and a real DDS subscription (loopback): a 20 Hz timer shares a
mutually exclusive group with a 100 Hz subscription whose callback takes 3 ms, beside a
reentrant group whose callbacks block. rclpy's MultiThreadedExecutor on 2 cores sometimes
busy-loops in this set-up (see memory_nodes/worker_executor.py); these checks would catch it:
process CPU time (not wall time, so a loaded machine cannot fail them) stays small, and the
timer neither stalls nor bunches.
"""

import threading
import time

import pytest

rclpy = pytest.importorskip('rclpy')
pytestmark = pytest.mark.ros

from rclpy.callback_groups import (  # noqa: E402
    MutuallyExclusiveCallbackGroup,
    ReentrantCallbackGroup,
)
from std_msgs.msg import Int32  # noqa: E402

from memory_nodes.ros_common import RELIABLE_QOS  # noqa: E402
from memory_nodes.worker_executor import WorkerThreadExecutor  # noqa: E402


def test_rejects_zero_threads(context):
    with pytest.raises(ValueError, match='num_threads is 0'):
        WorkerThreadExecutor(num_threads=0, context=context)


def test_groups_timer_rate_and_idle_cpu(context):
    node = rclpy.create_node('worker_executor_test', context=context)
    exclusive = MutuallyExclusiveCallbackGroup()
    reentrant = ReentrantCallbackGroup()
    lock = threading.Lock()
    state = {'in_exclusive': 0, 'overlap': 0, 'in_reentrant': 0, 'max_reentrant': 0}
    ticks, received = [], []

    def exclusive_enter():
        with lock:
            state['in_exclusive'] += 1
            state['overlap'] = max(state['overlap'], state['in_exclusive'])

    def exclusive_leave():
        with lock:
            state['in_exclusive'] -= 1

    def on_timer():
        exclusive_enter()
        ticks.append(time.monotonic())
        exclusive_leave()

    def on_message(msg):
        exclusive_enter()
        received.append(msg.data)
        time.sleep(0.003)
        exclusive_leave()

    def on_blocking():
        with lock:
            state['in_reentrant'] += 1
            state['max_reentrant'] = max(state['max_reentrant'], state['in_reentrant'])
        time.sleep(0.15)
        with lock:
            state['in_reentrant'] -= 1

    node.create_timer(0.05, on_timer, callback_group=exclusive)
    node.create_subscription(Int32, '/worker_executor_test', on_message, RELIABLE_QOS,
                             callback_group=exclusive)
    blockers = [node.create_timer(0.3, on_blocking, callback_group=reentrant)
                for _ in range(2)]
    pub = node.create_publisher(Int32, '/worker_executor_test', RELIABLE_QOS)
    executor = WorkerThreadExecutor(num_threads=3, context=context)
    executor.add_node(node)
    stop = threading.Event()
    spinner = threading.Thread(target=executor.spin_until, args=(stop,), daemon=True)
    spinner.start()
    try:
        for i in range(300):  # 3 s at 100 Hz
            pub.publish(Int32(data=i))
            time.sleep(0.01)
        for timer in blockers:
            timer.cancel()
        time.sleep(0.5)  # let the last callbacks finish
        cpu0 = time.process_time()
        time.sleep(1.0)  # idle but for the 20 Hz timer
        idle_cpu = time.process_time() - cpu0
    finally:
        stop.set()
        spinner.join(timeout=5)
        executor.shutdown(timeout_sec=2)
        node.destroy_node()
    assert not spinner.is_alive(), 'spin_until did not return after stop was set'
    assert state['overlap'] == 1, 'a mutually exclusive group ran two callbacks at once'
    assert state['max_reentrant'] == 2, 'reentrant callbacks did not run side by side'
    assert len(received) >= 290, f'only {len(received)} of 300 messages were handled'
    gaps = [b - a for a, b in zip(ticks, ticks[1:])]
    assert len(ticks) >= 60, f'the 20 Hz timer fired {len(ticks)} times in about 4.5 s'
    assert max(gaps) < 0.5, f'the timer stalled for {max(gaps):.2f} s'
    assert idle_cpu < 0.3, f'an idle executor used {idle_cpu:.2f} s of CPU in 1 s (busy loop)'
