"""Two DDS peers for the cross-process interface test.

Run as separate OS processes by tests/ros/test_dds_two_process.py:

``server``: publishes an ObjectObservationArray, an ActionChunk, a PlanStatus and a
MemoryStats (reliable, transient-local so a late subscriber still gets them) and serves
``query_memory`` (memory_interfaces/srv/QueryMemory) with an answer derived from the request.

``client``: subscribes to those topics, calls the service, and writes everything it received,
field by field, to a JSON file for the test to compare.

The expected values live in ``expected_messages()`` so the server and the test agree on
them without sharing a process.
"""

import argparse
import array
import json
import math
import sys
import time


def expected_messages():
    """Return the messages the server publishes, built from plain values."""
    from builtin_interfaces.msg import Time

    from memory_interfaces.msg import (
        ActionChunk,
        MemoryStats,
        ObjectObservation,
        ObjectObservationArray,
        PlanStatus,
        Subgoal,
    )

    stamp = Time(sec=1700000000, nanosec=123456789)
    obs = ObjectObservation()
    obs.header.stamp = stamp
    obs.header.frame_id = 'world'
    obs.track_id = 'track-7'
    obs.label = 'cube'
    obs.color = 'red'
    obs.rgb = [0.9, 0.1, 0.05]
    obs.position.x, obs.position.y, obs.position.z = 0.42, -0.13, 0.025
    obs.position_covariance = [1e-4, 0.0, 0.0, 0.0, 2e-4, 0.0, 0.0, 0.0, 3e-4]
    obs.extent.x, obs.extent.y, obs.extent.z = 0.04, 0.04, 0.04
    obs.visible = False
    obs.confidence = 0.875
    obs.num_points = 311
    obs.source = ObjectObservation.SOURCE_SIM_SEGMENTATION
    obs.source_name = 'scene_camera'
    array = ObjectObservationArray()
    array.header = obs.header
    array.objects = [obs]

    chunk = ActionChunk()
    chunk.header.stamp = Time(sec=1700000000, nanosec=223456789)
    chunk.header.frame_id = 'world'
    chunk.observation_stamp = stamp
    chunk.episode_id = 'episode-3'
    chunk.time_step = 41
    chunk.dt = 0.1
    chunk.horizon = 2
    chunk.action_dim = 5
    chunk.action_names = ['x', 'y', 'z', 'yaw', 'gripper']
    chunk.actions = [0.1, 0.2, 0.3, 0.0, 1.0, 0.11, 0.21, 0.31, 0.01, 0.0]
    chunk.n_execute = 1
    chunk.inference_ms = 12.5

    subgoal = Subgoal()
    subgoal.header.stamp = stamp
    subgoal.plan_id = 'plan-1'
    subgoal.index = 0
    subgoal.action = 'lift'
    subgoal.target = 'cup 2'
    subgoal.target_pose.header.frame_id = 'world'
    subgoal.target_pose.pose.position.x = 0.5
    subgoal.has_target_pose = True
    subgoal.text = 'lift the cup that hides the ball'
    subgoal.timeout_s = 20.0
    status = PlanStatus()
    status.header.stamp = stamp
    status.plan_id = 'plan-1'
    status.instruction = 'which cup hides the ball? lift it'
    status.state = PlanStatus.STATE_EXECUTING
    status.subgoals = [subgoal]
    status.current_index = 0
    status.retries = 1
    status.replans = 0
    status.loop_detected = False
    status.message = 'executing subgoal 0'

    stats = MemoryStats()
    stats.header.stamp = stamp
    stats.store_path = '/tmp/memory.db'
    stats.store_bytes = 123456
    stats.spatial_tracks = 10
    stats.temporal_events = 20
    stats.episodes = 3
    stats.semantic_facts = 40
    stats.vectors = 60
    stats.observations_ingested = 5000
    stats.inputs_rejected = 2
    stats.ingest_rate_hz = 30.0
    stats.query_p50_ms = 0.5
    stats.query_p99_ms = 2.5
    return {'observations': array, 'action_chunk': chunk, 'plan_status': status,
            'memory_stats': stats}


def to_plain(msg):
    """Convert a ROS message into nested plain Python values (for JSON)."""
    if hasattr(msg, 'get_fields_and_field_types'):
        return {name: to_plain(getattr(msg, name)) for name in msg.get_fields_and_field_types()}
    if isinstance(msg, (list, tuple, array.array)) or type(msg).__name__ == 'ndarray':
        return [to_plain(v) for v in msg]
    if isinstance(msg, float) and not math.isfinite(msg):
        return repr(msg)
    if hasattr(msg, 'item'):  # numpy scalar
        return msg.item()
    return msg


