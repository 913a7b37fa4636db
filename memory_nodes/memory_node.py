"""The memory node: serves the lifelong memory library over ROS 2.

A thin rclpy lifecycle adapter over ``memory_nodes.lifelong_memory.LifelongMemory``:

- in: object observations (memory_interfaces/ObjectObservationArray, reliable) from the
  preprocessor, ingested into the spatial bank (which logs appeared / moved / disappeared /
  state-change events into the temporal bank); MemoryEvents (reliable) from the executor,
  the planner and people; the episode status (latched, e.g. the sim bridge's
  /sim/episode_status) to open and close episodes in the episodic bank;
- in: the preprocessor's downsampled scene cloud (sensor_msgs/PointCloud2, float32 x y z,
  world frame, best effort), at most one per ``cloud_period_s``, into the occupancy map
  (``LifelongMemory.ingest_cloud``: one hit per 5 cm cell the cloud touches);
- service: QueryMemory (where / when / what happened / how many / similar to text), checked
  against the configured limits (``memory_nodes.query_limits``) and answered in its own
  callback group, so queries run beside ingestion;
- out: MemoryStats every ``stats_period_s``; a log line with the store's sizes (voxels
  included: MemoryStats has no field for them) every ``STATS_LOG_PERIOD_S``.

The store is one SQLite file (``store_path``) that survives restarts. A write is
acknowledged when the library's group commit has made it durable; ``acknowledged`` counts
them. A malformed message is logged with the bad field, counted, and leaves the store as
it was.
"""

import os
import threading
import time

import numpy as np
from rclpy.callback_groups import MutuallyExclusiveCallbackGroup, ReentrantCallbackGroup
from rclpy.lifecycle import LifecycleNode
from sensor_msgs.msg import PointCloud2

from memory_interfaces.msg import (
    EpisodeStatus,
    MemoryStats,
    ObjectObservationArray,
)
from memory_interfaces.msg import (
    MemoryEntry as MemoryEntryMsg,
)
from memory_interfaces.msg import (
    MemoryEvent as MemoryEventMsg,
)
from memory_interfaces.srv import QueryMemory
from memory_nodes.file_safety import IN_MEMORY, check_path, private_dir
from memory_nodes.lifelong_memory import (
    LifelongMemory,
    MemoryConfig,
    MemoryEvent,
    ObjectObservation,
    Query,
    QueryKind,
    StoreConfig,
    StoreError,
)
from memory_nodes.perception.cloud import unpack_cloud
from memory_nodes.query_limits import QueryLimits, validate_query
from memory_nodes.ros_common import (
    LATCHED_QOS,
    RELIABLE_QOS,
    SENSOR_QOS,
    InputGuard,
    TopicCounts,
    TransitionCallbackReturn,
    declare,
    run_lifecycle_node,
    sec_to_stamp,
    stamp_to_sec,
)

DEFAULT_STORE = os.path.join('~', '.ros', 'memory_nodes', 'memory.db')
TERMINAL_STATES = {EpisodeStatus.STATE_SUCCEEDED: 'success', EpisodeStatus.STATE_FAILED:
                   'failure', EpisodeStatus.STATE_TIMED_OUT: 'timeout'}
STATS_LOG_PERIOD_S = 60.0


def cloud_from_msg(msg, world_frame):
    """PointCloud2 -> (N, 3) float64 world points (validated further by the library).

    Reads the float32 x y z fields (the preprocessor's layout; rgb and others are skipped)
    with the perception package's numpy decoder (sensor_msgs_py is not among the wheels). A
    cloud that says it is not dense may mark invalid points with NaN: those are dropped; in
    a dense cloud a NaN is an error. ValueError names a wrong frame or layout."""
    frame = msg.header.frame_id
    if world_frame and frame and frame != world_frame:
        raise ValueError(f'header.frame_id={frame!r}: the scene cloud must be in '
                         f'{world_frame!r}')
    points, _ = unpack_cloud(msg.fields, msg.point_step, bytes(msg.data), msg.width,
                             msg.height, bool(msg.is_bigendian))
    points = points.astype(np.float64)
    if not msg.is_dense:
        points = points[np.isfinite(points).all(axis=1)]
    return points


