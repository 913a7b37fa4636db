"""A multi-threaded rclpy executor whose threads each wait for work and then run it.

Why not ``rclpy.executors.MultiThreadedExecutor``: with rclpy 9 on 2 CPU cores it
sometimes falls into a busy loop (measured: an executor node spinning a 10 Hz timer and a
50 Hz subscription took 3.5 s of CPU in 3.5 s of wall time in one start out of four, and its
timer fired 0.5-1 s late, so the arm skipped waypoints). Its single spinning thread fetches
ready callbacks and hands them to a thread pool; a callback it handed over but that no pool
thread has started yet counts as "in progress, not executing", is fetched again at once, and
handed over again, and the spinning thread never sleeps while the pool threads fight it for
the GIL.

Here every worker thread does what rclcpp's multi-threaded executor does: take the wait lock,
wait for one ready callback, release the lock, run the callback itself. A thread only looks
for work when it is free, so nothing is handed over twice and an idle executor sleeps in
``rcl_wait``. Callback groups keep their meaning (a mutually exclusive group runs one
callback at a time; a reentrant group runs on several threads at once).
"""

import threading

from rclpy.executors import (
    ConditionReachedException,
    Executor,
    ExternalShutdownException,
    ShutdownException,
    TimeoutException,
)

_NO_WORK = (ConditionReachedException, ExternalShutdownException, ShutdownException,
            TimeoutException)


class WorkerThreadExecutor(Executor):
    """``num_threads`` workers, each waiting for one callback and running it."""

    def __init__(self, num_threads=2, *, context=None):
        super().__init__(context=context)
        if int(num_threads) < 1:
            raise ValueError(f'num_threads is {num_threads!r}; expected >= 1')
        self.num_threads = int(num_threads)
        self._wait_lock = threading.Lock()
        self._stopping = threading.Event()

    def _run_one(self, timeout_sec):
        """Wait (at most timeout_sec) for one ready callback and run it in this thread."""
        with self._wait_lock:
            if self._stopping.is_set():
                return
            try:
                handler, _, _ = self.wait_for_ready_callbacks(timeout_sec=timeout_sec)
            except _NO_WORK:
                return
        handler()
        if handler.done():
            handler.result()  # an exception in a callback is raised here, as rclpy does

    def spin_once(self, timeout_sec=None):
        """Run at most one ready callback in the calling thread."""
        self._run_one(timeout_sec)

    def spin_until(self, stop, poll_s=0.1):
        """Run callbacks on ``num_threads`` threads (the caller's is one) until ``stop`` is set.

        ``stop`` is a ``threading.Event``; the workers look at it at least every ``poll_s``.
        """
        def work():
            while not stop.is_set() and not self._stopping.is_set() and self._context.ok():
                self._run_one(poll_s)

        helpers = [threading.Thread(target=work, name=f'ros_worker_{i}', daemon=True)
                   for i in range(1, self.num_threads)]
        for thread in helpers:
            thread.start()
        try:
            work()
        finally:
            stop.set()
            for thread in helpers:
                thread.join()

    def spin(self):
        """Spin until the executor is shut down or the context ends."""
        self.spin_until(self._stopping)

    def shutdown(self, timeout_sec=None):
        self._stopping.set()
        return super().shutdown(timeout_sec)
