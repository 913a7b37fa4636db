"""The planner node: closed-loop task planning over lifelong memory.

A thin rclpy lifecycle adapter over ``memory_nodes.planning``:

- in: the instruction (std_msgs/String, latched), the episode status (latched; the plan
  starts when the episode reaches its act phase; with ``episode_status_topic: ''`` it starts
  when an instruction arrives), object observations (the scene now, for positions and for
  the critic), MemoryEvents (the executor's subgoal_succeeded / subgoal_timed_out);
- uses: the memory's QueryMemory service, to resolve what the instruction leaves hidden
  (``use_lifelong_memory: false`` is the ablation that plans without it, by guessing);
- out: the current Subgoal (reliable) for the executor, PlanStatus (latched), and its own
  MemoryEvents (plan and critic outcomes) for the memory.

The loop: parse the instruction (``grammar``), plan steps (``recipes``), send one subgoal,
wait for the executor to finish it, let the critic (``critic``) check the outcome in the
scene, then go on, retry, replan or give up (``LoopGuard``: bounded retries, repeated
failing states detected).
"""

import math
import threading
import time

from rclpy.callback_groups import MutuallyExclusiveCallbackGroup, ReentrantCallbackGroup
from rclpy.lifecycle import LifecycleNode
from std_msgs.msg import String

from memory_interfaces.msg import (
    EpisodeStatus,
    MemoryEvent,
    ObjectObservationArray,
    PlanStatus,
    Subgoal,
)
from memory_interfaces.srv import QueryMemory
from memory_nodes.planning.critic import check_step
from memory_nodes.planning.grammar import parse_instruction
from memory_nodes.planning.loop_guard import LoopGuard
from memory_nodes.planning.recipes import (
    EPISODE_SLACK_S,
    MissingMemoryError,
    SceneObject,
    plan_steps,
    resolve_step,
)
from memory_nodes.ros_common import (
    LATCHED_QOS,
    RELIABLE_QOS,
    InputGuard,
    TopicCounts,
    TransitionCallbackReturn,
    declare,
    run_lifecycle_node,
    sec_to_stamp,
    stamp_to_sec,
)

ACT_PHASE = 2


class ServiceMemory:
    """``recipes.MemoryAccess`` over the QueryMemory service (blocking, with a timeout)."""

    def __init__(self, client, timeout_s):
        self.client = client
        self.timeout_s = timeout_s
        self.calls = 0
        self.latency_ms = []
        # when set, event questions cover [episode_start, now] rather than an episode id:
        # observations that arrive just before the episode status are tagged with none
        self.episode_start = 0.0

    def _ask(self, kind, text='', episode_id='', k=0, t0=0.0, t1=0.0):
        if not self.client.wait_for_service(timeout_sec=self.timeout_s):
            raise MissingMemoryError('memory service is not available')
        req = QueryMemory.Request(kind=kind, text=text, episode_id=episode_id, k=k)
        req.time_start, req.time_end = sec_to_stamp(t0), sec_to_stamp(t1)
        done = threading.Event()
        start = time.perf_counter()
        future = self.client.call_async(req)
        future.add_done_callback(lambda _: done.set())
        if not done.wait(self.timeout_s):
            self.client.remove_pending_request(future)
            raise MissingMemoryError(f'memory query {text!r} timed out')
        self.calls += 1
        self.latency_ms.append((time.perf_counter() - start) * 1e3)
        res = future.result()
        if not res.success:
            raise ValueError(f'memory refused the query {text!r}: {res.message}')
        return res

    def events(self, episode_id, text='', t0=0.0, t1=0.0):
        if self.episode_start > 0:
            episode_id, t0 = '', max(t0, self.episode_start - EPISODE_SLACK_S)
        res = self._ask(QueryMemory.Request.KIND_WHAT_HAPPENED, text, episode_id, 100, t0, t1)
        return [_Entry(e) for e in res.results]

    def where(self, text, at=0.0, k=10):
        res = self._ask(QueryMemory.Request.KIND_WHERE, text, '', k, 0.0, at)
        return [_Entry(e) for e in res.results]

    def count(self, text, episode_id, t0=0.0, t1=0.0):
        return int(self._ask(QueryMemory.Request.KIND_HOW_MANY, text, episode_id, 0, t0,
                             t1).count)

    def latest(self, text, t0=0.0, t1=0.0, k=20):
        # across every episode (no episode filter, no window from the current episode)
        res = self._ask(QueryMemory.Request.KIND_WHEN, text, '', k, t0, t1)
        return [_Entry(e) for e in res.results]


