"""The sim bridge: a lifecycle node that runs a MuJoCo memory task and speaks ROS 2.

Publishes (standard messages, so the preprocessor and any rosbag tool plug in):
  /camera/{scene,wrist}/{color,depth,segmentation}/image_raw  sensor_msgs/Image (sensor QoS):
      rgb8, 32FC1 metres, 32SC1 instance id = class * 1000 + slot + 1 (sim.instance_ids)
  /camera/{scene,wrist}/camera_info   sensor_msgs/CameraInfo, K/P of sim.camera_model
  /camera/{scene,wrist}/pose    geometry_msgs/PoseStamped of the optical frame (scene latched)
  /joint_states                 sensor_msgs/JointState
  /sim/ee_pose                  geometry_msgs/PoseStamped: the measured pinch pose (position,
                                yaw as orientation), as a robot driver's tool pose
  (joint states and the pinch pose go out before the frames of the same instant, so a node
  triggered by a frame has the arm's state of that frame)
  /clock                        rosgraph_msgs/Clock (simulated time)
  /instruction                  std_msgs/String (latched)
  /sim/episode_status           memory_interfaces/EpisodeStatus (latched)
Accepts commands (reliable):
  /sim/ee_target     geometry_msgs/PoseStamped: gripper target (position, yaw of orientation)
  /sim/gripper       std_msgs/Float64 in [0, 1], 1 = closed
  /sim/joint_command trajectory_msgs/JointTrajectory: arm joint targets (first point)
  /sim/action_chunk  memory_interfaces/ActionChunk: [x y z yaw gripper] rows, n_execute run
                     (dt must be the simulation's 0.1 s step, n_execute <= horizon)
Service /sim/start_episode (memory_interfaces/StartEpisode) starts a new episode.
It steps at `real_time_factor` x real time, or as fast as it can when that is 0. The cameras
publish `camera_rate_hz` frames per simulated second (default one per 0.1 s control step;
faster rates render between control steps, at the physics substep due); every frame comes with
its /clock, so the images and the clock keep simulated time when the bridge runs slower
than real time. With `autoplay` false it publishes nothing until the first StartEpisode.

MuJoCo's offscreen GL contexts belong to the thread that made them, so one worker thread
owns the env: it builds it, steps it, renders and publishes; callbacks only hand it commands
and episode requests under a lock.
"""

from __future__ import annotations

import math
import os
import sys
import threading
import time

os.environ.setdefault('MUJOCO_GL', 'egl')

import numpy as np  # noqa: E402

try:  # ROS is optional for the rest of sim/; this module needs it.
    from builtin_interfaces.msg import Time
    from geometry_msgs.msg import PoseStamped
    from rclpy.lifecycle import LifecycleNode, TransitionCallbackReturn
    from rclpy.parameter import Parameter
    from rosgraph_msgs.msg import Clock
    from sensor_msgs.msg import CameraInfo, Image, JointState
    from std_msgs.msg import Float64, String
    from trajectory_msgs.msg import JointTrajectory

    from memory_interfaces.msg import ActionChunk, EpisodeStatus
    from memory_interfaces.srv import StartEpisode
    from memory_nodes.ros_common import (
        LATCHED_QOS,
        RELIABLE_QOS,
        SENSOR_QOS,
        InputGuard,
        TopicCounts,
        declare,
        run_lifecycle_node,
    )
except ImportError as err:  # pragma: no cover - only without ROS
    raise ImportError(f'sim.bridge_node needs rclpy and memory_interfaces: {err}') from err

import mujoco  # noqa: E402

import sim  # noqa: E402
from sim import instance_ids  # noqa: E402
from sim.arm import ARM_JOINTS, FINGER_JOINTS  # noqa: E402
from sim.camera_model import camera_matrices, optical_pose  # noqa: E402
from sim.env import CONTROL_DT  # noqa: E402
from sim.experts import make_expert  # noqa: E402
from sim.knobs import knobs_from_numbers, parse_knobs  # noqa: E402

CAMERAS = ('scene', 'wrist')


def stamp(seconds: float) -> Time:
    sec = int(seconds)
    return Time(sec=sec, nanosec=int(round((seconds - sec) * 1e9)) % 1_000_000_000)


def image_msg(array: np.ndarray, encoding: str, t: float, frame: str) -> Image:
    msg = Image()
    msg.header.stamp = stamp(t)
    msg.header.frame_id = frame
    msg.height, msg.width = int(array.shape[0]), int(array.shape[1])
    msg.encoding = encoding
    data = np.ascontiguousarray(array).tobytes()
    msg.step = len(data) // msg.height
    msg.data = data
    return msg


