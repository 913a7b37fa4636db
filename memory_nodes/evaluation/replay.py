"""Replay a rosbag2 bag through the preprocessor and memory nodes, then ask the memory.

``ReplayGraph`` composes the stack's real ``preprocessor`` and ``memory`` nodes (the
classes named in config/stack.yaml, parameters from config/params.yaml with the replay's
overrides) in one process on a WorkerThreadExecutor (as ``memory-stack --mode composed``
does), with a ``bag_replay`` node beside them that

- publishes the bag's messages in log-time order on the graph's topics (a topic map renames
  bag topics; by default every preprocessor input the bag carries under its default name),
  re-serialized as local ROS 2 messages;
- publishes /clock from the bag's times (both nodes run with ``use_sim_time``);
- paces itself: ``rate=0`` publishes the next time step once the preprocessor has taken
  the images of the previous one (and the action expert, when it runs, has finished its
  chunk): as fast as the graph takes it, no frame lost; ``rate=r`` follows the bag's
  timing at r times real time (frames the graph cannot keep up with are dropped, as live);
- opens an episode in memory (an EpisodeStatus with the bag's instruction) when the bag
  carries none, and closes it with ``outcome`` when one is given;
- asks the memory over the real /memory/query service (``query``);
- with ``actions``: runs the ``action_expert`` node too, publishes a sim bag's actions
  taken (``actions.json``) as the executor's /sim/ee_target and the episode's phases, and
  collects the chunks (``chunks``) for ``evaluation.actions.score_chunks``.

The memory goes to the SQLite file ``memory_path`` and stays there after the replay.
"""

from __future__ import annotations

from dataclasses import dataclass, field
import itertools
from pathlib import Path
import tempfile
import threading
import time

import numpy as np
import yaml

from memory_nodes.evaluation.bagio import (
    BagError,
    bag_topics,
    ensure_type,
    open_reader,
    rclpy_class,
)

# preprocessor parameters naming its input topics (docs/perception.md)
INPUT_PARAMETERS = ('color_topic', 'depth_topic', 'segmentation_topic', 'camera_info_topic',
                    'camera_pose_topic', 'joint_states_topic', 'instruction_topic',
                    'episode_status_topic')
IMAGE_STREAMS = {'color_topic': 'color', 'depth_topic': 'depth',
                 'segmentation_topic': 'segmentation'}
OUTCOMES = ('success', 'failure', 'timeout')
# action expert parameters naming the inputs it needs beyond the preprocessor's
ACTION_INPUTS = ('wrist_image_topic', 'ee_pose_topic')
COMMANDED_EE = '/sim/ee_target'  # the executor's end-effector commands


@dataclass
class ReplayConfig:
    bag: Path
    memory_path: Path
    topic_map: dict = field(default_factory=dict)   # bag topic -> graph topic
    rate: float = 0.0                 # 0: as fast as the graph takes it; r: r x real time
    params_file: Path | None = None   # base parameters (default config/params.yaml)
    preprocessor_params: dict = field(default_factory=dict)
    memory_params: dict = field(default_factory=dict)
    episode_id: str | None = None     # None: 'replay-<bag name>'; '': open no episode
    outcome: str = ''                 # closes the opened episode with this outcome
    step_timeout_s: float = 10.0      # longest wait for the graph to take one time step
    clock_jump_s: float = 10.0        # a gap in log time this long is a clock jump: counted,
    #                                   and at rate > 0 not waited for
    actions: bool = False             # run the action expert too and collect its chunks
    action_expert_params: dict = field(default_factory=dict)
    actions_file: Path | None = None  # sim sidecar of the actions taken (default: the
    #                                   bag's actions.json when the bag has no /sim/ee_target)

    def __post_init__(self):
        self.bag = Path(self.bag)
        self.memory_path = Path(self.memory_path)
        if not np.isfinite(self.rate) or self.rate < 0:
            raise BagError(f'rate is {self.rate!r}; expected 0 (as fast as possible) or > 0')
        if self.outcome and self.outcome not in OUTCOMES:
            raise BagError(f'outcome is {self.outcome!r}; expected one of {list(OUTCOMES)}')
        reader = open_reader(self.bag)  # a missing bag or topic fails before the graph starts
        try:
            available = bag_topics(reader)
        finally:
            reader.close()
        for src in self.topic_map:
            if src not in available:
                raise BagError(f'topic {src} is not in the bag; it has {sorted(available)}')
        if self.actions and self.actions_file is None and '/sim/ee_target' not in available \
                and (self.bag / 'actions.json').exists():
            self.actions_file = self.bag / 'actions.json'
        if self.actions and self.actions_file is None and '/sim/ee_target' not in available:
            raise BagError(f'--actions needs the actions taken: the bag has no /sim/ee_target '
                           f'and {str(self.bag / "actions.json")!r} does not exist')
        if self.actions_file is not None:
            from memory_nodes.evaluation.actions import load_sim_actions
            self.actions_file = Path(self.actions_file)
            self.sidecar, self.phase_starts_s = load_sim_actions(self.actions_file)
        else:
            self.sidecar, self.phase_starts_s = None, {}