class _Entry:
    """A MemoryEntry message with plain-Python fields, as the recipes read them."""

    def __init__(self, msg):
        self.kind, self.subject, self.object, self.text = (msg.kind, msg.subject, msg.object,
                                                           msg.text)
        self.stamp = stamp_to_sec(msg.stamp)
        self.has_position = msg.has_position
        self.position = (msg.position.x, msg.position.y, msg.position.z)
        self.episode_id = msg.episode_id
        self.entry_id = int(msg.entry_id)


def scene_from_msg(msg):
    """ObjectObservationArray -> SceneObjects (every track, seen now or remembered);
    ValueError names an object whose position or extent is not finite (it would become a
    subgoal's target)."""
    for i, o in enumerate(msg.objects):
        values = (o.position.x, o.position.y, o.position.z, o.extent.x, o.extent.y, o.extent.z)
        if not all(math.isfinite(v) for v in values):
            raise ValueError(f'objects[{i}] ({o.track_id!r}): position ({o.position.x}, '
                             f'{o.position.y}, {o.position.z}) / extent ({o.extent.x}, '
                             f'{o.extent.y}, {o.extent.z}) is not finite')
    return [SceneObject(o.track_id, o.label, o.color,
                        (o.position.x, o.position.y, o.position.z),
                        (o.extent.x, o.extent.y, o.extent.z), bool(o.visible), o.state)
            for o in msg.objects]


RESEND_DELAY_S = 0.5


