"""Record topics of a live graph into a rosbag2 bag (MCAP by default, sqlite3 too).

``LiveRecorder`` is an rclpy node that finds each wanted topic's type on the graph,
subscribes with raw (serialized) delivery and a QoS adapted to the publishers (reliable and
transient-local only when every publisher is, so latched state such as the camera pose or
the instruction is recorded too, and best-effort sensor streams still match), and writes
every message with rosbags, stamped with the node clock's time of arrival (``/clock`` time
when ``use_sim_time`` is set). The default topics are the stack's inputs (what
``memory-eval-bag replay`` needs); ``OUTPUT_TOPICS`` adds what the stack produced.
"""

from __future__ import annotations

import threading
import time

from memory_nodes.evaluation.bagio import BagError, BagWriter

INPUT_TOPICS = ('/camera/scene/color/image_raw', '/camera/scene/depth/image_raw',
                '/camera/scene/segmentation/image_raw', '/camera/scene/camera_info',
                '/camera/scene/pose', '/joint_states', '/instruction', '/sim/episode_status',
                '/clock')
OUTPUT_TOPICS = ('/perception/objects', '/memory/events', '/planner/subgoal',
                 '/action_expert/chunk')


class LiveRecorder:
    """Subscribe to ``topics`` on the live graph and write them to ``path``."""

    def __init__(self, path, topics, storage: str = 'mcap', context=None,
                 use_sim_time: bool = False):
        import rclpy
        from rclpy.parameter import Parameter
        self.writer = BagWriter(path, storage)
        self.topics = list(dict.fromkeys(topics))
        if not self.topics:
            raise BagError('no topics to record')
        self.node = rclpy.create_node(
            'bag_recorder', context=context,
            parameter_overrides=[Parameter('use_sim_time', value=bool(use_sim_time))])
        self._lock = threading.Lock()
        self.subscriptions = {}
        self.closed = False

    def discover(self, timeout: float = 10.0, require_all: bool = False) -> dict[str, str]:
        """Subscribe to every wanted topic that has a publisher; return {topic: type}.
        With ``require_all``, BagError names the topics that never showed up."""
        deadline = time.monotonic() + timeout
        while True:
            types = dict((name, kinds[0]) for name, kinds in
                         self.node.get_topic_names_and_types())
            for topic in self.topics:
                if topic in types and topic not in self.subscriptions \
                        and self.node.count_publishers(topic):
                    self._subscribe(topic, types[topic])
            missing = [t for t in self.topics if t not in self.subscriptions]
            if not missing or time.monotonic() > deadline:
                break
            time.sleep(0.1)
        if missing and require_all:
            raise BagError(f'no publisher on {missing} within {timeout:.0f} s')
        return {t: self.writer.connections[t].msgtype for t in self.subscriptions}

    def _subscribe(self, topic: str, msgtype: str) -> None:
        from rclpy.qos import DurabilityPolicy, HistoryPolicy, QoSProfile, ReliabilityPolicy

        from memory_nodes.evaluation.bagio import rclpy_class
        infos = self.node.get_publishers_info_by_topic(topic)
        reliable = infos and all(i.qos_profile.reliability == ReliabilityPolicy.RELIABLE
                                 for i in infos)
        latched = infos and all(i.qos_profile.durability == DurabilityPolicy.TRANSIENT_LOCAL
                                for i in infos)
        qos = QoSProfile(history=HistoryPolicy.KEEP_LAST, depth=100,
                         reliability=(ReliabilityPolicy.RELIABLE if reliable
                                      else ReliabilityPolicy.BEST_EFFORT),
                         durability=(DurabilityPolicy.TRANSIENT_LOCAL if latched
                                     else DurabilityPolicy.VOLATILE))
        self.writer.add_topic(topic, msgtype)
        self.subscriptions[topic] = self.node.create_subscription(
            rclpy_class(msgtype), topic, lambda data, t=topic: self._on_message(t, data), qos,
            raw=True)

    def _on_message(self, topic: str, data: bytes) -> None:
        now = self.node.get_clock().now().nanoseconds
        with self._lock:
            if not self.closed:
                self.writer.write(topic, now, data)

    @property
    def counts(self) -> dict[str, int]:
        with self._lock:
            return dict(self.writer.counts)

    def close(self) -> None:
        with self._lock:
            if self.closed:
                return
            self.closed = True
            self.writer.close()
        self.node.destroy_node()