def observation_from_msg(msg, stamp):
    """ObjectObservation.msg -> the library's record (validated by the library)."""
    return ObjectObservation(
        stamp=stamp, label=msg.label, position=(msg.position.x, msg.position.y, msg.position.z),
        color=msg.color, track_id=msg.track_id, rgb=tuple(float(v) for v in msg.rgb),
        position_covariance=tuple(msg.position_covariance),
        extent=(msg.extent.x, msg.extent.y, msg.extent.z), visible=bool(msg.visible),
        state=msg.state, confidence=float(msg.confidence), num_points=int(msg.num_points),
        source=int(msg.source), source_name=msg.source_name,
        frame_id=msg.header.frame_id or 'world')


def event_from_msg(msg):
    """MemoryEvent.msg -> the library's record."""
    p = msg.position
    return MemoryEvent(
        stamp=stamp_to_sec(msg.header.stamp), kind=msg.kind, subject=msg.subject,
        object=msg.object, episode_id=msg.episode_id,
        position=(p.x, p.y, p.z) if msg.has_position else None, text=msg.text,
        source=msg.source, frame_id=msg.header.frame_id or 'world')


def entry_to_msg(entry):
    """The library's MemoryEntry -> MemoryEntry.msg."""
    msg = MemoryEntryMsg()
    msg.bank = int(entry.bank)
    msg.entry_id = int(entry.entry_id)
    msg.stamp = sec_to_stamp(max(0.0, entry.stamp))
    msg.recorded = sec_to_stamp(max(0.0, entry.recorded))
    msg.episode_id = entry.episode_id
    msg.confidence = float(entry.confidence)
    msg.score = float(entry.score)
    msg.kind, msg.subject, msg.object, msg.text = (entry.kind, entry.subject, entry.object,
                                                   entry.text)
    msg.frame_id = entry.frame_id
    msg.has_position = bool(entry.has_position)
    msg.position.x, msg.position.y, msg.position.z = (float(v) for v in entry.position)
    msg.position_covariance = [float(v) for v in entry.position_covariance]
    msg.source = entry.source
    return msg