class PlannerNode(LifecycleNode):
    """Lifecycle node running the plan-act-check loop for one instruction at a time."""

    def __init__(self, **kwargs):
        super().__init__('planner', **kwargs)
        p = {}
        p['autostart'] = declare(self, 'autostart', False,
                                 'configure and activate on start', read_only=True)
        p['use_lifelong_memory'] = declare(
            self, 'use_lifelong_memory', True,
            'ask the memory to resolve hidden variables (false: the no-memory ablation)')
        p['seed'] = declare(self, 'seed', 0, 'seed of guesses when memory is off')
        p['rate_hz'] = declare(self, 'rate_hz', 10.0, 'planning loop rate', read_only=True,
                               min_value=0.5, max_value=100.0)
        p['query_timeout_s'] = declare(self, 'query_timeout_s', 2.0,
                                       'wait this long for one memory answer', read_only=True,
                                       min_value=0.05, max_value=60.0)
        p['plan_wait_s'] = declare(self, 'plan_wait_s', 10.0,
                                   'keep asking memory this long before the plan fails',
                                   read_only=True, min_value=0.0, max_value=600.0)
        p['settle_s'] = declare(self, 'settle_s', 0.8,
                                'wait after a subgoal before the critic looks', read_only=True,
                                min_value=0.0, max_value=10.0)
        p['executor_grace_s'] = declare(
            self, 'executor_grace_s', 3.0, 'a subgoal the executor has not reported on this '
            'long after its timeout counts as timed out (the executor died or missed it)',
            read_only=True, min_value=0.0, max_value=600.0)
        p['max_retries'] = declare(self, 'max_retries', 1, 'retries of one subgoal',
                                   read_only=True, min_value=0, max_value=10)
        p['max_replans'] = declare(self, 'max_replans', 1, 'replans of one instruction',
                                   read_only=True, min_value=0, max_value=10)
        p['world_frame'] = declare(self, 'world_frame', 'world', 'frame of targets',
                                   read_only=True)
        topics = {
            'instruction_topic': ('/instruction', 'in: String (latched)'),
            'episode_status_topic': ('/sim/episode_status',
                                     "in: EpisodeStatus ('' = plan on instruction)"),
            'objects_topic': ('/perception/objects', 'in: ObjectObservationArray'),
            'events_topic': ('/memory/events', 'in/out: MemoryEvent'),
            'query_service': ('/memory/query', 'client: QueryMemory'),
            'subgoal_topic': ('/planner/subgoal', 'out: Subgoal'),
            'executor_active_topic': ('/executor/active_subgoal',
                                      "in: the executor's latched active Subgoal; an empty "
                                      "one (a restarted executor) gets the current subgoal "
                                      "again ('' = off)"),
            'status_topic': ('/planner/status', 'out: PlanStatus (latched)'),
        }
        for name, (default, description) in topics.items():
            p[name] = declare(self, name, default, description, read_only=True)
        self.params = p
        self.guard = InputGuard(self.get_logger())
        self.topic_counts = TopicCounts()  # messages per reliable topic (load test)
        self._lock = threading.Lock()
        self._io = []
        self.scene = []
        self.instruction = ''
        self.episode_id = ''
        self.phase = None
        self.episode_done = False
        self._resend = None  # when to send the current subgoal again (a restarted executor)
        self._reset_plan()

    def _reset_plan(self):
        self.intent = None
        self.steps = []
        self.index = 0
        self.state = PlanStatus.STATE_IDLE
        self.message = ''
        self.plan_id = ''
        self.plan_started = None
        self.sent_at = None
        self.finished_at = None
        self.guard_loop = None
        self.retries = 0
        self.history = []

    # -- lifecycle -------------------------------------------------------------------------
    def on_configure(self, state):
        p = self.params
        inputs = MutuallyExclusiveCallbackGroup()
        self._io = [
            self.create_subscription(String, p['instruction_topic'], self.on_instruction,
                                     LATCHED_QOS, callback_group=inputs),
            self.create_subscription(ObjectObservationArray, p['objects_topic'],
                                     self.on_objects, RELIABLE_QOS, callback_group=inputs),
            self.create_subscription(MemoryEvent, p['events_topic'], self.on_event,
                                     RELIABLE_QOS, callback_group=inputs),
        ]
        if p['episode_status_topic']:
            self._io.append(self.create_subscription(
                EpisodeStatus, p['episode_status_topic'], self.on_episode_status, LATCHED_QOS,
                callback_group=inputs))
        if p['executor_active_topic']:
            self._io.append(self.create_subscription(
                Subgoal, p['executor_active_topic'], self.on_executor_active, LATCHED_QOS,
                callback_group=inputs))
        self.client = self.create_client(QueryMemory, p['query_service'],
                                         callback_group=ReentrantCallbackGroup())
        self.memory = ServiceMemory(self.client, p['query_timeout_s'])
        self.subgoal_pub = self.create_lifecycle_publisher(Subgoal, p['subgoal_topic'],
                                                           RELIABLE_QOS)
        self.status_pub = self.create_lifecycle_publisher(PlanStatus, p['status_topic'],
                                                          LATCHED_QOS)
        self.event_pub = self.create_lifecycle_publisher(MemoryEvent, p['events_topic'],
                                                         RELIABLE_QOS)
        self.timer = self.create_timer(1.0 / p['rate_hz'], self.on_tick,
                                       callback_group=MutuallyExclusiveCallbackGroup())
        return TransitionCallbackReturn.SUCCESS

    def on_cleanup(self, state):
        for sub in self._io:
            self.destroy_subscription(sub)
        self._io = []
        self.destroy_timer(self.timer)
        return TransitionCallbackReturn.SUCCESS

    def on_shutdown(self, state):
        return TransitionCallbackReturn.SUCCESS

    def now_s(self):
        return self.get_clock().now().nanoseconds * 1e-9

    # -- inputs ----------------------------------------------------------------------------
    def on_instruction(self, msg):
        with self.guard('instruction'):
            with self._lock:
                if msg.data != self.instruction:
                    self.instruction = msg.data
                    self._reset_plan()
                    self.episode_done = False

    def on_episode_status(self, msg):
        with self.guard('episode_status'):
            with self._lock:
                if msg.episode_id != self.episode_id:
                    self.episode_id = msg.episode_id
                    self._reset_plan()
                    self.episode_done = False
                if msg.instruction:
                    self.instruction = msg.instruction
                self.phase = int(msg.phase)
                self.memory.episode_start = max(
                    0.0, stamp_to_sec(msg.header.stamp) - float(msg.elapsed_s))
                self.episode_done = msg.state not in (EpisodeStatus.STATE_IDLE,
                                                      EpisodeStatus.STATE_RUNNING)

    def on_executor_active(self, msg):
        """An empty active subgoal is a (re)started executor that runs nothing: when a
        subgoal of ours is out, send it again rather than wait for its timeout."""
        if msg.action:
            return
        with self._lock:
            if self.state == PlanStatus.STATE_EXECUTING and self.sent_at is not None \
                    and self.finished_at is None:
                # half a second for our publisher to match the new process's subscription
                self._resend = self.now_s() + RESEND_DELAY_S

    def on_objects(self, msg):
        self.topic_counts.received_one(self.params['objects_topic'])
        with self.guard('objects'):
            scene = scene_from_msg(msg)
            with self._lock:
                self.scene = scene

    def on_event(self, msg):
        self.topic_counts.received_one(self.params['events_topic'])
        if msg.source == 'planner':
            return
        with self._lock:
            if self.state != PlanStatus.STATE_EXECUTING or self.sent_at is None:
                return
            step = self.steps[self.index]
            if msg.subject != step.target:
                return
            if msg.kind == 'subgoal_succeeded' and self.finished_at is None:
                self.finished_at = (self.now_s(), True)
            elif msg.kind == 'subgoal_timed_out' and self.finished_at is None:
                self.finished_at = (self.now_s(), False)

    # -- the loop --------------------------------------------------------------------------
    def _ready_to_plan(self):
        if not self.instruction or self.episode_done:
            return False
        if self.params['episode_status_topic']:
            return self.phase == ACT_PHASE
        return True

    def on_tick(self):
        with self._lock:
            state = self.state
            ready = self._ready_to_plan()
            resend = self._resend is not None and self.now_s() >= self._resend
            if resend:
                self._resend = None
        if resend and state == PlanStatus.STATE_EXECUTING:
            self.get_logger().info(f'the executor (re)started idle: sending step {self.index} '
                                   'again')
            return self._send_current()
        if state == PlanStatus.STATE_IDLE and ready:
            self._plan(first=True)
        elif state in (PlanStatus.STATE_PLANNING, PlanStatus.STATE_REPLANNING) and ready:
            self._plan(first=False)
        elif state == PlanStatus.STATE_EXECUTING:
            self._check_progress()

    def _plan(self, first):
        with self._lock:
            if first:
                self.plan_started = self.now_s()
                self.plan_id = f'{self.episode_id or "plan"}-{int(self.plan_started * 1e3)}'
                self.guard_loop = LoopGuard(self.params['max_retries'],
                                            self.params['max_replans'])
                self.state = PlanStatus.STATE_PLANNING
            scene = list(self.scene)
            episode_id, instruction = self.episode_id, self.instruction
        try:
            if self.intent is None:
                self.intent = parse_instruction(instruction)
            memory = self.memory if self.params['use_lifelong_memory'] else None
            seed = self.params['seed'] + (hash(episode_id) & 0xFFFF)
            steps = plan_steps(self.intent, memory, scene, episode_id, seed=seed)
        except MissingMemoryError as error:
            if self.now_s() - self.plan_started < self.params['plan_wait_s']:
                self.message = f'waiting for memory: {error}'
                return
            return self._finish(PlanStatus.STATE_FAILED, f'cannot plan: {error}')
        except ValueError as error:
            self.guard.reject('instruction', error)
            return self._finish(PlanStatus.STATE_FAILED, f'cannot plan: {error}')
        if not steps:  # e.g. watch_placement: perception and memory do the work
            return self._finish(PlanStatus.STATE_SUCCEEDED,
                                f'nothing to do for {self.intent.task}: watching')
        with self._lock:
            self.steps, self.index = steps, 0
            self.state = PlanStatus.STATE_EXECUTING
            self.message = f'plan of {len(steps)} steps: ' + '; '.join(s.text for s in steps)
        self.get_logger().info(self.message)
        self._event('plan_started', self.message)
        self._send_current()

    def _send_current(self):
        with self._lock:  # late binding: where the step's object is now
            step, note = resolve_step(self.steps[self.index], self.scene)
            self.steps[self.index] = step
        if note:
            self.get_logger().info(f'step {self.index} ({step.text}): {note}')
        msg = Subgoal()
        msg.header.stamp = self.get_clock().now().to_msg()
        msg.header.frame_id = self.params['world_frame']
        msg.plan_id, msg.index = self.plan_id, self.index
        msg.action, msg.target, msg.text = step.action, step.target, step.text
        msg.has_target_pose = True
        msg.target_pose.header = msg.header
        pos = msg.target_pose.pose.position
        pos.x, pos.y, pos.z = (float(v) for v in step.point)
        msg.target_pose.pose.orientation.w = 1.0
        msg.timeout_s = float(step.timeout_s)
        with self._lock:
            self.sent_at = self.now_s()
            self.finished_at = None
        self.subgoal_pub.publish(msg)
        if self.subgoal_pub.is_activated:
            self.topic_counts.sent_one(self.params['subgoal_topic'])
        self._publish_status()

    def _check_progress(self):
        with self._lock:
            finished, step, scene = self.finished_at, self.steps[self.index], list(self.scene)
            sent_at = self.sent_at
        if finished is None:
            # a restarted executor never heard of the subgoal: without a deadline here the
            # plan would wait for its report until the episode ran out
            late = self.now_s() - sent_at - step.timeout_s if sent_at is not None else 0.0
            if step.timeout_s > 0 and late > self.params['executor_grace_s']:
                self.get_logger().warning(
                    f'step {self.index} ({step.text}): no report from the executor '
                    f'{late:.1f} s after its timeout; counting it as timed out')
                with self._lock:
                    self.finished_at = (self.now_s(), False)
            return
        when, completed = finished
        if self.now_s() - when < self.params['settle_s']:
            return
        ok, reason = check_step(step, scene) if completed else (False, 'executor timed out')
        self._event('subgoal_verified' if ok else 'subgoal_failed', f'{step.text}: {reason}',
                    step.target)
        if ok:
            with self._lock:
                self.index += 1
                done = self.index >= len(self.steps)
            if done:
                return self._finish(PlanStatus.STATE_SUCCEEDED, 'every step verified')
            return self._send_current()
        signature = tuple(sorted((o.label, round(o.position[0], 2), round(o.position[1], 2))
                                 for o in scene))
        verdict = self.guard_loop.record_failure((self.index, step.target), signature)
        self.get_logger().warning(f'step {self.index} failed ({reason}): {verdict}')
        if verdict == 'retry':
            with self._lock:
                self.retries += 1
            return self._send_current()
        if verdict == 'replan':
            with self._lock:
                self.state = PlanStatus.STATE_REPLANNING
            return self._publish_status()
        return self._finish(PlanStatus.STATE_FAILED, f'gave up: {reason}')

    def _finish(self, state, message):
        with self._lock:
            self.state, self.message = state, message
        # one call site per severity: rclpy refuses a call site whose severity changes
        if state == PlanStatus.STATE_SUCCEEDED:
            self.get_logger().info(f'plan {self.plan_id}: {message}')
        else:
            self.get_logger().warning(f'plan {self.plan_id}: {message}')
        self._event('plan_succeeded' if state == PlanStatus.STATE_SUCCEEDED else 'plan_failed',
                    message)
        self._publish_status()

    def _publish_status(self):
        if not self.status_pub.is_activated:
            return
        msg = PlanStatus()
        msg.header.stamp = self.get_clock().now().to_msg()
        with self._lock:
            msg.plan_id, msg.instruction, msg.state = self.plan_id, self.instruction, self.state
            for i, step in enumerate(self.steps):
                sub = Subgoal(plan_id=self.plan_id, index=i, action=step.action,
                              target=step.target, text=step.text, timeout_s=step.timeout_s)
                msg.subgoals.append(sub)
            msg.current_index = self.index
            msg.retries = self.retries
            msg.replans = self.guard_loop.replans if self.guard_loop else 0
            msg.loop_detected = bool(self.guard_loop and any(
                len(v) < self.guard_loop.retries.get(k, 0)
                for k, v in self.guard_loop.failed_states.items()))
            msg.message = self.message
        self.status_pub.publish(msg)

    def _event(self, kind, text, subject=''):
        if not self.event_pub.is_activated:
            return
        msg = MemoryEvent()
        msg.header.stamp = self.get_clock().now().to_msg()
        msg.kind, msg.subject, msg.text, msg.source = kind, subject or 'plan', text, 'planner'
        msg.episode_id = self.episode_id
        self.event_pub.publish(msg)
        self.topic_counts.sent_one(self.params['events_topic'])


def main(args=None):
    return run_lifecycle_node(PlannerNode, args)


if __name__ == '__main__':
    raise SystemExit(main())
