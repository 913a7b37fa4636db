"""The executor node: runs the planner's subgoals safely at the control rate.

A thin rclpy lifecycle adapter over ``memory_nodes.execution``:

- in: the current subgoal (memory_interfaces/Subgoal, reliable) from the planner; action
  chunks (memory_interfaces/ActionChunk, reliable) from the action expert; JointState
  (sensor QoS) as the liveness signal of the robot;
- out: the end-effector target (geometry_msgs/PoseStamped) and gripper command
  (std_msgs/Float64) every control cycle, on topics a robot's controller (or the sim bridge)
  follows; the active subgoal (latched), which the action expert uses as its goal;
  MemoryEvents (subgoal started / timed out) for the memory and the planner.

Every cycle the action for the current time comes from the newest chunk that covers it
(``ActionQueue``: chunks whose window has passed or whose observation is too old are dropped
and counted), then passes the workspace and speed limits (``SafetyLimits``). A chunk that
arrives within the control period of its own observation (the action expert answers a
frame before the next one) replaces this period's command at once (``act_on_arrival``):
its first action is meant for the step that starts at that observation, and waiting for the
next cycle would run every chunk one step late, its first action never. When joint
states or chunks go stale (``InputWatchdog``), the executor holds the last safe pose instead
of acting on old data, and says so in the log; it resumes when fresh inputs arrive.

A subgoal whose verb is in ``primitive_actions`` runs as a scripted motion primitive instead
(``execution.primitives``): its waypoints are sent one per control cycle, through the same
limits, and the subgoal succeeds after the last one; chunks are ignored meanwhile. A
subgoal that follows the action expert keeps the chunks that came before it and acts on them
at once (the action expert's chunks do not depend on the subgoal).
"""

import math

from geometry_msgs.msg import PoseStamped
import numpy as np
from rclpy.callback_groups import MutuallyExclusiveCallbackGroup
from rclpy.lifecycle import LifecycleNode
from sensor_msgs.msg import JointState
from std_msgs.msg import Float64

from memory_interfaces.msg import ActionChunk, EpisodeStatus, MemoryEvent, Subgoal
from memory_nodes.execution import ActionQueue, InputWatchdog, SafetyLimits, validate_chunk
from memory_nodes.execution.primitives import PRIMITIVES, PrimitiveConfig, plan_primitive
from memory_nodes.ros_common import (
    LATCHED_QOS,
    RELIABLE_QOS,
    SENSOR_QOS,
    InputGuard,
    TopicCounts,
    TransitionCallbackReturn,
    declare,
    require_finite,
    run_lifecycle_node,
    stamp_to_sec,
)

ACTION_DIM = 5  # [x, y, z, yaw, gripper], absolute, world frame
ACTION_NAMES = ['x', 'y', 'z', 'yaw', 'gripper']  # the columns, when a chunk names them
# A clock gap this long is a pause, not missed cycles: the sim bridge's clock stands still
# between episodes and starts the next one a simulated second after the last one ended.
PAUSE_S = 1.0


