"""Shared plumbing for the stack's rclpy nodes: QoS, parameters, input guards, entry points.

Every node of the stack is a lifecycle node built from these pieces, so that QoS choices,
parameter descriptors, the handling of malformed messages and the start-up sequence are the
same everywhere:

- ``SENSOR_QOS`` / ``RELIABLE_QOS`` / ``LATCHED_QOS``: named on purpose (sensor streams
  best-effort, commands and memory writes reliable, latched state transient-local).
- ``declare(node, name, default, description, ...)``: a parameter with a descriptor, read once.
- ``InputGuard``: rejects a malformed message with a log line naming the field and value,
  counts it per topic, and never lets the exception reach the executor.
- ``TopicCounts``: messages a node sent and took per reliable topic (and named counters),
  logged as one line when the node stops, for the load test's loss accounting.
- ``run_lifecycle_node(cls, args)``: the console-script ``main()`` of a node: init, construct,
  configure and activate when ``autostart`` is true, spin on a ``WorkerThreadExecutor`` (see
  ``memory_nodes.worker_executor`` for why not rclpy's MultiThreadedExecutor), shut down
  cleanly on Ctrl-C or SIGTERM (works on Jazzy and Kilted).
"""

import json
import math
import os
import re
import signal
import threading
import time

from builtin_interfaces.msg import Time
from rcl_interfaces.msg import FloatingPointRange, IntegerRange, ParameterDescriptor
import rclpy
from rclpy.executors import ExternalShutdownException
from rclpy.lifecycle import State, TransitionCallbackReturn
from rclpy.qos import (
    DurabilityPolicy,
    HistoryPolicy,
    QoSProfile,
    ReliabilityPolicy,
    qos_profile_sensor_data,
)
from rclpy.signals import SignalHandlerOptions

SENSOR_QOS = qos_profile_sensor_data
RELIABLE_QOS = QoSProfile(history=HistoryPolicy.KEEP_LAST, depth=50,
                          reliability=ReliabilityPolicy.RELIABLE,
                          durability=DurabilityPolicy.VOLATILE)
LATCHED_QOS = QoSProfile(history=HistoryPolicy.KEEP_LAST, depth=1,
                         reliability=ReliabilityPolicy.RELIABLE,
                         durability=DurabilityPolicy.TRANSIENT_LOCAL)


def declare(node, name, default, description, *, read_only=False, min_value=None,
            max_value=None):
    """Declare a parameter with a descriptor (and a range for numbers); return its value."""
    descriptor = ParameterDescriptor(description=description, read_only=read_only)
    if min_value is not None or max_value is not None:
        if isinstance(default, bool):
            raise ValueError(f'parameter {name!r}: a range makes no sense for a bool')
        if isinstance(default, int):
            descriptor.integer_range = [IntegerRange(
                from_value=int(min_value if min_value is not None else -2**31),
                to_value=int(max_value if max_value is not None else 2**31 - 1), step=0)]
        else:
            descriptor.floating_point_range = [FloatingPointRange(
                from_value=float(min_value if min_value is not None else -1e300),
                to_value=float(max_value if max_value is not None else 1e300), step=0.0)]
    return node.declare_parameter(name, default, descriptor).value


def stamp_to_sec(stamp):
    """builtin_interfaces/Time to float seconds."""
    return stamp.sec + stamp.nanosec * 1e-9


def sec_to_stamp(seconds):
    """Float seconds to builtin_interfaces/Time (non-negative, finite)."""
    if not math.isfinite(seconds) or seconds < 0:
        raise ValueError(f'time must be finite and >= 0, got {seconds!r}')
    sec = int(seconds)
    nanosec = int(round((seconds - sec) * 1e9))
    if nanosec >= 1_000_000_000:
        sec, nanosec = sec + 1, nanosec - 1_000_000_000
    return Time(sec=sec, nanosec=nanosec)


_NUMBERS = re.compile(r'[-+]?(\d+(\.\d*)?([eE][-+]?\d+)?|nan|inf)')


class InputGuard:
    """Count and log malformed input per topic or service; keep the node running.

    Use as ``with guard('topic'):`` around the handling of one message: a ``ValueError``
    (the stack's error for bad input, which names the field and value) is logged
    (throttled), counted, and swallowed; any other exception is logged with its type and
    counted too, because a callback that raises would take the executor down.

    The throttle is per source and kind of error (the error's type and its text with its
    numbers, NaN and inf included, taken out): a flood of one fault logs once a second, and
    a different fault on the same source is logged at once, not hidden by the first's.
    """

    def __init__(self, logger, throttle_s=1.0):
        self._logger = logger
        self._throttle_s = throttle_s
        self._last_log = {}
        self._lock = threading.Lock()
        self.rejected = {}
        self.last_error = {}
        self.last_rejection = None  # (source, exception) of the newest rejection

    @property
    def total_rejected(self):
        with self._lock:
            return sum(self.rejected.values())

    def reject(self, source, error):
        """Record one rejected input from ``source`` with its error."""
        now = time.monotonic()
        with self._lock:
            self.rejected[source] = self.rejected.get(source, 0) + 1
            self.last_error[source] = str(error)
            self.last_rejection = (source, error)
            count = self.rejected[source]
            fault = (source, type(error).__name__, _NUMBERS.sub('#', str(error))[:80])
            should_log = now - self._last_log.get(fault, -1e9) >= self._throttle_s
            if should_log:
                if len(self._last_log) >= 256:  # errors quoting free text: stay bounded
                    self._last_log.clear()
                self._last_log[fault] = now
        if should_log:
            kind = '' if isinstance(error, ValueError) else f'{type(error).__name__}: '
            self._logger.error(f'rejected input on {source} ({count} so far): {kind}{error}')

    def __call__(self, source):
        return _GuardContext(self, source)


