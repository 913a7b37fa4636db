"""The action-expert node: the memory-conditioned diffusion policy as a ROS 2 lifecycle node.

A thin rclpy adapter over ``models.load_policy`` (models/, plain PyTorch):

- configure: loads the checkpoint (``checkpoint``; empty = the shipped
  ``models.DEFAULT_CHECKPOINT``) on CUDA when present (``device: auto``), and checks that the
  observation it can build matches the checkpoint's input sizes;
- in (latest message kept, never blocking): the scene and wrist colour images, JointState,
  the measured end-effector pose (PoseStamped, best effort; in the sim the bridge's
  /sim/ee_pose, the pinch pose the policy was trained on; on a robot its driver's tool
  pose), object
  observations (object slots), the instruction and the episode status (phase; a new episode
  resets the perceptual-cognitive memory bank);
- out: ActionChunk on ``chunk_topic`` stamped with the colour image's stamp it was computed
  from (``observation_stamp``), the policy step, dt, the chunk and the inference time; one
  every ``replan_every`` policy steps (the checkpoint's ``diffusion.replan_every`` unless set:
  the shipped checkpoint plans every 4 steps, as ``memory-eval`` runs it; the steps between
  encode the frame into the memory bank on its schedule and send nothing).

Inference is asynchronous: each new scene image (``trigger: image``, the default; or each
perception output, or a control-rate timer) hands the newest observation to a worker thread,
so one camera frame is one policy step whatever the simulation's real-time factor; a trigger
that finds the worker still busy is deferred (counted): the worker runs once more as soon as
it is free, on the newest observation then; a further trigger while one is already deferred
is a skipped cycle (counted, never queued), and a chunk whose observation is older than
``max_latency_s`` when it is ready is dropped and counted. The policy's memory bank lives
for one episode (``use_memory_bank: false`` clears it every step: the ablation).

Observation mapping (docs/models.md has the policy's side): images are centre-cropped to a
square and resized to the checkpoint's image size (a square render of the same vertical
field of view, as in training); proprio = arm joint positions, gripper opening (sum of the
finger joints), end-effector x, y, z, yaw; object slots = observed objects ordered by class
then track number when first seen, then kept by their track for the episode, features
(visible, x, y, z, r, g, b, lit, class / number of classes, state) in the simulator's
convention, unseen ones zero (memory_nodes/perception/slots.py: `SlotTable`). A frame or an
object list stamped before the running episode began (the episode status gives its start)
is not used (counted as stale_inputs): the last perception output of the episode before
would otherwise take object slots of the new one.
"""

import math
import threading
import time

from geometry_msgs.msg import PoseStamped
import numpy as np
from rclpy.callback_groups import MutuallyExclusiveCallbackGroup
from rclpy.lifecycle import LifecycleNode
from sensor_msgs.msg import Image, JointState
from std_msgs.msg import String

from memory_interfaces.msg import ActionChunk, EpisodeStatus, ObjectObservationArray
from memory_nodes.perception.images import decode_color, square_resize
from memory_nodes.perception.slots import SlotTable
from memory_nodes.ros_common import (
    LATCHED_QOS,
    RELIABLE_QOS,
    SENSOR_QOS,
    InputGuard,
    TopicCounts,
    TransitionCallbackReturn,
    declare,
    run_lifecycle_node,
    stamp_to_sec,
)

ACTION_NAMES = ['x', 'y', 'z', 'yaw', 'gripper']
TRIGGERS = ('image', 'objects', 'timer')
# the simulator's object classes (sim.scene.CLASSES), the order the class feature encodes
DEFAULT_CLASSES = ['cup', 'ball', 'cube', 'button', 'led', 'tray', 'drawer', 'marker', 'goal',
                   'panel', 'hand']
DEFAULT_JOINTS = ['shoulder_pan', 'shoulder_lift', 'elbow', 'wrist_roll', 'wrist_pitch',
                  'tool_roll']