def _latched_qos():
    from rclpy.qos import DurabilityPolicy, HistoryPolicy, QoSProfile, ReliabilityPolicy
    return QoSProfile(history=HistoryPolicy.KEEP_LAST, depth=1,
                      reliability=ReliabilityPolicy.RELIABLE,
                      durability=DurabilityPolicy.TRANSIENT_LOCAL)


TOPIC_TYPES = {
    'observations': ('memory_interfaces.msg', 'ObjectObservationArray'),
    'action_chunk': ('memory_interfaces.msg', 'ActionChunk'),
    'plan_status': ('memory_interfaces.msg', 'PlanStatus'),
    'memory_stats': ('memory_interfaces.msg', 'MemoryStats'),
}


def answer_query(request, response):
    """Answer a QueryMemory request deterministically from its fields."""
    from memory_interfaces.msg import MemoryEntry
    entry = MemoryEntry()
    entry.bank = MemoryEntry.BANK_SPATIAL
    entry.entry_id = 1000 + request.kind
    entry.stamp = request.time_end
    entry.recorded = request.time_start
    entry.episode_id = request.episode_id
    entry.confidence = 0.75
    entry.score = 0.5
    entry.kind = 'track'
    entry.subject = request.text
    entry.text = f'{request.text} is on the table'
    entry.frame_id = 'world'
    entry.has_position = True
    entry.position.x, entry.position.y, entry.position.z = 0.42, -0.13, 0.025
    entry.source = 'dds_peer'
    response.success = True
    response.message = 'ok'
    response.results = [entry] * max(1, min(request.k, 3))
    response.count = len(response.results)
    response.latency_ms = 0.25
    return response


def run_server(seconds):
    import rclpy

    from memory_interfaces.srv import QueryMemory

    rclpy.init()
    node = rclpy.create_node('dds_peer_server')
    qos = _latched_qos()
    publishers = []
    for topic, msg in expected_messages().items():
        pub = node.create_publisher(type(msg), topic, qos)
        pub.publish(msg)
        publishers.append(pub)
    node.create_service(QueryMemory, 'query_memory', answer_query)
    print('server ready', flush=True)
    deadline = time.monotonic() + seconds
    while rclpy.ok() and time.monotonic() < deadline:
        rclpy.spin_once(node, timeout_sec=0.1)
    node.destroy_node()
    rclpy.shutdown()


def run_client(out_path, seconds):
    import importlib

    from builtin_interfaces.msg import Time
    import rclpy

    from memory_interfaces.srv import QueryMemory

    rclpy.init()
    node = rclpy.create_node('dds_peer_client')
    received = {}
    subs = []
    for topic, (module, name) in TOPIC_TYPES.items():
        msg_type = getattr(importlib.import_module(module), name)

        def on_message(msg, topic=topic):
            received[topic] = to_plain(msg)
        subs.append(node.create_subscription(msg_type, topic, on_message, _latched_qos()))
    client = node.create_client(QueryMemory, 'query_memory')
    deadline = time.monotonic() + seconds
    reply = None
    future = None
    while time.monotonic() < deadline:
        rclpy.spin_once(node, timeout_sec=0.1)
        if future is None and client.service_is_ready():
            request = QueryMemory.Request()
            request.kind = QueryMemory.Request.KIND_WHERE
            request.text = 'red cube'
            request.episode_id = 'episode-3'
            request.k = 2
            request.time_start = Time(sec=10, nanosec=5)
            request.time_end = Time(sec=20, nanosec=7)
            future = client.call_async(request)
        if future is not None and future.done():
            reply = to_plain(future.result())
        if reply is not None and len(received) == len(TOPIC_TYPES):
            break
    with open(out_path, 'w') as f:
        json.dump({'topics': received, 'reply': reply}, f)
    node.destroy_node()
    rclpy.shutdown()
    return 0 if reply is not None and len(received) == len(TOPIC_TYPES) else 1


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('role', choices=['server', 'client'])
    parser.add_argument('--out', help='client: JSON file to write what arrived')
    parser.add_argument('--seconds', type=float, default=30.0)
    args = parser.parse_args(argv)
    if args.role == 'server':
        run_server(args.seconds)
        return 0
    return run_client(args.out, args.seconds)


if __name__ == '__main__':
    sys.exit(main())