@dataclass
class ReplayStats:
    bag: str
    bag_start_s: float         # the bag's first message (question times count from it)
    bag_duration_s: float
    wall_s: float
    rate: float
    published: dict            # graph topic -> messages
    frames_published: int      # colour images
    frames_processed: int      # by the preprocessor
    frames_waiting: int        # dropped by the preprocessor for lack of CameraInfo / pose
    observation_messages: int  # ObjectObservationArray out of the preprocessor
    observations_ingested: int
    inputs_rejected: dict
    latency_ms: dict           # stage -> list of milliseconds
    episode_id: str
    topic_map: dict
    # log-time gaps over clock_jump_s; header stamps earlier than the last one on their
    # topic (out of order, or the recording clock jumped back); header stamps more than
    # clock_jump_s after it
    clock: dict = field(default_factory=dict)

    @property
    def speed(self) -> float:
        """Bag seconds replayed per wall second."""
        return self.bag_duration_s / self.wall_s if self.wall_s > 0 else float('nan')

    def summary(self) -> dict:
        lat = {k: _percentiles(v) for k, v in self.latency_ms.items()}
        return {'bag': self.bag, 'bag_start_s': self.bag_start_s,
                'bag_duration_s': round(self.bag_duration_s, 3),
                'wall_s': round(self.wall_s, 3), 'speed_x_real_time': round(self.speed, 3),
                'rate': self.rate, 'frames_published': self.frames_published,
                'frames_processed': self.frames_processed,
                'frames_waiting': self.frames_waiting,
                'observation_messages': self.observation_messages,
                'observations_ingested': self.observations_ingested,
                'inputs_rejected': self.inputs_rejected, 'published': self.published,
                'episode_id': self.episode_id, 'topic_map': self.topic_map,
                'clock': self.clock, 'latency_ms': lat}


def _percentiles(values) -> dict:
    if not values:
        return {'n': 0}
    a = np.asarray(values, dtype=float)
    return {'n': int(a.size), 'p50': round(float(np.percentile(a, 50)), 3),
            'p95': round(float(np.percentile(a, 95)), 3), 'max': round(float(a.max()), 3)}


def _images_last(messages, image_topics):
    """The bag's (connection, time, data) in time order, with the images of each time
    after its other messages: a frame's CameraInfo and pose arrive before the frame."""
    for _, group in itertools.groupby(messages, key=lambda m: m[1]):
        yield from sorted(group, key=lambda m: m[0].topic in image_topics)


def plan_topics(available: dict, mapping: dict, inputs: dict) -> dict[str, str]:
    """{bag topic: graph topic} to replay. Every mapped bag topic must be in the bag; the
    preprocessor's inputs the bag carries under their default names are added; the bag's
    own /clock is left out (the replay publishes /clock); a bag without the action expert's
    end-effector pose topic gives it the commanded targets (/sim/ee_target) instead. BagError
    names what is missing."""
    for src in mapping:
        if src not in available:
            raise BagError(f'topic {src} is not in the bag; it has {sorted(available)}')
    plan = dict(mapping)
    for topic in inputs.values():
        if topic and topic in available and topic not in plan and topic not in plan.values():
            plan[topic] = topic
    ee = inputs.get('action_expert.ee_pose_topic')
    if (ee and ee not in plan.values() and COMMANDED_EE in available
            and COMMANDED_EE not in plan):
        # a bag without the measured pose (recorded before the bridge published it, or from
        # a robot without one): the executor's commanded targets stand in for it
        plan[COMMANDED_EE] = ee
    plan.pop('/clock', None)
    graph = set(plan.values())
    missing = [f'{name} ({inputs[name]})' for name in IMAGE_STREAMS
               if inputs[name] not in graph]
    if missing:
        raise BagError(f'the bag gives nothing for the preprocessor input(s) {missing}; the '
                       f'bag has {sorted(available)}: map one with --topic BAG:=GRAPH')
    return plan