def yaw_of(q):
    return math.atan2(2.0 * (q.w * q.z + q.x * q.y), 1.0 - 2.0 * (q.y * q.y + q.z * q.z))


class ActionExpertNode(LifecycleNode):
    """Lifecycle node serving the diffusion action expert asynchronously."""

    def __init__(self, **kwargs):
        super().__init__('action_expert', **kwargs)
        p = {}
        p['autostart'] = declare(self, 'autostart', False,
                                 'configure and activate on start', read_only=True)
        p['checkpoint'] = declare(self, 'checkpoint', '',
                                  "checkpoint folder ('' = the shipped models.DEFAULT_CHECKPOINT)",
                                  read_only=True)
        p['device'] = declare(self, 'device', 'auto', "'auto' (CUDA when present), 'cpu', 'cuda'",
                              read_only=True)
        p['use_memory_bank'] = declare(self, 'use_memory_bank', True,
                                       'keep the memory bank over the episode (false: ablation)',
                                       read_only=True)
        p['control_rate_hz'] = declare(self, 'control_rate_hz', 10.0,
                                       "policy steps per second (trigger timer), the chunks' dt",
                                       read_only=True, min_value=0.5, max_value=100.0)
        p['trigger'] = declare(
            self, 'trigger', 'image',
            "what starts an inference: 'image' (each new scene image, the lowest camera -> "
            "chunk latency; object slots from the newest perception output, one frame "
            "older), 'objects' (each new perception output: slots and image of one frame, "
            "plus the preprocessor's latency), 'timer' (control_rate_hz)", read_only=True)
        p['max_latency_s'] = declare(self, 'max_latency_s', 0.3,
                                     'drop a chunk whose observation is older when it is ready',
                                     read_only=True, min_value=0.01, max_value=10.0)
        p['torch_threads'] = declare(self, 'torch_threads', 1, 'CPU threads of inference',
                                     read_only=True, min_value=1, max_value=64)
        p['seed'] = declare(self, 'seed', 0, 'seed of the diffusion noise', read_only=True)
        p['replan_every'] = declare(
            self, 'replan_every', 0,
            "a new chunk every this many policy steps (0 = the checkpoint's "
            "diffusion.replan_every); the steps between only write the memory bank",
            read_only=True, min_value=0, max_value=64)
        p['inference_steps'] = declare(self, 'inference_steps', 0,
                                       "DDIM steps per chunk (0 = the checkpoint's)",
                                       read_only=True, min_value=0, max_value=100)
        p['hold_missed_steps'] = declare(
            self, 'hold_missed_steps', 0,
            'an object slot its track misses for at most this many policy steps in a row '
            'shows its last features (0 = off; models/slot_hold.py)',
            read_only=True, min_value=0, max_value=100)
        p['initial_ee_pose'] = declare(
            self, 'initial_ee_pose', [0.32, 0.0, 0.30, 0.0],
            'x, y, z, yaw of the end effector at the start of an episode (the rest pose), '
            'used until the first message on ee_pose_topic of that episode', read_only=True)
        p['record_dir'] = declare(
            self, 'record_dir', '',
            "write what the policy saw and answered, one .npz per episode, into this folder "
            "('' = off; memory_nodes/policy_inputs.py)", read_only=True)
        p['stats_period_s'] = declare(self, 'stats_period_s', 10.0,
                                      'period of the stats log line (0 = never)',
                                      read_only=True, min_value=0.0, max_value=3600.0)
        p['joint_names'] = declare(self, 'joint_names', DEFAULT_JOINTS,
                                   'arm joints of the proprio vector, in order', read_only=True)
        p['finger_joints'] = declare(self, 'finger_joints', ['finger_left', 'finger_right'],
                                     'joints summed into the gripper opening', read_only=True)
        p['class_names'] = declare(self, 'class_names', DEFAULT_CLASSES,
                                   'object classes in the order of the class feature',
                                   read_only=True)
        topics = {
            'scene_image_topic': ('/camera/scene/color/image_raw', 'in: scene colour Image'),
            'wrist_image_topic': ('/camera/wrist/color/image_raw', 'in: wrist colour Image'),
            'joint_states_topic': ('/joint_states', 'in: JointState'),
            'ee_pose_topic': ('/sim/ee_pose', 'in: measured end-effector PoseStamped'),
            'objects_topic': ('/perception/objects', 'in: ObjectObservationArray'),
            'instruction_topic': ('/instruction', 'in: String (latched)'),
            'episode_status_topic': ('/sim/episode_status',
                                     "in: EpisodeStatus (phase, episode id; '' = off)"),
            'chunk_topic': ('/action_expert/chunk', 'out: ActionChunk'),
        }
        for name, (default, description) in topics.items():
            p[name] = declare(self, name, default, description, read_only=True)
        self.params = p
        self.guard = InputGuard(self.get_logger())
        self.topic_counts = TopicCounts()  # messages per reliable topic (load test)
        self.policy = None
        self.latest = {}
        self._lock = threading.Lock()
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._busy = False
        self._pending = False  # a trigger came while busy: run again when free
        self._active = False
        self._worker = None
        self._io = []
        self.episode_key = None
        self.chunks = 0
        self.skipped_cycles = 0
        self.deferred_cycles = 0
        self.dropped_late = 0
        self.stale_inputs = 0  # frames / object lists of an earlier episode, not used
        self.inference_ms = []
        self.recorder = None  # PolicyInputRecorder when record_dir is set

    # -- lifecycle -------------------------------------------------------------------------
    def on_configure(self, state):
        p = self.params
        try:
            import torch

            from memory_nodes.file_safety import check_path
            import models
            torch.set_num_threads(p['torch_threads'])
            # safetensors + JSON only: a pickle file in the folder, a truncated weights file
            # or a corrupted config.json is refused with a CheckpointError (a ValueError)
            checkpoint = check_path(p['checkpoint'], 'checkpoint') if p['checkpoint'] else None
            self.policy = models.load_policy(checkpoint,
                                             None if p['device'] == 'auto' else p['device'],
                                             memory=p['use_memory_bank'], seed=p['seed'],
                                             inference_steps=p['inference_steps'] or None,
                                             replan_every=p['replan_every'] or None,
                                             hold_missed_steps=p['hold_missed_steps'])
            enc = self.policy.cfg.encoder
            proprio = len(p['joint_names']) + 1 + 4
            if enc.proprio_dim != proprio:
                raise ValueError(f'joint_names gives a proprio vector of {proprio}; the '
                                 f'checkpoint needs {enc.proprio_dim}')
            if enc.object_dim != 10:
                raise ValueError(f'the checkpoint wants object_dim={enc.object_dim}; this node '
                                 'builds 10 features per object')
            # warm up here, not in the first control cycle: the instruction encoder loads
            # MiniLM, and the first forward pass allocates
            self.policy.reset('warm up')
            warm = {c: np.zeros((enc.image_size, enc.image_size, 3), np.uint8)
                    for c in enc.cameras}
            warm.update(proprio=np.zeros(enc.proprio_dim, np.float32),
                        objects=np.zeros((enc.object_slots, 10), np.float32),
                        phase=np.int64(2))
            self.policy.act_chunk(warm)
            self.slot_table = SlotTable(enc.object_slots, p['class_names'])
            if p['record_dir']:
                from memory_nodes.policy_inputs import PolicyInputRecorder
                self.recorder = PolicyInputRecorder(check_path(p['record_dir'], 'record_dir'))
        except (ValueError, OSError, ImportError) as error:
            self.get_logger().error(f'configure failed: {error}')
            return TransitionCallbackReturn.FAILURE
        self.cameras = {'rgb': p['scene_image_topic'], 'wrist_rgb': p['wrist_image_topic']}
        unknown = [c for c in self.policy.cfg.encoder.cameras if c not in self.cameras]
        if unknown:
            self.get_logger().error(f'configure failed: checkpoint cameras {unknown} have no '
                                    'topic')
            return TransitionCallbackReturn.FAILURE
        self.chunk_pub = self.create_lifecycle_publisher(ActionChunk, p['chunk_topic'],
                                                         RELIABLE_QOS)
        group = MutuallyExclusiveCallbackGroup()

        if p['trigger'] not in TRIGGERS:
            self.get_logger().error(f"configure failed: trigger={p['trigger']!r}; expected "
                                    f'one of {TRIGGERS}')
            return TransitionCallbackReturn.FAILURE
        first_camera = self.policy.cfg.encoder.cameras[0]
        trigger_key = {'image': first_camera, 'objects': 'objects'}.get(p['trigger'])

        reliable = {'objects': p['objects_topic']}

        def keep(key):
            def callback(msg):
                if key in reliable:
                    self.topic_counts.received_one(reliable[key])
                with self._lock:
                    self.latest[key] = msg
                if (key == 'status' and self.recorder is not None
                        and msg.state != EpisodeStatus.STATE_RUNNING):
                    self._flush_recording()  # the episode is over: its steps are complete
                if key == trigger_key and self._active:
                    self.on_tick()
            return callback

        self._io = [self.create_subscription(Image, topic, keep(key), SENSOR_QOS,
                                             callback_group=group)
                    for key, topic in self.cameras.items()
                    if key in self.policy.cfg.encoder.cameras]
        self._io += [
            self.create_subscription(JointState, p['joint_states_topic'], keep('joints'),
                                     SENSOR_QOS, callback_group=group),
            # best effort: matches a sensor-QoS pose stream and a reliable one alike
            self.create_subscription(PoseStamped, p['ee_pose_topic'], keep('ee'),
                                     SENSOR_QOS, callback_group=group),
            self.create_subscription(ObjectObservationArray, p['objects_topic'],
                                     keep('objects'), RELIABLE_QOS, callback_group=group),
            self.create_subscription(String, p['instruction_topic'], keep('instruction'),
                                     LATCHED_QOS, callback_group=group),
        ]
        if p['episode_status_topic']:
            self._io.append(self.create_subscription(
                EpisodeStatus, p['episode_status_topic'], keep('status'), LATCHED_QOS,
                callback_group=group))
        self.timer = None  # the control-rate trigger, only with trigger: timer
        if p['trigger'] == 'timer':
            self.timer = self.create_timer(1.0 / p['control_rate_hz'], self.on_tick,
                                           callback_group=MutuallyExclusiveCallbackGroup())
            self.timer.cancel()
        self.stats_timer = None
        if p['stats_period_s'] > 0:
            self.stats_timer = self.create_timer(p['stats_period_s'], self.log_stats)
        self._stop.clear()
        self._worker = threading.Thread(target=self._run, name='action_expert_inference',
                                        daemon=True)
        self._worker.start()
        diff = self.policy.cfg.diffusion
        self.get_logger().info(f'policy loaded on {self.policy.device}; memory bank '
                               f'{"on" if p["use_memory_bank"] else "off"}; '
                               f'{diff.inference_steps} {diff.scheduler.upper()} steps per chunk, '
                               f'a chunk every {self.policy.replan_every} policy steps; '
                               f'object slots missed for up to '
                               f'{self.policy.slot_hold.steps} steps held')
        return TransitionCallbackReturn.SUCCESS

    def on_activate(self, state):
        if self.timer is not None:
            self.timer.reset()
        self._active = True
        return super().on_activate(state)

    def on_deactivate(self, state):
        self._active = False
        if self.timer is not None:
            self.timer.cancel()
        return super().on_deactivate(state)

    def on_cleanup(self, state):
        self._shutdown_worker()
        self._flush_recording()
        for sub in self._io:
            self.destroy_subscription(sub)
        self._io = []
        for timer in (self.timer, self.stats_timer):
            if timer is not None:
                self.destroy_timer(timer)
        self.timer = self.stats_timer = None
        self.policy = None
        return TransitionCallbackReturn.SUCCESS

    def _shutdown_worker(self):
        self._stop.set()
        self._wake.set()
        if self._worker is not None:
            self._worker.join(timeout=5.0)
            self._worker = None

    def _flush_recording(self):
        if self.recorder is not None:
            try:
                path = self.recorder.flush()
            except OSError as error:  # a full disk loses the recording, not the node
                self.get_logger().error(f'policy inputs not written: {error}')
                return
            if path is not None:
                self.get_logger().info(f'policy inputs written to {path}')

    def log_stats(self):
        lat = sorted(self.inference_ms)
        p50 = lat[len(lat) // 2] if lat else 0.0
        p95 = lat[min(len(lat) - 1, int(0.95 * len(lat)))] if lat else 0.0
        self.get_logger().info(
            f'stats: chunks={self.chunks} skipped_cycles={self.skipped_cycles} '
            f'dropped_late={self.dropped_late} deferred_cycles={self.deferred_cycles} '
            f'stale_inputs={self.stale_inputs} '
            f'rejected={self.guard.total_rejected} '
            f'inference_p50_ms={p50:.1f} inference_p95_ms={p95:.1f}')

    def on_shutdown(self, state):
        self.log_stats()
        self._shutdown_worker()
        self._flush_recording()
        return TransitionCallbackReturn.SUCCESS

    # -- control cycle ---------------------------------------------------------------------
    def on_tick(self):
        with self._lock:
            if self._busy:
                if self._pending:
                    self.skipped_cycles += 1
                else:
                    self._pending = True
                    self.deferred_cycles += 1
                return
            self._busy = True
        self._wake.set()

    def _run(self):
        while not self._stop.is_set():
            self._wake.wait(0.5)
            self._wake.clear()
            if self._stop.is_set():
                return
            with self._lock:
                busy = self._busy
            if not busy:
                continue
            try:
                with self.guard('observation'):
                    self._step()
            finally:
                with self._lock:
                    again, self._pending = self._pending, False
                    self._busy = again
                if again:
                    self._wake.set()

    def _observation(self, snap):
        """The latest messages -> the policy's observation dict, or None if incomplete."""
        p, enc = self.params, self.policy.cfg.encoder
        needed = [k for k in enc.cameras] + ['joints', 'instruction']
        if any(k not in snap for k in needed):
            return None
        obs = {key: square_resize(decode_color(snap[key]), enc.image_size)
               for key in enc.cameras}
        js = snap['joints']
        position = dict(zip(js.name, js.position))
        missing = [n for n in [*p['joint_names'], *p['finger_joints']] if n not in position]
        if missing:
            raise ValueError(f'joint_states lacks joints {missing}')
        proprio = [position[n] for n in p['joint_names']]
        proprio.append(sum(position[n] for n in p['finger_joints']))
        if 'ee' in snap:
            ee = snap['ee'].pose
            proprio += [ee.position.x, ee.position.y, ee.position.z, yaw_of(ee.orientation)]
        else:
            proprio += [float(v) for v in p['initial_ee_pose']]
        proprio = np.asarray(proprio, np.float32)
        if not np.all(np.isfinite(proprio)):
            raise ValueError(f'proprio from joint_states / ee pose is not finite: {proprio}')
        obs['proprio'] = proprio
        objects = snap.get('objects')
        if objects is not None and self._before_episode(objects.header.stamp, snap):
            # the last perception output of the episode before: its tracks would take slots
            # (first seen) that then empty; this episode's objects come with its frames
            self.stale_inputs += 1
            objects = None
        obs['objects'] = (self.slot_table.features(objects) if objects is not None else
                          np.zeros((enc.object_slots, 10), np.float32))
        status = snap.get('status')
        obs['phase'] = np.int64(status.phase if status is not None else 2)
        return obs

    @staticmethod
    def _before_episode(stamp, snap):
        """Whether a message stamped ``stamp`` predates the running episode (its status gives
        the start: stamp minus elapsed time; half a control step of tolerance)."""
        status = snap.get('status')
        if status is None:
            return False
        start = stamp_to_sec(status.header.stamp) - float(status.elapsed_s)
        return stamp_to_sec(stamp) < start - 0.05

    def _step(self):
        with self._lock:
            snap = dict(self.latest)
        status, instruction = snap.get('status'), snap.get('instruction')
        if instruction is None:
            return
        key = (status.episode_id if status is not None else '', instruction.data)
        if key != self.episode_key:
            self.policy.reset(instruction.data)  # a new episode: an empty memory bank
            self.slot_table.reset()  # and object slots assigned afresh
            self.episode_key = key
            with self._lock:  # the arm starts the episode at rest, not where it last was
                self.latest.pop('ee', None)
            snap.pop('ee', None)
        if status is not None and status.state not in (EpisodeStatus.STATE_RUNNING,):
            return
        image = snap.get(self.policy.cfg.encoder.cameras[0])
        if image is not None and self._before_episode(image.header.stamp, snap):
            self.stale_inputs += 1  # a frame of the episode before: wait for this one's
            return
        obs = self._observation(snap)
        if obs is None:
            return
        start = time.perf_counter()
        chunk = self.policy.act_chunk(obs)  # (1, horizon, 5) on a planning step, else None
        ms = (time.perf_counter() - start) * 1e3
        if chunk is not None:
            chunk = chunk[0]
            self.inference_ms = (self.inference_ms + [ms])[-1000:]
        with self._lock:
            # the episode ended while the policy ran (its status came in and the recording
            # was flushed): the step is neither recorded after the flush nor published. The
            # status callback stores the status under this lock before it flushes, so a
            # step recorded here always precedes the flush.
            now = self.latest.get('status')
            if status is not None and (now.episode_id != status.episode_id
                                       or now.state != EpisodeStatus.STATE_RUNNING):
                return
            if self.recorder is not None:  # every step the policy ran, a chunk dropped late
                # too; a step between planning steps has a NaN chunk
                diff = self.policy.cfg.diffusion
                self.recorder.add(key[0], self.policy.step - 1,
                                  stamp_to_sec(image.header.stamp), obs,
                                  chunk if chunk is not None else
                                  np.full((diff.horizon, diff.action_dim), np.nan),
                                  ms, camera=self.policy.cfg.encoder.cameras[0])
        if chunk is None:
            return  # a step between planning steps: the bank was written, nothing to send
        age = self.get_clock().now().nanoseconds * 1e-9 - stamp_to_sec(image.header.stamp)
        if age > self.params['max_latency_s']:
            self.dropped_late += 1
            return
        msg = ActionChunk()
        msg.header.stamp = self.get_clock().now().to_msg()
        msg.header.frame_id = 'world'
        msg.observation_stamp = image.header.stamp
        msg.episode_id = key[0]
        msg.time_step = self.policy.step - 1
        msg.dt = 1.0 / self.params['control_rate_hz']
        msg.horizon, msg.action_dim = chunk.shape
        msg.action_names = ACTION_NAMES
        msg.actions = chunk.astype(np.float32).reshape(-1).tolist()
        msg.n_execute = int(self.policy.cfg.diffusion.n_action_steps)
        msg.inference_ms = float(ms)
        if self.chunk_pub.is_activated:
            self.chunk_pub.publish(msg)
            self.chunks += 1
            self.topic_counts.sent_one(self.params['chunk_topic'])


def main(args=None):
    return run_lifecycle_node(ActionExpertNode, args)


if __name__ == '__main__':
    raise SystemExit(main())