class ExecutorNode(LifecycleNode):
    """Lifecycle node that turns subgoals and action chunks into safe commands."""

    def __init__(self, **kwargs):
        super().__init__('executor', **kwargs)
        self.guard = InputGuard(self.get_logger())
        p = {}
        p['autostart'] = declare(self, 'autostart', False,
                                 'configure and activate on start (no lifecycle manager)',
                                 read_only=True)
        p['control_rate_hz'] = declare(self, 'control_rate_hz', 10.0,
                                       'command rate to the robot', read_only=True,
                                       min_value=1.0, max_value=1000.0)
        p['world_frame'] = declare(self, 'world_frame', 'world', 'frame of commands',
                                   read_only=True)
        p['workspace_min'] = declare(self, 'workspace_min', [0.15, -0.45, 0.0],
                                     'lower corner of the allowed end-effector box, m',
                                     read_only=True)
        p['workspace_max'] = declare(self, 'workspace_max', [0.85, 0.45, 0.6],
                                     'upper corner of the allowed end-effector box, m',
                                     read_only=True)
        p['max_speed'] = declare(self, 'max_speed', 0.5, 'end-effector speed limit, m/s',
                                 read_only=True, min_value=0.01, max_value=5.0)
        p['max_yaw_rate'] = declare(self, 'max_yaw_rate', 2.0, 'yaw rate limit, rad/s',
                                    read_only=True, min_value=0.01, max_value=20.0)
        p['stale_joint_states_s'] = declare(self, 'stale_joint_states_s', 0.5,
                                            'hold still when joint states are older, s',
                                            read_only=True, min_value=0.01, max_value=10.0)
        p['stale_chunk_s'] = declare(self, 'stale_chunk_s', 1.5,
                                     'hold still when no chunk covers the last this long, s',
                                     read_only=True, min_value=0.01, max_value=60.0)
        p['max_chunk_age_s'] = declare(self, 'max_chunk_age_s', 0.5,
                                       'drop chunks whose observation is older, s',
                                       read_only=True, min_value=0.01, max_value=10.0)
        p['primitive_actions'] = declare(
            self, 'primitive_actions', sorted(PRIMITIVES),
            'subgoal verbs run as scripted motion primitives; others follow the action '
            'expert\'s chunks ([""] = every verb follows the action expert)', read_only=True)
        p['primitive_speed'] = declare(self, 'primitive_speed', 0.3,
                                       'speed of motion primitives, m/s', read_only=True,
                                       min_value=0.01, max_value=2.0)
        p['home_position'] = declare(self, 'home_position', [0.32, 0.0, 0.30],
                                     'where the end effector is before the first command, m',
                                     read_only=True)
        p['act_on_arrival'] = declare(
            self, 'act_on_arrival', True,
            "a chunk that arrives within its observation's control period replaces that "
            "period's command at once (false: from the next cycle on)", read_only=True)
        p['blend_steps'] = declare(self, 'blend_steps', 2,
                                   'steps over which a new chunk blends in', read_only=True,
                                   min_value=0, max_value=16)
        topics = {
            'subgoal_topic': ('/planner/subgoal', 'in: Subgoal'),
            'chunk_topic': ('/action_expert/chunk', 'in: ActionChunk'),
            'joint_states_topic': ('/joint_states', 'in: JointState (liveness)'),
            'ee_target_topic': ('/sim/ee_target', 'out: PoseStamped end-effector target'),
            'gripper_topic': ('/sim/gripper', 'out: Float64 gripper command, 1 = closed'),
            'active_subgoal_topic': ('/executor/active_subgoal', 'out: latched Subgoal'),
            'events_topic': ('/memory/events', 'out: MemoryEvent'),
            'episode_status_topic': ('/sim/episode_status',
                                     'in: EpisodeStatus; a new or ended episode drops the '
                                     "running subgoal ('' = no episodes)"),
        }
        for name, (default, description) in topics.items():
            p[name] = declare(self, name, default, description, read_only=True)
        self.params = p
        self.queue = None
        self.limits = None
        self.watchdog = None
        self.subgoal = None
        self.subgoal_started = None
        self.episode_id = None
        self.primitive = None  # waypoints of the running motion primitive, one per cycle
        self.primitive_step = 0
        self.ignored_chunks = 0
        self.last_command = None
        self._cycle_time = None  # clock time of the last cycle that acted, s
        self._cycle_base = None  # the command before that cycle's
        self._idle_cycle_time = None  # clock time of the last cycle without a subgoal, s
        self.arrival_commands = 0  # periods whose command a chunk's arrival replaced
        self.cycles = 0
        self.topic_counts = TopicCounts()  # messages per reliable topic, cycles, misses
        self._last_tick = None
        self.held_cycles = 0
        self.clamped_cycles = 0
        self._stale_reported = ()
        self.stale_holds = 0     # times the executor began holding because inputs went stale
        self._held_at_stale = 0
        self._io = []

    # -- lifecycle -------------------------------------------------------------------------
    def on_configure(self, state):
        p = self.params
        try:
            self.limits = SafetyLimits(tuple(p['workspace_min']), tuple(p['workspace_max']),
                                       p['max_speed'], p['max_yaw_rate'])
        except ValueError as error:
            self.get_logger().error(f'configure failed: {error}')
            return TransitionCallbackReturn.FAILURE
        self.queue = ActionQueue(max_age_s=p['max_chunk_age_s'], blend_steps=p['blend_steps'])
        try:
            self.primitive_config = PrimitiveConfig(speed=p['primitive_speed'],
                                                    dt=1.0 / p['control_rate_hz'])
            home = [float(v) for v in p['home_position']]
            if len(home) != 3:
                raise ValueError(f'home_position is {home}; expected [x, y, z]')
            unknown = sorted(set(p['primitive_actions']) - set(PRIMITIVES) - {''})
            if unknown:
                raise ValueError(f'primitive_actions: {unknown} are not primitives '
                                 f'(known: {sorted(PRIMITIVES)})')
        except ValueError as error:
            self.get_logger().error(f'configure failed: {error}')
            return TransitionCallbackReturn.FAILURE
        self.home = np.asarray(home)
        self.primitive_verbs = set(p['primitive_actions']) - {''}
        self.watchdog = InputWatchdog({'joint_states': p['stale_joint_states_s'],
                                       'action_chunk': p['stale_chunk_s']})
        self.ee_pub = self.create_lifecycle_publisher(PoseStamped, p['ee_target_topic'],
                                                      RELIABLE_QOS)
        self.grip_pub = self.create_lifecycle_publisher(Float64, p['gripper_topic'],
                                                        RELIABLE_QOS)
        self.active_pub = self.create_lifecycle_publisher(Subgoal, p['active_subgoal_topic'],
                                                          LATCHED_QOS)
        self.event_pub = self.create_lifecycle_publisher(MemoryEvent, p['events_topic'],
                                                         RELIABLE_QOS)
        group = MutuallyExclusiveCallbackGroup()
        self._io = [
            self.create_subscription(Subgoal, p['subgoal_topic'], self.on_subgoal,
                                     RELIABLE_QOS, callback_group=group),
            self.create_subscription(ActionChunk, p['chunk_topic'], self.on_chunk,
                                     RELIABLE_QOS, callback_group=group),
            self.create_subscription(JointState, p['joint_states_topic'],
                                     self.on_joint_states, SENSOR_QOS, callback_group=group),
        ]
        if p['episode_status_topic']:
            self._io.append(self.create_subscription(
                EpisodeStatus, p['episode_status_topic'], self.on_episode_status, LATCHED_QOS,
                callback_group=group))
        self.timer = self.create_timer(1.0 / p['control_rate_hz'], self.on_tick,
                                       callback_group=group)
        self.timer.cancel()
        return TransitionCallbackReturn.SUCCESS

    def on_activate(self, state):
        self.timer.reset()
        result = super().on_activate(state)
        # say that nothing runs here (a restart loses the subgoal): the planner sends its
        # current one again
        self.active_pub.publish(Subgoal(text='idle: executor activated'))
        return result

    def on_deactivate(self, state):
        self.timer.cancel()
        return super().on_deactivate(state)

    def on_cleanup(self, state):
        for entity in self._io:
            self.destroy_subscription(entity)
        self._io = []
        self.destroy_timer(self.timer)
        for pub in (self.ee_pub, self.grip_pub, self.active_pub, self.event_pub):
            self.destroy_publisher(pub)
        return TransitionCallbackReturn.SUCCESS

    def on_shutdown(self, state):
        return TransitionCallbackReturn.SUCCESS

    # -- inputs ----------------------------------------------------------------------------
    def now_s(self):
        return self.get_clock().now().nanoseconds * 1e-9

    def _count_cycle(self, now):
        """Count this cycle and the control periods skipped since the last one (a loaded
        process whose timer fires late skips periods rather than running them late)."""
        self.topic_counts.count('cycles')
        last, self._last_tick = self._last_tick, now
        if last is None:
            return
        gap = now - last
        missed = int(round(gap * self.params['control_rate_hz'])) - 1
        if missed > 0 and gap < PAUSE_S:
            self.topic_counts.count('missed_cycles', missed)

    def on_subgoal(self, msg):
        self.topic_counts.received_one(self.params['subgoal_topic'])
        with self.guard('subgoal'):
            if msg.has_target_pose:
                pos = msg.target_pose.pose.position
                require_finite('subgoal.target_pose.position', (pos.x, pos.y, pos.z))
            if not math.isfinite(msg.timeout_s) or msg.timeout_s < 0:
                raise ValueError(f'subgoal.timeout_s is {msg.timeout_s!r}; expected >= 0')
            if not msg.action:
                raise ValueError('subgoal.action is empty')
            primitive = None
            if msg.action in self.primitive_verbs:
                if not msg.has_target_pose:
                    raise ValueError(f'subgoal {msg.action!r} ({msg.text!r}) has no target '
                                     'pose; a motion primitive needs one')
                pos = msg.target_pose.pose.position
                start = (self.last_command[:3] if self.last_command is not None
                         else self.home)
                primitive = plan_primitive(msg.action, (pos.x, pos.y, pos.z), start,
                                           self.primitive_config)
            now = self.now_s()
            self.subgoal = msg
            self.subgoal_started = now
            self.primitive, self.primitive_step = primitive, 0
            if primitive is not None:
                self.queue.clear()
                self.watchdog.seen('action_chunk', now)
            if self.active_pub.is_activated:
                self.active_pub.publish(msg)
            self._event('subgoal_started', msg)
            if primitive is None:
                self._act_on_subgoal_arrival(now)

    def _act_on_subgoal_arrival(self, now):
        """A subgoal that follows the action expert keeps the chunks already queued (the
        action expert plans from observations and the instruction, not from the subgoal);
        arriving within a control period whose cycle sent nothing (no subgoal yet), it sends
        that period's command at once from them (``act_on_arrival``). Clearing them and
        waiting for the next chunk held the arm for up to a re-plan interval at the start of
        the act phase (in-process, button sequence held 4 steps: 24/24 -> 6/24)."""
        dt = 1.0 / self.params['control_rate_hz']
        idle = self._idle_cycle_time
        if (not self.params['act_on_arrival'] or idle is None or now - idle >= dt
                or self.queue.action_at(now) is None):
            return
        self._cycle_time, self._cycle_base = idle, self.last_command
        self._act(now, self._cycle_base)
        self.arrival_commands += 1

    def on_chunk(self, msg):
        self.topic_counts.received_one(self.params['chunk_topic'])
        if self.primitive is not None:
            self.ignored_chunks += 1  # a motion primitive has the arm
            return
        with self.guard('action_chunk'):
            if msg.action_dim != ACTION_DIM:
                raise ValueError(f'action_chunk.action_dim is {msg.action_dim}; this executor '
                                 f'needs {ACTION_DIM} ([x, y, z, yaw, gripper])')
            if msg.action_names and list(msg.action_names) != ACTION_NAMES:
                raise ValueError(f'action_chunk.action_names is {list(msg.action_names)}; '
                                 f'expected [] or {ACTION_NAMES}')
            if len(msg.actions) != msg.horizon * msg.action_dim:
                raise ValueError(f'action_chunk.actions has {len(msg.actions)} values; '
                                 f'horizon x action_dim is {msg.horizon * msg.action_dim}')
            actions = np.asarray(msg.actions, dtype=np.float64).reshape(msg.horizon,
                                                                       msg.action_dim)
            chunk = validate_chunk(stamp_to_sec(msg.observation_stamp), float(msg.dt),
                                   actions, int(msg.n_execute), ACTION_DIM)
            now = self.now_s()
            if self.queue.push(chunk, now):
                self.watchdog.seen('action_chunk', now)
                dt = 1.0 / self.params['control_rate_hz']
                if (self.params['act_on_arrival'] and self.subgoal is not None
                        and self._cycle_time is not None
                        and chunk.observation_time >= self._cycle_time - 1e-6
                        and now - chunk.observation_time < dt):
                    self._act(now, self._cycle_base)  # redo this period's command
                    self.arrival_commands += 1

    def on_episode_status(self, msg):
        """A new episode (or the end of this one) drops what the executor was doing.

        Without this a primitive of the last episode runs on into the next one, whose arm the
        simulator has just sent home, and drags it across the new scene during its cue.
        """
        with self.guard('episode_status'):
            ended = msg.state not in (EpisodeStatus.STATE_IDLE, EpisodeStatus.STATE_RUNNING)
            # the first status a (re)started executor hears is the episode it joins, not a
            # new one: a subgoal the planner sent it again must not be dropped
            new = self.episode_id is not None and msg.episode_id != self.episode_id
            self.episode_id = msg.episode_id
            if not (new or ended):
                return
            if self.subgoal is not None:
                why = 'a new episode started' if new else 'the episode ended'
                self.get_logger().info(f'dropping subgoal {self.subgoal.text!r}: {why} '
                                       f'({msg.episode_id})')
            self._end_subgoal()
            if new:
                self.last_command = None  # the arm starts the episode at home

    def on_joint_states(self, msg):
        with self.guard('joint_states'):
            if len(msg.position) != len(msg.name):
                raise ValueError(f'joint_states has {len(msg.name)} names but '
                                 f'{len(msg.position)} positions')
            require_finite('joint_states.position', msg.position)
            self.watchdog.seen('joint_states', self.now_s())

    # -- control cycle ---------------------------------------------------------------------
    def on_tick(self):
        self.cycles += 1
        now = self.now_s()
        self._count_cycle(now)
        if self.subgoal is None:
            self._idle_cycle_time = now
            return
        if self.subgoal.timeout_s > 0 and now - self.subgoal_started > self.subgoal.timeout_s:
            self._event('subgoal_timed_out', self.subgoal)
            self._end_subgoal()
            return
        if self.primitive is not None:
            self.watchdog.seen('action_chunk', now)  # the primitive is its own action source
            if self.primitive_step >= len(self.primitive):
                self._event('subgoal_succeeded', self.subgoal)
                self._end_subgoal()
                return
        self._cycle_time, self._cycle_base = now, self.last_command
        self._act(now, self.last_command)

    def _act(self, now, base):
        """Send this period's command: the next action through the limits (speed from
        ``base``, the command of the period before), or hold when inputs are stale."""
        stale = self.watchdog.stale(now)
        action = None if stale else self._next_action(now)
        if action is None:
            self._hold(stale)
            return
        if self._stale_reported:
            self.get_logger().info(
                f'inputs fresh again after {self.held_cycles - self._held_at_stale} held '
                f'cycles (stale {list(self._stale_reported)}); resuming '
                f'({self.stale_holds} stale holds so far)')
        self._stale_reported = ()
        dt = 1.0 / self.params['control_rate_hz']
        command, acted = self.limits.clamp(action, base, dt)
        if acted:
            self.clamped_cycles += 1
        self._send(command)

    def _end_subgoal(self):
        """Forget the subgoal and what was driving it (primitive, queued chunks)."""
        self.subgoal = None
        self.primitive = None
        self.queue.clear()

    def _next_action(self, now):
        """The action for this cycle: the primitive's next waypoint, else the chunk queue's.

        A primitive advances one waypoint per executed cycle, not by the clock: when cycles
        come late (a loaded CPU) the arm goes through every waypoint, grasp pose included,
        rather than cutting a corner to where the clock says it should be.
        """
        if self.primitive is None:
            return self.queue.action_at(now)
        action = self.primitive[self.primitive_step]
        self.primitive_step += 1
        return action

    def _hold(self, stale):
        """Keep the last safe pose (or send nothing before the first command)."""
        self.held_cycles += 1
        if stale and tuple(stale) != self._stale_reported:
            if not self._stale_reported:
                self.stale_holds += 1
                self._held_at_stale = self.held_cycles - 1
            self._stale_reported = tuple(stale)
            self.get_logger().warning(f'holding still: stale inputs {stale}')
        if self.last_command is not None:
            self._send(self.last_command)

    def _send(self, command):
        stamp = self.get_clock().now().to_msg()
        pose = PoseStamped()
        pose.header.stamp = stamp
        pose.header.frame_id = self.params['world_frame']
        pose.pose.position.x, pose.pose.position.y, pose.pose.position.z = (
            float(v) for v in command[:3])
        pose.pose.orientation.z = math.sin(command[3] / 2.0)
        pose.pose.orientation.w = math.cos(command[3] / 2.0)
        self.ee_pub.publish(pose)
        self.grip_pub.publish(Float64(data=float(command[4])))
        if self.ee_pub.is_activated:
            self.topic_counts.sent_one(self.params['ee_target_topic'])
            self.topic_counts.sent_one(self.params['gripper_topic'])
        self.last_command = np.asarray(command, dtype=np.float64)

    def _event(self, kind, subgoal):
        event = MemoryEvent()
        event.header.stamp = self.get_clock().now().to_msg()
        event.header.frame_id = self.params['world_frame']
        event.kind = kind
        event.subject = subgoal.target
        event.text = f'{kind.replace("_", " ")}: {subgoal.text or subgoal.action}'
        event.source = 'executor'
        if subgoal.has_target_pose:
            event.has_position = True
            event.position = subgoal.target_pose.pose.position
        if self.event_pub.is_activated:
            self.event_pub.publish(event)
            self.topic_counts.sent_one(self.params['events_topic'])


def main(args=None):
    return run_lifecycle_node(ExecutorNode, args)


if __name__ == '__main__':
    raise SystemExit(main())