class SimBridgeNode(LifecycleNode):
    """Runs one MuJoCo memory-task env; see the module docstring for the interface."""

    def __init__(self, node_name: str = 'sim_bridge', **kwargs):
        super().__init__(node_name, **kwargs)
        self.p = {
            'autostart': declare(self, 'autostart', False,
                                 'configure and activate on start', read_only=True),
            'task': declare(self, 'task', 'shell_game', f'task: one of {sorted(sim.TASKS)}'),
            'seed': declare(self, 'seed', 0, 'seed of the first episode'),
            'mode': declare(self, 'mode', 'memory', 'memory, oracle or cue_visible'),
            'width': declare(self, 'width', 128, 'published image width (px)',
                             min_value=16, max_value=1280),
            'height': declare(self, 'height', 96, 'published image height (px)',
                              min_value=16, max_value=960),
            'publish_depth': declare(self, 'publish_depth', True,
                                     'publish depth images (32FC1 metres)'),
            'publish_segmentation': declare(self, 'publish_segmentation', True,
                                            'publish instance segmentation (32SC1 id: '
                                            'class * 1000 + slot + 1, 0 = background)'),
            'real_time_factor': declare(self, 'real_time_factor', 1.0,
                                        'simulated / wall time; 0 = as fast as possible',
                                        min_value=0.0, max_value=100.0),
            'camera_rate_hz': declare(self, 'camera_rate_hz', 1.0 / CONTROL_DT,
                                      'camera frames per simulated second (>= one per '
                                      'control step)', min_value=1.0 / CONTROL_DT,
                                      max_value=250.0),
            'cameras': declare(self, 'cameras', list(CAMERAS),
                               f'cameras whose images are published, of {list(CAMERAS)}'),
            'autoplay': declare(self, 'autoplay', True,
                                'run the first episode (task, seed) on activation; false: '
                                'publish nothing until StartEpisode', read_only=True),
            'policy': declare(self, 'policy', 'external',
                              "'external' (commands from topics) or 'expert' (scripted)"),
            'world_frame': declare(self, 'world_frame', 'world', 'frame of poses'),
            'knobs': declare(self, 'knobs', Parameter.Type.STRING_ARRAY,
                             "first episode's task knobs as 'name=value' entries, e.g. "
                             "['stage=probe'] (later episodes: StartEpisode)"),
        }
        self.env = None
        self.guard = InputGuard(self.get_logger())
        self.topic_counts = TopicCounts()  # ticks, overruns, commands taken (load test)
        self._next_frame = 0.0  # simulated time of the next camera frame between steps
        self._lock = threading.Lock()  # the episode (env) and its stepping
        # the command and chunk alone, held only to read or write them: a command callback
        # that waited for _lock waited out a whole step (physics, rendering, publishing),
        # and with both on the default (mutually exclusive) callback group the gripper's
        # callback queued behind the end-effector target's: the gripper closed seconds
        # after the arm reached a drawer knob, then let go mid-pull (main job, 2 cores)
        self._command_lock = threading.Lock()
        self._worker = None
        self._stop = threading.Event()
        self._active = threading.Event()
        self._requests = []  # pending (task, seed, mode, knobs, done_event, result dict)
        self._pubs = {}
        self._subs = []
        self._srv = None

    # ------------------------------------------------------------------ lifecycle
    def on_configure(self, state):
        unknown = [c for c in self.p['cameras'] if c not in CAMERAS]
        if unknown or not self.p['cameras']:
            self.get_logger().error(f"cannot configure: parameter cameras is "
                                    f"{list(self.p['cameras'])}; expected a non-empty subset "
                                    f'of {list(CAMERAS)}')
            return TransitionCallbackReturn.FAILURE
        self._stop.clear()
        self._worker = threading.Thread(target=self._run, name='sim_bridge_env', daemon=True)
        self._worker.start()
        try:
            knobs = parse_knobs(self.p['knobs'] or ())
        except ValueError as err:
            result = {'success': False, 'message': f'parameter knobs: {err}'}
        else:
            result = self._request(self.p['task'], self.p['seed'], self.p['mode'], knobs)
        if not result['success']:
            self.get_logger().error(f'cannot configure: {result["message"]}')
            self._stop.set()
            return TransitionCallbackReturn.FAILURE
        if not self.p['autoplay']:
            with self._lock:
                self.state = EpisodeStatus.STATE_IDLE
        pubs = {}
        for cam in CAMERAS:
            for kind in ('color', 'depth', 'segmentation'):
                pubs[f'{cam}/{kind}'] = self.create_publisher(
                    Image, f'/camera/{cam}/{kind}/image_raw', SENSOR_QOS)
            pubs[f'{cam}/info'] = self.create_publisher(CameraInfo, f'/camera/{cam}/camera_info',
                                                        SENSOR_QOS)
        pubs['scene/pose'] = self.create_publisher(PoseStamped, '/camera/scene/pose',
                                                   LATCHED_QOS)
        pubs['wrist/pose'] = self.create_publisher(PoseStamped, '/camera/wrist/pose',
                                                   SENSOR_QOS)
        pubs['joints'] = self.create_publisher(JointState, '/joint_states', SENSOR_QOS)
        pubs['ee_pose'] = self.create_publisher(PoseStamped, '/sim/ee_pose', SENSOR_QOS)
        pubs['clock'] = self.create_publisher(Clock, '/clock', SENSOR_QOS)
        pubs['instruction'] = self.create_publisher(String, '/instruction', LATCHED_QOS)
        pubs['status'] = self.create_publisher(EpisodeStatus, '/sim/episode_status',
                                               LATCHED_QOS)
        self._pubs = pubs
        self._subs = [
            self.create_subscription(PoseStamped, '/sim/ee_target', self.on_ee_target,
                                     RELIABLE_QOS),
            self.create_subscription(Float64, '/sim/gripper', self.on_gripper, RELIABLE_QOS),
            self.create_subscription(JointTrajectory, '/sim/joint_command',
                                     self.on_joint_command, RELIABLE_QOS),
            self.create_subscription(ActionChunk, '/sim/action_chunk', self.on_action_chunk,
                                     RELIABLE_QOS),
        ]
        self._srv = self.create_service(StartEpisode, '/sim/start_episode',
                                        self.on_start_episode)
        self.get_logger().info(
            f"configured: task {self.p['task']} seed {self.p['seed']} mode {self.p['mode']}, "
            f"{self.p['width']}x{self.p['height']} images, policy {self.p['policy']}")
        return TransitionCallbackReturn.SUCCESS

    def on_activate(self, state):
        self._announce = True
        self._active.set()
        rtf = self.p['real_time_factor']
        self.get_logger().info(f'active: stepping at {rtf:g}x real time' if rtf > 0 else
                               'active: stepping as fast as possible')
        return super().on_activate(state)

    def on_deactivate(self, state):
        self._active.clear()
        return super().on_deactivate(state)

    def on_cleanup(self, state):
        self._stop_worker()
        for pub in self._pubs.values():
            self.destroy_publisher(pub)
        for sub in self._subs:
            self.destroy_subscription(sub)
        if self._srv is not None:
            self.destroy_service(self._srv)
        self._pubs, self._subs, self._srv = {}, [], None
        return TransitionCallbackReturn.SUCCESS

    def on_shutdown(self, state):
        return self.on_cleanup(state)

    def destroy_node(self):
        # The worker owns the GL contexts: it must close the env itself before exit.
        self._stop_worker()
        super().destroy_node()

    def _stop_worker(self):
        self._active.clear()
        self._stop.set()
        if self._worker is not None:
            self._worker.join(timeout=10)
            self._worker = None

    # ------------------------------------------------------------------ worker thread
    def _request(self, task, seed, mode, knobs, timeout=60.0) -> dict:
        """Ask the worker to start an episode; wait for its answer."""
        done, result = threading.Event(), {'success': False, 'message': 'bridge not running'}
        with self._lock:
            self._requests.append((task, seed, mode, knobs, done, result))
        done.wait(timeout)
        return result

    def _run(self):
        next_tick = time.monotonic()
        try:
            while not self._stop.is_set():
                if self._serve_requests():
                    # a new episode owes no time: without this the ticks lost while the
                    # scene was built would be caught up back to back, a burst of frames
                    next_tick = time.monotonic()
                if not self._active.is_set() or self.env is None:
                    self._stop.wait(0.01)
                    next_tick = time.monotonic()
                    continue
                if getattr(self, '_announce', False):
                    self._announce = False
                    self._publish_episode_topics()
                stepped = self.on_tick()
                rtf = self.p['real_time_factor']
                if rtf > 0:
                    if stepped and time.monotonic() - next_tick > CONTROL_DT / rtf:
                        # this step, its frames and their publishing took longer than one
                        # period at this real-time factor: the bridge fell behind
                        self.topic_counts.count('overrun_ticks')
                    next_tick += CONTROL_DT / rtf
                    self._stop.wait(max(0.0, next_tick - time.monotonic()))  # wakes on stop
                    next_tick = max(next_tick, time.monotonic() - 1.0)
        finally:
            if self.env is not None:
                self.env.close()
                self.env = None

    def _serve_requests(self):
        """Start the requested episodes; return how many requests were served."""
        with self._lock:
            pending, self._requests = self._requests, []
        for task, seed, mode, knobs, done, result in pending:
            try:
                self._start_episode(task, seed, mode, knobs)
                result.update(success=True, message='')
                if self._pubs:
                    self._publish_episode_topics()
            except ValueError as err:
                result.update(success=False, message=str(err))
            except Exception as err:  # noqa: B902 - a bad request must not end the worker
                self.get_logger().error(f'cannot start episode {task!r}: {err!r}')
                result.update(success=False, message=f'{type(err).__name__}: {err}')
            done.set()
        return len(pending)

    # ------------------------------------------------------------------ episodes
    def _start_episode(self, task, seed, mode, knobs):
        env = sim.make_env(task, int(seed), mode or 'memory', render=False, **knobs)
        with self._lock:
            if self.env is not None:
                # simulated time runs on across episodes (a lifelong memory needs one
                # monotonic timeline): the next episode starts 1 s after this one's end
                self.time_offset = self.sim_time() + 1.0
                self.env.close()
            self.env = env
            self.env.reset()
            self.slot_ids = instance_ids.slot_ids(env)
            self.expert = make_expert(env) if self.p['policy'] == 'expert' else None
            with self._command_lock:
                self.command = np.array([*self.env.ref_pose, 0.0], dtype=float)
                self.chunk = []
            self.episode_id = f'{task}-{int(seed)}-{mode or "memory"}-{time.time_ns()}'
            self.state = EpisodeStatus.STATE_RUNNING

    def on_start_episode(self, request, response):
        try:
            knobs = knobs_from_numbers(request.task, request.knob_names, request.knob_values)
            if 'render' in knobs:  # make_env's own option, set by the bridge
                raise ValueError('knob render is not a task knob: the bridge renders its '
                                 'camera images itself')
            if request.seed < 0:   # numpy would say only 'expected non-negative integer'
                raise ValueError(f'seed={request.seed}: expected a non-negative integer')
        except ValueError as err:
            response.success, response.message = False, str(err)
            return response
        result = self._request(request.task, request.seed, request.mode, knobs)
        if not result['success']:
            response.success, response.message = False, result['message']
            return response
        response.success = True
        response.episode_id = self.episode_id
        response.instruction = self.env.instruction
        response.time_limit_s = float(self.env.max_steps * CONTROL_DT)
        return response

    # ------------------------------------------------------------------ commands
    def on_ee_target(self, msg: PoseStamped):
        self.topic_counts.received_one('/sim/ee_target')
        with self.guard('/sim/ee_target'):
            p, q = msg.pose.position, msg.pose.orientation
            values = [p.x, p.y, p.z, q.x, q.y, q.z, q.w]
            if not all(math.isfinite(v) for v in values):
                raise ValueError(f'ee_target has a non-finite value: {values}')
            yaw = math.atan2(2 * (q.w * q.z + q.x * q.y), 1 - 2 * (q.y * q.y + q.z * q.z))
            with self._command_lock:
                self.command[:4] = [p.x, p.y, p.z, yaw]
                self.chunk = []

    def on_gripper(self, msg: Float64):
        self.topic_counts.received_one('/sim/gripper')
        with self.guard('/sim/gripper'):
            if not math.isfinite(msg.data) or not 0.0 <= msg.data <= 1.0:
                raise ValueError(f'gripper must be in [0, 1], got {msg.data}')
            with self._command_lock:
                self.command[4] = msg.data

    def on_joint_command(self, msg: JointTrajectory):
        self.topic_counts.received_one('/sim/joint_command')
        with self.guard('/sim/joint_command'):
            if not msg.points:
                raise ValueError('joint_command has no points')
            positions = dict(zip(msg.joint_names, msg.points[0].positions))
            missing = [j for j in ARM_JOINTS if j not in positions]
            if missing:
                raise ValueError(f'joint_command lacks joints {missing}')
            targets = [float(positions[j]) for j in ARM_JOINTS]
            if not all(math.isfinite(v) for v in targets):
                raise ValueError(f'joint_command positions are not finite: '
                                 f'{dict(zip(ARM_JOINTS, targets))}')
            with self._lock:
                env = self.env
                d = env.arm.scratch
                d.qpos[env.arm.qadr] = targets
                mujoco.mj_kinematics(env.model, d)
                pose = env.arm.pinch_pose(d)
                with self._command_lock:
                    self.command[:4] = pose
                    self.chunk = []

    def on_action_chunk(self, msg: ActionChunk):
        self.topic_counts.received_one('/sim/action_chunk')
        with self.guard('/sim/action_chunk'):
            if msg.action_dim != 5 or len(msg.actions) != msg.horizon * msg.action_dim:
                raise ValueError(f'action_chunk must be horizon x 5 actions, got dim '
                                 f'{msg.action_dim}, {len(msg.actions)} values')
            if msg.action_names and list(msg.action_names) != ['x', 'y', 'z', 'yaw', 'gripper']:
                raise ValueError(f'action_chunk.action_names is {list(msg.action_names)}; '
                                 "expected [] or ['x', 'y', 'z', 'yaw', 'gripper']")
            if msg.n_execute > msg.horizon:
                raise ValueError(f'action_chunk.n_execute is {msg.n_execute}; expected at most '
                                 f'horizon ({msg.horizon})')
            if not abs(msg.dt - CONTROL_DT) <= 1e-6:  # float32 on the wire; NaN fails too
                raise ValueError(f'action_chunk.dt is {msg.dt!r} s; this simulation steps '
                                 f'{CONTROL_DT} s per action')
            rows = np.asarray(msg.actions, dtype=float).reshape(msg.horizon, 5)  # (H, 5)
            if not np.all(np.isfinite(rows)):
                raise ValueError('action_chunk has non-finite actions')
            n = msg.n_execute or msg.horizon
            with self._command_lock:
                self.chunk = list(rows[:n])

    # ------------------------------------------------------------------ stepping
    def on_tick(self) -> bool:
        """One control step of the running episode; False when there is none to step."""
        with self._lock:
            env = self.env
            if env is None or self.state != EpisodeStatus.STATE_RUNNING:
                return False
            if self.expert is not None:
                action = self.expert()
            else:
                with self._command_lock:
                    if self.chunk:
                        self.command = np.array(self.chunk.pop(0), dtype=float)
                    action = self.command.copy()
            phase = env.phase()
            between = self.p['camera_rate_hz'] > 1.0 / CONTROL_DT + 1e-9
            _, done, _ = env.step(action, self._on_substep if between else None)
            self.topic_counts.count('ticks')
            if done:
                self.state = (EpisodeStatus.STATE_SUCCEEDED if env.success() else
                              EpisodeStatus.STATE_TIMED_OUT if env.step_count >= env.max_steps
                              else EpisodeStatus.STATE_FAILED)
            self._publish_sensors()
            if done or env.step_count % 10 == 0 or env.phase() != phase:
                self._publish_status()
            if done:
                self.get_logger().info(
                    f'episode {self.episode_id} ended after {env.step_count} steps: '
                    f'success={env.success()}')
        return True

    def _on_substep(self, elapsed):
        """Publish the camera frames due between two control steps (camera_rate_hz)."""
        t = self.sim_time() + elapsed
        if elapsed < CONTROL_DT - 1e-6 and t >= self._next_frame - 1e-9:
            self._publish_sensors(t)
            self._next_frame += 1.0 / self.p['camera_rate_hz']

    def sim_time(self) -> float:
        """Simulated seconds since the bridge started (monotonic across episodes)."""
        return getattr(self, 'time_offset', 0.0) + self.env.step_count * CONTROL_DT

    def _publish_episode_topics(self):
        if not self._pubs or self.state == EpisodeStatus.STATE_IDLE:
            return
        # the status first: a tracker told of the new scene before its first frame gives the
        # new episode's objects new tracks from that frame on (told after it, it matched
        # them to the old episode's tracks for one frame, then renumbered them)
        self._pubs['instruction'].publish(String(data=self.env.instruction))
        self._publish_status()
        self._publish_sensors()

    def _publish_status(self):
        env = self.env
        msg = EpisodeStatus()
        msg.header.stamp = stamp(self.sim_time())
        msg.episode_id = self.episode_id
        msg.task, msg.seed, msg.mode = env.task.name, env.task.seed, env.mode
        msg.state = self.state
        msg.phase = env.phase()
        msg.step = env.step_count
        msg.elapsed_s = float(self.env.step_count * CONTROL_DT)
        msg.instruction = env.instruction
        msg.message = {EpisodeStatus.STATE_SUCCEEDED: 'task solved',
                       EpisodeStatus.STATE_FAILED: 'task failed (wrong choice)',
                       EpisodeStatus.STATE_TIMED_OUT: 'time limit reached'}.get(self.state, '')
        note = env.task.outcome_note(env) if self.state != EpisodeStatus.STATE_RUNNING else ''
        if note:
            msg.message += f' ({note})'
        self._pubs['status'].publish(msg)

    def _publish_arm_state(self, t):
        """Joint states and the measured pinch pose (x, y, z, yaw) at simulated time t."""
        env = self.env
        names = list(ARM_JOINTS) + list(FINGER_JOINTS)
        js = JointState()
        js.header.stamp, js.header.frame_id = stamp(t), 'base'
        js.name = names
        js.position = [float(env.data.qpos[env.model.joint(n).qposadr[0]]) for n in names]
        js.velocity = [float(env.data.qvel[env.model.joint(n).dofadr[0]]) for n in names]
        self._pubs['joints'].publish(js)
        x, y, z, yaw = (float(v) for v in env.arm.pinch_pose(env.data))
        pose = PoseStamped()
        pose.header.stamp, pose.header.frame_id = stamp(t), self.p['world_frame']
        pose.pose.position.x, pose.pose.position.y, pose.pose.position.z = x, y, z
        pose.pose.orientation.z, pose.pose.orientation.w = math.sin(yaw / 2), math.cos(yaw / 2)
        self._pubs['ee_pose'].publish(pose)

    def _publish_sensors(self, t=None):
        """Clock, camera frames and joint states at simulated time ``t`` (default: now)."""
        env = self.env
        if t is None:
            t = self.sim_time()
            self._next_frame = t + 1.0 / self.p['camera_rate_hz']
        self.topic_counts.count('frames')
        w, h = self.p['width'], self.p['height']
        clock = Clock()
        clock.clock = stamp(t)
        self._pubs['clock'].publish(clock)
        self._publish_arm_state(t)
        for cam in self.p['cameras']:
            frame = f'{cam}_camera_optical_frame'
            self._pubs[f'{cam}/color'].publish(image_msg(env.render(cam, w, h), 'rgb8', t,
                                                         frame))
            if self.p['publish_depth']:
                self._pubs[f'{cam}/depth'].publish(image_msg(
                    env.render(cam, w, h, 'depth'), '32FC1', t, frame))
            if self.p['publish_segmentation']:
                ids = instance_ids.encode(env.render(cam, w, h, 'segmentation'), self.slot_ids)
                self._pubs[f'{cam}/segmentation'].publish(image_msg(ids, '32SC1', t, frame))
            k, p = camera_matrices(env.model, cam, w, h)
            info = CameraInfo()
            info.header.stamp, info.header.frame_id = stamp(t), frame
            info.width, info.height = w, h
            info.distortion_model = 'plumb_bob'
            info.d = [0.0] * 5
            info.k = k.reshape(-1).tolist()
            info.r = np.eye(3).reshape(-1).tolist()
            info.p = p.reshape(-1).tolist()
            self._pubs[f'{cam}/info'].publish(info)
            pos, quat = optical_pose(env.model, env.data, cam)
            pose = PoseStamped()
            pose.header.stamp, pose.header.frame_id = stamp(t), self.p['world_frame']
            pose.pose.position.x, pose.pose.position.y, pose.pose.position.z = pos.tolist()
            (pose.pose.orientation.x, pose.pose.orientation.y, pose.pose.orientation.z,
             pose.pose.orientation.w) = quat.tolist()
            self._pubs[f'{cam}/pose'].publish(pose)


def main(args=None) -> int:
    """Spin the bridge until SIGINT/SIGTERM (exit code 0); autostart configures and activates
    it. The shared node main: the stack's nodes all stop the same way."""
    return run_lifecycle_node(SimBridgeNode, args)


if __name__ == '__main__':
    sys.exit(main())