class MemoryNode(LifecycleNode):
    """Lifecycle node that owns one lifelong memory file."""

    def __init__(self, **kwargs):
        super().__init__('memory', **kwargs)
        p = {}
        p['autostart'] = declare(self, 'autostart', False,
                                 'configure and activate on start', read_only=True)
        p['store_path'] = declare(self, 'store_path', DEFAULT_STORE,
                                  "SQLite file of the memory (':memory:' for none); '~' and "
                                  'environment variables are expanded; a relative path is '
                                  'taken relative to storage_root', read_only=True)
        p['storage_root'] = declare(self, 'storage_root', '',
                                    'folder the memory file must lie in (after symlinks; '
                                    "'' = anywhere); config/params.yaml sets "
                                    '~/.ros/memory_nodes', read_only=True)
        p['synchronous'] = declare(self, 'synchronous', 'FULL',
                                   'SQLite synchronous mode: FULL survives power loss, NORMAL '
                                   'survives a killed process', read_only=True)
        p['default_k'] = declare(self, 'default_k', 10, 'results when a query asks for k = 0',
                                 read_only=True, min_value=1, max_value=1000)
        p['max_k'] = declare(self, 'max_k', 100, 'most results one query may ask for',
                             read_only=True, min_value=1, max_value=1000)
        p['max_text_chars'] = declare(self, 'max_text_chars', 512,
                                      'longest query text', read_only=True, min_value=1,
                                      max_value=100000)
        p['max_window_s'] = declare(self, 'max_window_s', QueryLimits.max_window_s,
                                    'widest [time_start, time_end] window of a query, s',
                                    read_only=True, min_value=1.0, max_value=1e9)
        p['max_concurrent_queries'] = declare(
            self, 'max_concurrent_queries', 1,
            'queries answered at once; more are refused as busy (the node spins on two '
            'threads: one stays free for ingestion)', read_only=True, min_value=1,
            max_value=64)
        p['stats_period_s'] = declare(self, 'stats_period_s', 1.0,
                                      'period of MemoryStats (0 = never)', read_only=True,
                                      min_value=0.0, max_value=3600.0)
        p['cloud_period_s'] = declare(self, 'cloud_period_s', 1.0,
                                      'ingest at most one scene cloud per this many seconds '
                                      '(wall clock; 0 = every cloud)', read_only=True,
                                      min_value=0.0, max_value=3600.0)
        p['max_stamp_regression_s'] = declare(
            self, 'max_stamp_regression_s', 0.5, 'observations stamped more than this before '
            'the newest ingested are out of order (or the clock jumped back) and are rejected; '
            'a new episode resets the mark (0 = accept any order)', read_only=True,
            min_value=0.0, max_value=1e9)
        p['world_frame'] = declare(self, 'world_frame', 'world',
                                   "frame the scene cloud must be in ('' = any)",
                                   read_only=True)
        topics = {
            'observations_topic': ('/perception/objects', 'in: ObjectObservationArray'),
            'events_topic': ('/memory/events', 'in: MemoryEvent'),
            'episode_status_topic': ('/sim/episode_status',
                                     "in: EpisodeStatus opening/closing episodes ('' = off)"),
            'scene_cloud_topic': ('/perception/scene_cloud',
                                  "in: PointCloud2 for the occupancy map ('' = off)"),
            'query_service': ('/memory/query', 'service: QueryMemory'),
            'stats_topic': ('/memory/stats', 'out: MemoryStats'),
        }
        for name, (default, description) in topics.items():
            p[name] = declare(self, name, default, description, read_only=True)
        self.params = p
        self.guard = InputGuard(self.get_logger())
        self.memory = None
        self.active = False
        self.episode_id = ''
        self.ingested = 0
        self.topic_counts = TopicCounts()  # messages taken per reliable topic (load test)
        self.acknowledged = 0
        self.write_errors = 0
        self.last_write_error = ''
        self.query_ms = []
        self.clouds_ingested = 0
        self._last_cloud = -float('inf')   # monotonic time of the last cloud ingested
        self._last_stats_log = time.monotonic()
        self._lock = threading.Lock()
        self._io = []
        self._rate = (time.monotonic(), 0)
        self._newest_stamp = -float('inf')  # of the observations ingested in this episode
        self.observations_out_of_order = 0   # records rejected by that mark

    # -- lifecycle -------------------------------------------------------------------------
    def on_configure(self, state):
        p = self.params
        try:
            path = check_path(p['store_path'], 'store_path', p['storage_root'] or None,
                              root_name='storage_root', allow_memory=True)
            if path != IN_MEMORY:
                private_dir(path.parent)   # created owner-only (0o700)
                path = str(path)
            self.limits = QueryLimits(default_k=p['default_k'], max_k=p['max_k'],
                                      max_text_chars=p['max_text_chars'],
                                      max_window_s=p['max_window_s'])
            self._query_slots = threading.BoundedSemaphore(p['max_concurrent_queries'])
            self.memory = LifelongMemory(path=path, config=MemoryConfig(
                store=StoreConfig(synchronous=p['synchronous']), limits=self.limits))
        except (ValueError, TypeError, OSError, StoreError) as error:
            # a damaged or unwritable file is left as it is (docs/faults.md)
            self.get_logger().error(f'configure failed: {error}')
            return TransitionCallbackReturn.FAILURE
        self.store_path = path
        self.stats_pub = self.create_lifecycle_publisher(MemoryStats, p['stats_topic'],
                                                         RELIABLE_QOS)
        ingest = MutuallyExclusiveCallbackGroup()  # one writer path, in arrival order
        self._io = [
            self.create_subscription(ObjectObservationArray, p['observations_topic'],
                                     self.on_observations, RELIABLE_QOS, callback_group=ingest),
            self.create_subscription(MemoryEventMsg, p['events_topic'], self.on_event,
                                     RELIABLE_QOS, callback_group=ingest),
        ]
        if p['episode_status_topic']:
            self._io.append(self.create_subscription(
                EpisodeStatus, p['episode_status_topic'], self.on_episode_status, LATCHED_QOS,
                callback_group=ingest))
        if p['scene_cloud_topic']:
            # its own group: binning a cloud (open3d) runs beside observation ingest
            self._io.append(self.create_subscription(
                PointCloud2, p['scene_cloud_topic'], self.on_cloud, SENSOR_QOS,
                callback_group=MutuallyExclusiveCallbackGroup()))
        self.service = self.create_service(QueryMemory, p['query_service'], self.on_query,
                                           callback_group=ReentrantCallbackGroup())
        self.timer = None
        if p['stats_period_s'] > 0:
            self.timer = self.create_timer(p['stats_period_s'], self.publish_stats)
        self.get_logger().info(f'memory store {path}: {self.memory.stats()}')
        return TransitionCallbackReturn.SUCCESS

    def on_activate(self, state):
        self.active = True
        return super().on_activate(state)

    def on_deactivate(self, state):
        self.active = False
        return super().on_deactivate(state)

    def on_cleanup(self, state):
        self._close()
        return TransitionCallbackReturn.SUCCESS

    def on_shutdown(self, state):
        self.active = False
        self._close()
        return TransitionCallbackReturn.SUCCESS

    def _close(self):
        for sub in self._io:
            self.destroy_subscription(sub)
        self._io = []
        if self.memory is not None:
            self.memory.close()  # flushes every pending write
            self.memory = None

    # -- writes ----------------------------------------------------------------------------
    def _track(self, future, n):
        def done(fut):
            with self._lock:
                if fut.exception() is None:
                    self.acknowledged += n
                    return
                self.write_errors += 1
                self.last_write_error = str(fut.exception())
                count = self.write_errors
            # the first few, then every 100th: a full disk fails every write
            if count <= 3 or count % 100 == 0:
                self.get_logger().error(f'memory write failed ({count} so far): '
                                        f'{fut.exception()}')
        future.add_done_callback(done)

    def on_observations(self, msg):
        self.topic_counts.received_one(self.params['observations_topic'])
        if self.memory is None or not self._active():
            return
        with self.guard('observations'):
            stamp = stamp_to_sec(msg.header.stamp)
            records = [observation_from_msg(o, stamp_to_sec(o.header.stamp) or stamp)
                       for o in msg.objects]
            if not records:
                return
            oldest = min(r.stamp for r in records)
            regression = self.params['max_stamp_regression_s']
            if regression > 0 and oldest < self._newest_stamp - regression:
                # history would be rewritten: a track 'moved' before it appeared
                self.observations_out_of_order += len(records)
                raise ValueError(
                    f'observations.header.stamp {oldest:.3f} s is '
                    f'{self._newest_stamp - oldest:.3f} s before the newest ingested '
                    f'({self._newest_stamp:.3f} s): out of order or the clock jumped back')
            self._newest_stamp = max(self._newest_stamp, max(r.stamp for r in records))
            self._track(self.memory.ingest(records, episode_id=self.episode_id), len(records))
            self.ingested += len(records)

    def on_event(self, msg):
        self.topic_counts.received_one(self.params['events_topic'])
        if self.memory is None or not self._active():
            return
        with self.guard('events'):
            event = event_from_msg(msg)
            if not event.episode_id:
                event.episode_id = self.episode_id
            self._track(self.memory.log_event(event), 1)

    def on_episode_status(self, msg):
        if self.memory is None or not self._active():
            return
        with self.guard('episode_status'):
            stamp = stamp_to_sec(msg.header.stamp)
            if msg.episode_id and msg.episode_id != self.episode_id:
                self.episode_id = msg.episode_id
                self._newest_stamp = -float('inf')
                self._track(self.memory.start_episode(msg.episode_id, msg.instruction,
                                                      stamp), 1)
            outcome = TERMINAL_STATES.get(msg.state)
            if outcome and msg.episode_id == self.episode_id and self.episode_id:
                self._track(self.memory.end_episode(
                    self.episode_id, outcome, stamp,
                    {'task': msg.task, 'seed': int(msg.seed), 'mode': msg.mode,
                     'steps': int(msg.step), 'message': msg.message}), 1)
                self.episode_id = ''

    def on_cloud(self, msg):
        if self.memory is None or not self._active():
            return
        now = time.monotonic()
        if now - self._last_cloud < self.params['cloud_period_s']:
            return   # throttled before decoding: the cost is in decoding and binning
        with self.guard('scene_cloud'):
            points = cloud_from_msg(msg, self.params['world_frame'])
            self._track(self.memory.ingest_cloud(points, stamp_to_sec(msg.header.stamp)), 1)
            self._last_cloud = now   # a malformed cloud does not hold the next one back
            self.clouds_ingested += 1
            self.topic_counts.count('clouds_ingested')

    def _active(self):
        return self.active

    # -- queries ---------------------------------------------------------------------------
    def on_query(self, request, response):
        start = time.perf_counter()
        if self.memory is None or not self._active():
            response.success = False
            response.message = 'memory node is not active'
            return response
        if not self._query_slots.acquire(blocking=False):
            busy = ValueError(f"busy: max_concurrent_queries="
                              f"{self.params['max_concurrent_queries']} queries are being "
                              'answered; retry')
            self.guard.reject('query', busy)
            response.success = False
            response.message = str(busy)
            return response
        try:
            return self._answer(request, response, start)
        finally:
            self._query_slots.release()

    def _answer(self, request, response, start):
        try:
            q = validate_query(int(request.kind), request.text, request.episode_id,
                               int(request.k), stamp_to_sec(request.time_start),
                               stamp_to_sec(request.time_end), self.limits)
            result = self.memory.query(Query(
                kind=QueryKind(int(request.kind)), text=q.text, episode_id=q.episode_id,
                k=q.k, time_start=q.time_start or 0.0, time_end=q.time_end or 0.0))
        except ValueError as error:
            self.guard.reject('query', error)
            response.success = False
            response.message = str(error)
            return response
        response.success = True
        response.message = result.message
        with self._lock:
            failed, last = self.write_errors, self.last_write_error
        if failed:  # the answer may miss what could not be stored
            response.message += f' [warning: {failed} memory writes failed; last: {last}]'
        response.results = [entry_to_msg(e) for e in result.results]
        response.count = int(result.count)
        response.latency_ms = float((time.perf_counter() - start) * 1e3)
        with self._lock:
            self.query_ms = (self.query_ms + [response.latency_ms])[-1000:]
        return response

    # -- statistics ------------------------------------------------------------------------
    def publish_stats(self):
        if self.memory is None or not self.stats_pub.is_activated:
            return
        stats = self.memory.stats()
        msg = MemoryStats()
        msg.header.stamp = self.get_clock().now().to_msg()
        msg.store_path = self.store_path
        msg.store_bytes = int(stats.get('store_bytes', 0))
        msg.spatial_tracks = int(stats.get('spatial_tracks', 0))
        msg.temporal_events = int(stats.get('temporal_events', 0))
        msg.episodes = int(stats.get('episodes', 0))
        msg.semantic_facts = int(stats.get('semantic_facts', 0))
        msg.vectors = int(stats.get('vectors', 0))
        msg.observations_ingested = self.ingested
        msg.inputs_rejected = self.guard.total_rejected
        now = time.monotonic()
        then, count = self._rate
        msg.ingest_rate_hz = float((self.ingested - count) / max(now - then, 1e-6))
        self._rate = (now, self.ingested)
        with self._lock:
            lat = sorted(self.query_ms)
        if lat:
            msg.query_p50_ms = float(lat[len(lat) // 2])
            msg.query_p99_ms = float(lat[min(len(lat) - 1, int(len(lat) * 0.99))])
        self.stats_pub.publish(msg)
        if now - self._last_stats_log >= STATS_LOG_PERIOD_S:
            self._last_stats_log = now
            self.get_logger().info(
                f"memory: {stats['spatial_tracks']} tracks, {stats['temporal_events']} "
                f"events, {stats['episodes']} episodes, {stats['semantic_facts']} facts, "
                f"{stats['voxels']} voxels ({self.clouds_ingested} clouds), "
                f"{stats['store_bytes'] / 1e6:.1f} MB, {self.guard.total_rejected} rejected, "
                f'{self.write_errors} writes failed')


def main(args=None):
    return run_lifecycle_node(MemoryNode, args)


if __name__ == '__main__':
    raise SystemExit(main())