class _GuardContext:

    def __init__(self, guard, source):
        self._guard = guard
        self._source = source

    def __enter__(self):
        return self

    def __exit__(self, exc_type, exc, tb):
        if exc is None or not isinstance(exc, Exception):
            return False
        self._guard.reject(self._source, exc)
        return True


def require_finite(name, values):
    """Raise ValueError naming ``name`` when any value is NaN or infinite."""
    for i, v in enumerate(values):
        if not math.isfinite(v):
            raise ValueError(f'{name}[{i}] is {v!r}; expected a finite number')


COUNTS_PREFIX = 'topic counts: '


class TopicCounts:
    """Messages a node sent and received per topic, plus named counters (cycles, misses).

    A node keeps one as ``self.topic_counts`` and counts what it publishes and takes on its
    reliable topics; ``run_lifecycle_node`` logs ``line()`` when the node stops, so a load
    test can check from the node logs alone that every subscriber of a reliable topic got
    every message its publishers sent (``parse_counts_line`` reads a line back).
    """

    def __init__(self):
        self._lock = threading.Lock()
        self.sent = {}
        self.received = {}
        self.counters = {}

    def _add(self, table, key, n):
        with self._lock:
            table[key] = table.get(key, 0) + int(n)

    def sent_one(self, topic, n=1):
        self._add(self.sent, topic, n)

    def received_one(self, topic, n=1):
        self._add(self.received, topic, n)

    def count(self, name, n=1):
        self._add(self.counters, name, n)

    def snapshot(self):
        with self._lock:
            return {'sent': dict(self.sent), 'received': dict(self.received),
                    'counters': dict(self.counters)}

    def line(self):
        return COUNTS_PREFIX + json.dumps(self.snapshot(), sort_keys=True)


def parse_counts_line(text):
    """The newest ``TopicCounts.line()`` in a log text as a dict, or None if there is none."""
    at = text.rfind(COUNTS_PREFIX)
    if at < 0:
        return None
    payload = text[at + len(COUNTS_PREFIX):].splitlines()[0]
    try:
        data = json.loads(payload)
    except ValueError as error:
        raise ValueError(f'topic counts line is not JSON: {payload[:200]!r}') from error
    if not isinstance(data, dict) or not {'sent', 'received', 'counters'} <= set(data):
        raise ValueError(f'topic counts line lacks sent / received / counters: {data!r}')
    return data


def run_lifecycle_node(node_cls, args=None, *, num_threads=2):
    """Console-script main(): spin one lifecycle node until Ctrl-C / SIGTERM.

    When the node's ``autostart`` parameter is true the node configures and activates itself;
    otherwise a lifecycle manager (or ``ros2 lifecycle set``) drives it. The node runs on
    ``num_threads`` worker threads (two: a node that blocks one thread on a service reply,
    like the planner, still has one to take the reply). SIGINT and SIGTERM set a flag that
    the workers check every 100 ms, so the node is destroyed and the process exits promptly
    and cleanly on either (rclpy's own handlers are not installed). A failed autostart
    (e.g. a bad checkpoint or store path, logged by the node) ends the process cleanly with
    exit code 1 instead of a traceback. The process umask is 0o077 (owner-only files).
    """
    from memory_nodes.file_safety import OWNER_ONLY_UMASK
    from memory_nodes.worker_executor import WorkerThreadExecutor
    os.umask(OWNER_ONLY_UMASK)   # a node process creates owner-only files (docs/security.md)
    rclpy.init(args=args, signal_handler_options=SignalHandlerOptions.NO)
    stop = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: stop.set())
    node = None
    executor = None
    try:
        node = node_cls()
        executor = WorkerThreadExecutor(num_threads=num_threads)
        executor.add_node(node)
        if node.get_parameter('autostart').value:
            try:
                autostart(node)
            except RuntimeError as error:   # the node logged the reason; exit cleanly
                node.get_logger().error(f'{error}; the process exits with code 1')
                return 1
        executor.spin_until(stop)
    except (KeyboardInterrupt, ExternalShutdownException):
        pass
    finally:
        if executor is not None:
            executor.shutdown(timeout_sec=1.0)
        if node is not None:
            counts = getattr(node, 'topic_counts', None)
            if counts is not None:
                node.get_logger().info(counts.line())
            node.destroy_node()
        rclpy.try_shutdown()
    return 0


def autostart(node):
    """Configure then activate a lifecycle node; raise RuntimeError if a step fails."""
    if node.trigger_configure() != TransitionCallbackReturn.SUCCESS:
        raise RuntimeError(f'{node.get_name()}: configure failed')
    if node.trigger_activate() != TransitionCallbackReturn.SUCCESS:
        raise RuntimeError(f'{node.get_name()}: activate failed')


__all__ = ['SENSOR_QOS', 'RELIABLE_QOS', 'LATCHED_QOS', 'declare', 'stamp_to_sec',
           'sec_to_stamp', 'InputGuard', 'TopicCounts', 'parse_counts_line', 'require_finite',
           'run_lifecycle_node', 'autostart', 'State', 'TransitionCallbackReturn']