def _uniform_lists(params: dict) -> dict:
    """[0, 0, 1.5] -> [0.0, 0.0, 1.5]: a ROS parameter array has one type."""
    out = {}
    for name, value in params.items():
        if isinstance(value, list) and any(isinstance(v, float) for v in value) and all(
                isinstance(v, (int, float)) and not isinstance(v, bool) for v in value):
            value = [float(v) for v in value]
        out[name] = value
    return out


class ReplayGraph:
    """The composed preprocessor + memory graph with a bag player and a query client."""

    def __init__(self, config: ReplayConfig):
        self.config = config
        self.context = None
        self.stack = None
        self.node = None
        self._tmp = None
        self._lock = threading.Lock()
        self._observations = 0
        self._records = 0
        self.chunks = []            # action expert chunks (evaluation.actions.Chunk)
        self.expert = None
        self._published_wall = {}   # colour stamp (ns) -> wall time of publication
        self._latency = {'preprocessor_frame_ms': [], 'colour_to_observations_ms': [],
                         'query_round_trip_ms': [], 'memory_query_ms': []}

    # -- graph -----------------------------------------------------------------------------
    def _params_file(self) -> Path:
        from memory_nodes.stack_description import config_dir
        base = Path(self.config.params_file or config_dir() / 'params.yaml')
        if not base.exists():
            raise BagError(f'parameters file {str(base)!r} does not exist')
        params = yaml.safe_load(base.read_text()) or {}
        pre = dict(params.get('preprocessor', {}).get('ros__parameters') or {})
        pre.update({'use_sim_time': True, 'image_qos': 'reliable'})
        pre.update(self.config.preprocessor_params)
        mem = dict(params.get('memory', {}).get('ros__parameters') or {})
        memory_path = Path(self.config.memory_path).expanduser().resolve()
        mem.update({'use_sim_time': True, 'store_path': str(memory_path),
                    'storage_root': str(memory_path.parent)})
        mem.update(self.config.memory_params)
        pre, mem = _uniform_lists(pre), _uniform_lists(mem)
        params['preprocessor'] = {'ros__parameters': pre}
        params['memory'] = {'ros__parameters': mem}
        if self.config.actions:
            expert = dict(params.get('action_expert', {}).get('ros__parameters') or {})
            # sim time runs faster than the wall at rate 0: judge lateness generously
            expert.update({'use_sim_time': True, 'max_latency_s': 10.0})
            expert.update(self.config.action_expert_params)
            params['action_expert'] = {'ros__parameters': _uniform_lists(expert)}
        self._tmp = tempfile.TemporaryDirectory(prefix='memory-eval-')
        path = Path(self._tmp.name) / 'params.yaml'
        path.write_text(yaml.safe_dump(params))
        return path

    def start(self) -> ReplayGraph:
        import rclpy

        from memory_interfaces.msg import ObjectObservationArray
        from memory_interfaces.srv import QueryMemory
        from memory_nodes.ros_common import RELIABLE_QOS
        from memory_nodes.runner import ComposedStack, composed_ros_args
        from memory_nodes.stack_description import load_stack
        description = load_stack('robot', params_file=self._params_file())
        context = rclpy.Context()
        try:
            rclpy.init(args=composed_ros_args(description), context=context)
        except Exception as error:  # rcl names the bad parameter
            self.stop()
            raise BagError(f'the replay parameters were refused: {error}') from error
        self.context = context
        only = ['preprocessor', 'memory'] + (['action_expert'] if self.config.actions else [])
        self.stack = ComposedStack(description, only=only,
                                   context=self.context, num_threads=4)
        try:
            self.stack.start()
        except RuntimeError as error:
            self.stop()
            raise BagError(f'the graph did not start: {error} (see the node log above)') \
                from error
        self.pre = self.stack.nodes['preprocessor']
        self.mem = self.stack.nodes['memory']
        self.expert = self.stack.nodes.get('action_expert')
        self.node = rclpy.create_node('bag_replay', context=self.context)
        if self.expert is not None:
            from memory_interfaces.msg import ActionChunk
            self.node.create_subscription(ActionChunk, self.expert.params['chunk_topic'],
                                          self._on_chunk, RELIABLE_QOS)
        self.node.create_subscription(ObjectObservationArray,
                                      self.pre.params['observations_topic'],
                                      self._on_observations, RELIABLE_QOS)
        self.client = self.node.create_client(QueryMemory,
                                              self.mem.params['query_service'])
        self.stack.executor.add_node(self.node)
        return self

    def stop(self) -> None:
        import rclpy
        if self.stack is not None:
            if self.node is not None:
                self.stack.executor.remove_node(self.node)
            for node in self.stack.nodes.values():
                try:  # on_shutdown closes the memory file (WAL checkpointed, index saved)
                    node.trigger_shutdown()
                except Exception as error:  # noqa: BLE001 - a node that is already down
                    node.get_logger().warning(f'shutdown: {error}')
            self.stack.stop()
            self.stack = None
        if self.node is not None:
            self.node.destroy_node()
            self.node = None
        if self.context is not None:
            rclpy.try_shutdown(context=self.context)
            self.context = None
        if self._tmp is not None:
            self._tmp.cleanup()
            self._tmp = None

    def __enter__(self) -> ReplayGraph:
        return self.start()

    def __exit__(self, *exc) -> bool:
        self.stop()
        return False

    def _on_chunk(self, msg) -> None:
        from memory_nodes.evaluation.actions import chunk_from_msg
        with self._lock:
            self.chunks.append(chunk_from_msg(msg))

    def _on_observations(self, msg) -> None:
        now = time.perf_counter()
        stamp = msg.header.stamp.sec * 1_000_000_000 + msg.header.stamp.nanosec
        with self._lock:
            self._observations += 1
            self._records += len(msg.objects)
            sent = self._published_wall.pop(stamp, None)
        if sent is not None:
            self._latency['colour_to_observations_ms'].append((now - sent) * 1e3)

    # -- playing ---------------------------------------------------------------------------
    def _wait(self, condition, timeout: float, what: str) -> bool:
        deadline = time.monotonic() + timeout
        while not condition():
            if time.monotonic() > deadline:
                self.node.get_logger().warning(f'replay: gave up waiting for {what}')
                return False
            time.sleep(0.002)
        return True

    def play(self) -> ReplayStats:
        """Publish the whole bag into the graph; return what happened."""
        from rclpy.qos import DurabilityPolicy, HistoryPolicy, QoSProfile, ReliabilityPolicy
        from rosgraph_msgs.msg import Clock

        from memory_interfaces.msg import EpisodeStatus
        from memory_nodes.ros_common import LATCHED_QOS
        cfg = self.config
        inputs = {name: self.pre.params[name] for name in INPUT_PARAMETERS}
        if self.expert is not None:
            inputs.update({f'action_expert.{n}': self.expert.params[n] for n in ACTION_INPUTS})
        reader = open_reader(cfg.bag)
        try:
            available = bag_topics(reader)
            plan = plan_topics(available, cfg.topic_map, inputs)
            qos = QoSProfile(history=HistoryPolicy.KEEP_LAST, depth=10,
                             reliability=ReliabilityPolicy.RELIABLE,
                             durability=DurabilityPolicy.TRANSIENT_LOCAL)
            publishers, msgtypes = {}, {}
            for src, dst in plan.items():
                msgtype = available[src].msgtype
                ensure_type(msgtype)
                publishers[src] = self.node.create_publisher(rclpy_class(msgtype), dst, qos)
                msgtypes[src] = msgtype
            clock = self.node.create_publisher(Clock, '/clock', 10)
            status_topic = inputs['episode_status_topic']
            own_episode = (cfg.episode_id != '' and status_topic
                           and status_topic not in plan.values())
            episode_id = (cfg.episode_id or f'replay-{cfg.bag.resolve().name}'
                          if own_episode else '')
            status_pub = (self.node.create_publisher(EpisodeStatus, status_topic, LATCHED_QOS)
                          if own_episode else None)
            ee_pub = None
            if cfg.sidecar is not None:   # the actions taken, as the executor publishes them
                from geometry_msgs.msg import PoseStamped

                from memory_nodes.ros_common import RELIABLE_QOS
                ee_pub = self.node.create_publisher(
                    PoseStamped, self.expert.params['ee_pose_topic'] if self.expert
                    else '/sim/ee_target', RELIABLE_QOS)
            # the preprocessor's inputs must be heard; the action expert subscribes only the
            # cameras its checkpoint uses
            listened = {v for k, v in inputs.items() if v and k in INPUT_PARAMETERS}
            self._wait_for_graph([p for s, p in publishers.items() if plan[s] in listened]
                                 + ([status_pub] if status_pub else [])
                                 + ([ee_pub] if ee_pub and self.expert else []))
            streams = {inputs[name]: stream for name, stream in IMAGE_STREAMS.items()}
            return self._publish(reader, plan, publishers, msgtypes, clock, streams,
                                 status_pub, episode_id, ee_pub)
        finally:
            reader.close()

    def _wait_for_graph(self, publishers, timeout: float = 30.0) -> None:
        """Until both ends of every connection have matched (a best-effort subscription
        that has not yet matched its publisher loses the first messages)."""
        topics = {p.topic_name for p in publishers}
        readers = [sub for sub in self.pre._inputs if sub.topic_name in topics]

        def ready():
            return (all(p.get_subscription_count() > 0 for p in publishers)
                    and all(sub.get_publisher_count() > 0 for sub in readers)
                    and self.client.service_is_ready()
                    and self.node.count_publishers(self.pre.params['observations_topic']))
        if not self._wait(ready, timeout, 'the graph'):
            unheard = [p.topic_name for p in publishers if not p.get_subscription_count()]
            raise BagError('the graph did not come up within '
                           f'{timeout:.0f} s (no subscriber on {unheard}; query service '
                           f'ready: {self.client.service_is_ready()})')

    def _instruction(self, reader, plan) -> str:
        topic = self.pre.params['instruction_topic']
        src = next((s for s, d in plan.items() if d == topic), None)
        if src is None:
            return ''
        conns = [c for c in reader.connections if c.topic == src]
        for conn, _, raw in reader.messages(connections=conns):
            return str(reader.deserialize(raw, conn.msgtype).data)
        return ''

    def _episode_status(self, episode_id, state, t_ns, elapsed_s, instruction, message=''):
        from memory_interfaces.msg import EpisodeStatus
        from memory_nodes.ros_common import sec_to_stamp
        msg = EpisodeStatus(episode_id=episode_id, state=state, instruction=instruction,
                            elapsed_s=float(elapsed_s), task='bag_replay', message=message)
        msg.header.stamp = sec_to_stamp(t_ns * 1e-9)
        msg.header.frame_id = 'world'
        return msg

    def _publish(self, reader, plan, publishers, msgtypes, clock, streams, status_pub,
                 episode_id, ee_pub=None) -> ReplayStats:
        from builtin_interfaces.msg import Time
        from rosgraph_msgs.msg import Clock

        from memory_interfaces.msg import EpisodeStatus
        from memory_nodes.evaluation.bagio import target_typestore
        cfg = self.config
        store = target_typestore()
        published = {dst: 0 for dst in plan.values()}
        sent = dict.fromkeys(streams.values(), 0)
        t_first = t_last = None
        instruction = self._instruction(reader, plan) if status_pub else ''
        pre_frames0 = len(self.pre._latencies_ms)
        wall0 = time.perf_counter()
        pace0 = wall0  # the wall time bag time t_first is due at (moved on by clock jumps)
        conns = [c for c in reader.connections if c.topic in plan]
        images = {src for src, dst in plan.items() if dst in streams}
        jump_ns = int(cfg.clock_jump_s * 1e9)
        clock_faults = {'log_time_jumps': 0, 'skipped_wall_s': 0.0, 'stamps_backwards': 0,
                        'stamp_jumps_forward': 0}
        last_stamp = {}  # bag topic -> newest header stamp (ns) seen on it
        info_sent = False  # a CameraInfo went out to the preprocessor
        for conn, t_ns, raw in _images_last(reader.messages(connections=conns), images):
            if t_first is None:
                t_first = t_ns
                if status_pub:
                    status_pub.publish(self._episode_status(
                        episode_id, EpisodeStatus.STATE_RUNNING, t_ns, 0.0, instruction))
            if t_last is None or t_ns > t_last:
                if t_last is not None and t_ns - t_last > jump_ns:
                    clock_faults['log_time_jumps'] += 1
                    if cfg.rate > 0:  # replay the jump as one ordinary step, not hours
                        skip = (t_ns - t_last - jump_ns) * 1e-9 / cfg.rate
                        pace0 -= skip
                        clock_faults['skipped_wall_s'] += skip
                if cfg.rate > 0:
                    delay = pace0 + (t_ns - t_first) * 1e-9 / cfg.rate - time.perf_counter()
                    if delay > 0:
                        time.sleep(delay)
                else:  # the graph takes the step: preprocessor (and action expert) idle
                    self._wait(lambda: self._images_taken(sent) and self._expert_idle(),
                               cfg.step_timeout_s, 'the graph to take the last step')
                clock.publish(Clock(clock=Time(sec=t_ns // 1_000_000_000,
                                               nanosec=t_ns % 1_000_000_000)))
                if t_last is not None:  # what happened up to the previous step
                    self._publish_sidecar(ee_pub, status_pub, episode_id, instruction,
                                          reader.start_time, t_first, t_ns)
                t_last = t_ns
            try:
                msg = reader.deserialize(raw, conn.msgtype)
                data = bytes(store.serialize_cdr(msg, msgtypes[conn.topic]))
            except Exception as error:
                raise BagError(f'message on {conn.topic} at t={t_ns} ns cannot be '
                               f'deserialized as {conn.msgtype}: {error}') from error
            header = getattr(msg, 'header', None)
            if header is not None:
                stamp_ns = header.stamp.sec * 1_000_000_000 + header.stamp.nanosec
                prev = last_stamp.get(conn.topic)
                if prev is not None and stamp_ns < prev:
                    clock_faults['stamps_backwards'] += 1
                elif prev is not None and stamp_ns - prev > jump_ns:
                    clock_faults['stamp_jumps_forward'] += 1
                last_stamp[conn.topic] = max(stamp_ns, prev or stamp_ns)
            dst = plan[conn.topic]
            stream = streams.get(dst)
            if stream == 'color':
                stamp = msg.header.stamp.sec * 1_000_000_000 + msg.header.stamp.nanosec
                with self._lock:
                    self._published_wall[stamp] = time.perf_counter()
            if (stream and info_sent and self.pre.intrinsics is None
                    and dst == self.pre.params['color_topic']):
                # the first image waits for the preprocessor to hold the CameraInfo sent
                # before it (its callback may run later on a contended machine, and a frame
                # without a camera model is dropped as waiting)
                self._wait(lambda: self.pre.intrinsics is not None, 5.0,
                           'the preprocessor to take the first CameraInfo')
            publishers[conn.topic].publish(data)
            published[dst] += 1
            if dst == self.pre.params['camera_info_topic']:
                info_sent = True
            if stream:
                sent[stream] += 1
        self._wait(lambda: self._images_taken(sent), cfg.step_timeout_s,
                   'the preprocessor to take the last frame')
        if self.expert is not None:
            self._wait(lambda: not self.expert._busy, cfg.step_timeout_s,
                       'the action expert to finish its last chunk')
        # memory has ingested everything the preprocessor sent, and committed it
        self._wait(lambda: self.mem.ingested + self.mem.observations_out_of_order
                   >= self._records and self._quiet(),
                   cfg.step_timeout_s, 'the memory to ingest the last observations')
        if status_pub and cfg.outcome and t_first is not None:
            state = {'success': EpisodeStatus.STATE_SUCCEEDED,
                     'failure': EpisodeStatus.STATE_FAILED,
                     'timeout': EpisodeStatus.STATE_TIMED_OUT}[cfg.outcome]
            status_pub.publish(self._episode_status(
                episode_id, state, t_last, (t_last - t_first) * 1e-9, instruction,
                f'replay ended: {cfg.outcome}'))
            self._wait(lambda: not self.mem.episode_id, cfg.step_timeout_s,
                       'the memory to close the episode')
        if self.mem.memory is not None:
            self.mem.memory.flush()
        wall = time.perf_counter() - wall0
        self._latency['preprocessor_frame_ms'] = list(self.pre._latencies_ms[pre_frames0:])
        return ReplayStats(
            bag=str(cfg.bag), bag_start_s=reader.start_time * 1e-9,
            bag_duration_s=((t_last or 0) - (t_first or 0)) * 1e-9,
            wall_s=wall, rate=cfg.rate, published=published, frames_published=sent['color'],
            frames_processed=self.pre.frames_processed, frames_waiting=self.pre.frames_waiting,
            observation_messages=self._observations, observations_ingested=self.mem.ingested,
            inputs_rejected={'preprocessor': dict(self.pre.guard.rejected),
                             'memory': dict(self.mem.guard.rejected)},
            latency_ms=self._latency, episode_id=episode_id,
            topic_map={k: v for k, v in plan.items()}, clock=clock_faults)

    _sidecar_next = 0
    _phase = 0

    def _publish_sidecar(self, ee_pub, status_pub, episode_id, instruction, start_ns,
                         first_ns, now_ns) -> None:
        """Before the step at ``now_ns``: the sim sidecar's actions in force before it (as
        the executor's /sim/ee_target), and the episode's phase when it changed."""
        from geometry_msgs.msg import PoseStamped

        from memory_interfaces.msg import EpisodeStatus
        from memory_nodes.ros_common import sec_to_stamp
        cfg = self.config
        now_s = (now_ns - start_ns) * 1e-9
        if ee_pub is not None:
            taken = cfg.sidecar
            while self._sidecar_next < len(taken.times_s) and \
                    taken.times_s[self._sidecar_next] < now_s - 1e-6:
                t = taken.times_s[self._sidecar_next]
                x, y, z, yaw, _ = taken.values[self._sidecar_next]
                msg = PoseStamped()
                msg.header.stamp = sec_to_stamp(start_ns * 1e-9 + float(t))
                msg.header.frame_id = 'world'
                msg.pose.position.x, msg.pose.position.y, msg.pose.position.z = x, y, z
                msg.pose.orientation.z, msg.pose.orientation.w = np.sin(yaw / 2), np.cos(yaw / 2)
                ee_pub.publish(msg)
                self._sidecar_next += 1
        if status_pub is not None and cfg.phase_starts_s:
            starts = [cfg.phase_starts_s.get(k, np.inf) for k in ('cue', 'delay', 'act')]
            phase = max(i for i, start in enumerate(starts) if start <= now_s + 1e-6) \
                if starts[0] <= now_s + 1e-6 else 0
            if phase != self._phase:
                self._phase = phase
                msg = self._episode_status(episode_id, EpisodeStatus.STATE_RUNNING, now_ns,
                                           (now_ns - first_ns) * 1e-9, instruction)
                msg.phase = phase
                status_pub.publish(msg)

    def _expert_idle(self) -> bool:
        return self.expert is None or not self.expert._busy

    def _images_taken(self, sent) -> bool:
        received = self.pre.images_received
        return all(received[s] >= n for s, n in sent.items())

    def _quiet(self, settle_s: float = 0.1) -> bool:
        """No new observation message for ``settle_s``."""
        with self._lock:
            n = self._observations
        time.sleep(settle_s)
        with self._lock:
            return n == self._observations

    # -- asking ----------------------------------------------------------------------------
    def query(self, kind: int, text: str = '', k: int = 10, episode_id: str = '',
              time_start: float = 0.0, time_end: float = 0.0, timeout: float = 30.0):
        """Ask the memory over /memory/query; the service's response."""
        from memory_interfaces.srv import QueryMemory
        from memory_nodes.ros_common import sec_to_stamp
        request = QueryMemory.Request(kind=int(kind), text=text, k=int(k),
                                      episode_id=episode_id)
        request.time_start = sec_to_stamp(time_start)
        request.time_end = sec_to_stamp(time_end)
        start = time.perf_counter()
        future = self.client.call_async(request)
        deadline = time.monotonic() + timeout
        while not future.done():
            if time.monotonic() > deadline:
                self.client.remove_pending_request(future)
                raise TimeoutError(f'/memory/query did not answer {text!r} in {timeout} s')
            time.sleep(0.001)
        response = future.result()
        self._latency['query_round_trip_ms'].append((time.perf_counter() - start) * 1e3)
        if response.success:
            self._latency['memory_query_ms'].append(float(response.latency_ms))
        return response

    def latency(self) -> dict:
        out = {k: _percentiles(v) for k, v in self._latency.items()}
        if self.expert is not None:
            with self._lock:
                out['action_expert_inference_ms'] = _percentiles(
                    [c.inference_ms for c in self.chunks])
        return out
