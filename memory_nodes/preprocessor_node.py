"""The preprocessor node: camera streams -> object observations, scene cloud and tokens.

A thin rclpy lifecycle adapter over ``memory_nodes.perception.pipeline.Preprocessor``:

- in: colour (rgb8/bgr8/rgba8/bgra8), depth (32FC1 metres or 16UC1 millimetres) and instance
  segmentation (16UC1/32SC1/...) Images of one registered camera, paired by stamp; its
  CameraInfo (P, or K when P is empty); the camera's optical-frame pose in the world frame
  (a ``camera_pose`` parameter and/or a latched PoseStamped topic); JointState; the
  instruction (std_msgs/String, latched); EpisodeStatus (latched, optional): a new episode
  id starts a new scene for the tracker (old tracks dropped from the episode's start stamp);
- out: memory_interfaces/ObjectObservationArray (tracked objects in the world frame,
  reliable), a downsampled sensor_msgs/PointCloud2 of the scene (x y z rgb, world frame,
  best effort) and memory_interfaces/PerceptionTokens (reliable), all stamped with the
  colour image's stamp.

Malformed messages are refused by ``InputGuard`` (logged with the field and value, counted
per topic) and the node keeps running. Start it alone with
``python -m memory_nodes.preprocessor_node --ros-args -p autostart:=true`` or composed with
the rest of the stack (memory_nodes/runner.py). docs/perception.md lists every parameter.
"""

from collections import deque
import math
import sys
import time

from geometry_msgs.msg import Point, PoseStamped, Vector3
import numpy as np
from rclpy.callback_groups import MutuallyExclusiveCallbackGroup
from rclpy.lifecycle import LifecycleNode
from rclpy.parameter import Parameter
from rclpy.qos import HistoryPolicy, QoSProfile, ReliabilityPolicy
from sensor_msgs.msg import CameraInfo, Image, JointState, PointCloud2, PointField
from std_msgs.msg import Header, String

from memory_interfaces.msg import (
    EpisodeStatus,
    ObjectObservation,
    ObjectObservationArray,
    PerceptionTokens,
)
from memory_nodes.perception.camera import (
    CameraIntrinsics,
    pose_from_parameter,
    pose_matrix,
)
from memory_nodes.perception.cloud import BACKENDS, pack_cloud
from memory_nodes.perception.images import (
    decode_color,
    decode_depth,
    decode_segmentation,
    encode_image,
)
from memory_nodes.perception.labels import (
    DEFAULT_CLASS_NAMES,
    InstanceLabeler,
    parse_instance_labels,
)
from memory_nodes.perception.light_state import LightConfig
from memory_nodes.perception.objects import CENTROID_METHODS, ObjectConfig
from memory_nodes.perception.pipeline import CameraFrame, Preprocessor, SceneCloudConfig
from memory_nodes.perception.sync import ApproximateTimeSync
from memory_nodes.perception.tokens import load_token_encoder
from memory_nodes.perception.tracking import TrackerConfig
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

SOURCES = {'sim_segmentation': ObjectObservation.SOURCE_SIM_SEGMENTATION,
           'detector': ObjectObservation.SOURCE_DETECTOR,
           'oracle': ObjectObservation.SOURCE_ORACLE}
STREAMS = ('color', 'depth', 'segmentation')
POSE_HISTORY = 50  # camera poses kept to find the one nearest a frame's stamp
IMAGE_QOS = {'sensor_data': SENSOR_QOS,
             'reliable': QoSProfile(history=HistoryPolicy.KEEP_LAST, depth=5,
                                    reliability=ReliabilityPolicy.RELIABLE)}


class PreprocessorNode(LifecycleNode):
    """Lifecycle node wrapping the perception pipeline of one registered camera."""

    def __init__(self, **kwargs):
        super().__init__('preprocessor', **kwargs)
        self.guard = InputGuard(self.get_logger())
        self.topic_counts = TopicCounts()  # messages sent per reliable topic (load test)
        self._last_cloud_stamp = -float('inf')
        self._declare_parameters()
        self._inputs = []
        self._outputs = {}
        self._active = False
        self.preprocessor = None
        self.frames_processed = 0
        self.images_received = dict.fromkeys(STREAMS, 0)  # per stream, malformed included
        self.frames_waiting = 0  # complete frame sets dropped for lack of CameraInfo / pose
        self.last_timings_ms = {}
        self._latencies_ms = []

    # -- parameters ------------------------------------------------------------------------
    def _declare_parameters(self):
        p = {}
        p['autostart'] = declare(self, 'autostart', False,
                                 'configure and activate on start (no lifecycle manager)',
                                 read_only=True)
        topics = {
            'color_topic': ('/camera/scene/color/image_raw', 'colour Image (rgb8/bgr8/rgba8)'),
            'depth_topic': ('/camera/scene/depth/image_raw',
                            'depth Image registered to colour (32FC1 metres or 16UC1 mm)'),
            'segmentation_topic': ('/camera/scene/segmentation/image_raw',
                                   'instance-id Image registered to colour (16UC1/32SC1)'),
            'camera_info_topic': ('/camera/scene/camera_info', 'CameraInfo of the colour image'),
            'camera_pose_topic': ('/camera/scene/pose', 'latched PoseStamped: optical frame '
                                  'in world_frame; empty = use only camera_pose'),
            'joint_states_topic': ('/joint_states', 'JointState of the robot'),
            'instruction_topic': ('/instruction', 'latched std_msgs/String instruction'),
            'episode_status_topic': ('/sim/episode_status', "latched EpisodeStatus: a new "
                                     "episode id starts a new scene for the tracker ('' = "
                                     'off)'),
            'observations_topic': ('/perception/objects', 'out: ObjectObservationArray'),
            'scene_cloud_topic': ('/perception/scene_cloud', 'out: PointCloud2 x y z rgb'),
            'tokens_topic': ('/perception/tokens', 'out: PerceptionTokens'),
        }
        for name, (default, description) in topics.items():
            p[name] = declare(self, name, default, description, read_only=True)
        p['camera_pose'] = declare(
            self, 'camera_pose', Parameter.Type.DOUBLE_ARRAY,
            'x y z qx qy qz qw of the camera optical frame (z forward, y down) in world_frame;'
            ' unset = wait for camera_pose_topic, which overrides it when it arrives',
            read_only=True)
        p['image_qos'] = declare(
            self, 'image_qos', 'sensor_data',
            "QoS of the image subscriptions: 'sensor_data' (best effort, depth 5: works with "
            "any publisher) or 'reliable' (needs a reliable publisher; no frame loss)",
            read_only=True)
        p['world_frame'] = declare(self, 'world_frame', 'world',
                                   'frame of positions and the scene cloud', read_only=True)
        p['source_name'] = declare(self, 'source_name', 'scene_camera',
                                   'ObjectObservation.source_name', read_only=True)
        p['observation_source'] = declare(
            self, 'observation_source', 'sim_segmentation',
            f'ObjectObservation.source: one of {sorted(SOURCES)}', read_only=True)
        p['sync_slop_s'] = declare(self, 'sync_slop_s', 0.02,
                                   'max stamp difference of colour, depth and segmentation',
                                   read_only=True, min_value=0.0, max_value=1.0)
        p['sync_queue_size'] = declare(self, 'sync_queue_size', 5,
                                       'messages kept per stream while pairing',
                                       read_only=True, min_value=1, max_value=100)
        p['class_names'] = declare(
            self, 'class_names', list(DEFAULT_CLASS_NAMES),
            'class names; instance id = class_index * instance_id_divisor + instance',
            read_only=True)
        p['instance_labels'] = declare(
            self, 'instance_labels', Parameter.Type.STRING_ARRAY,
            "explicit 'id:label' entries; they win over the id encoding", read_only=True)
        p['segmentation_id_offset'] = declare(
            self, 'segmentation_id_offset', 0,
            'added to every segmentation id before labelling (ids <= 0 are background); the '
            'sim bridge needs 0 (its ids are class * 1000 + slot + 1, 0 = background)',
            read_only=True,
            min_value=-(2**31), max_value=2**31 - 1)
        p['instance_id_divisor'] = declare(self, 'instance_id_divisor', 1000,
                                           'divisor of the class-in-id encoding',
                                           read_only=True, min_value=1)
        defaults = ObjectConfig()
        p['min_depth_m'] = declare(self, 'min_depth_m', defaults.min_depth_m,
                                   'nearer depth is invalid', read_only=True, min_value=0.0)
        p['max_depth_m'] = declare(self, 'max_depth_m', defaults.max_depth_m,
                                   'farther depth is invalid', read_only=True, min_value=0.0)
        p['min_object_pixels'] = declare(self, 'min_object_pixels', defaults.min_pixels,
                                         'smaller instances are ignored', read_only=True,
                                         min_value=1)
        p['min_object_points'] = declare(self, 'min_object_points', defaults.min_points,
                                         'objects with fewer filtered points are ignored',
                                         read_only=True, min_value=1)
        p['object_voxel_size_m'] = declare(self, 'object_voxel_size_m', defaults.voxel_size_m,
                                           'per-object voxel grid (0 = off)', read_only=True,
                                           min_value=0.0, max_value=1.0)
        p['outlier_neighbors'] = declare(self, 'outlier_neighbors', defaults.outlier_neighbors,
                                         'k of statistical outlier removal (0 = off)',
                                         read_only=True, min_value=0, max_value=200)
        p['outlier_std_ratio'] = declare(self, 'outlier_std_ratio', defaults.outlier_std_ratio,
                                         'outlier threshold in standard deviations',
                                         read_only=True, min_value=0.01)
        p['centroid_method'] = declare(self, 'centroid_method', defaults.centroid_method,
                                       f'one of {list(CENTROID_METHODS)}', read_only=True)
        p['position_noise_floor_m'] = declare(
            self, 'position_noise_floor_m', defaults.position_noise_floor_m,
            'std added to every axis of the position covariance', read_only=True,
            min_value=0.0)
        p['lit_labels'] = declare(self, 'lit_labels', list(defaults.lit_labels),
                                  "classes with a 'lit' / 'dark' state", read_only=True)
        light = LightConfig()
        p['lit_rise_ratio'] = declare(self, 'lit_rise_ratio', light.rise_ratio,
                                      'a lightable track is lit at this many times its dark '
                                      'brightness', read_only=True, min_value=1.0)
        p['lit_hold_ratio'] = declare(self, 'lit_hold_ratio', light.hold_ratio,
                                      '... and stays lit down to this many times it',
                                      read_only=True, min_value=1.0)
        p['lit_baseline_quantile'] = declare(self, 'lit_baseline_quantile',
                                             light.baseline_quantile,
                                             'quantile of the dark brightness history taken '
                                             'as the dark baseline', read_only=True,
                                             min_value=0.0, max_value=0.99)
        p['lit_history_frames'] = declare(self, 'lit_history_frames', light.history_frames,
                                          'dark frames kept per track for the baseline',
                                          read_only=True, min_value=1, max_value=100000)
        p['cloud_backend'] = declare(self, 'cloud_backend', defaults.backend,
                                     f'point-cloud filters: one of {list(BACKENDS)}',
                                     read_only=True)
        clouds = SceneCloudConfig()
        p['publish_scene_cloud'] = declare(self, 'publish_scene_cloud', True,
                                           'compute and publish the scene cloud',
                                           read_only=True)
        p['scene_pixel_stride'] = declare(self, 'scene_pixel_stride', clouds.pixel_stride,
                                          'use every n-th row and column for the scene cloud;'
                                          ' 0 = automatic from scene_max_pixels',
                                          read_only=True, min_value=0, max_value=64)
        p['scene_max_pixels'] = declare(self, 'scene_max_pixels', clouds.max_pixels,
                                        'pixel budget of the automatic stride',
                                        read_only=True, min_value=1)
        p['scene_voxel_size_m'] = declare(self, 'scene_voxel_size_m', clouds.voxel_size_m,
                                          'voxel grid of the scene cloud', read_only=True,
                                          min_value=0.001, max_value=1.0)
        p['scene_max_depth_m'] = declare(self, 'scene_max_depth_m', clouds.max_depth_m,
                                         'farther pixels are left out of the scene cloud',
                                         read_only=True, min_value=0.0)
        tracker = TrackerConfig()
        p['association_gate_m'] = declare(self, 'association_gate_m',
                                          tracker.association_gate_m,
                                          'max jump of a visible track between frames',
                                          read_only=True, min_value=0.001)
        p['color_gate'] = declare(self, 'color_gate', tracker.color_gate,
                                  'max chromaticity distance within one track',
                                  read_only=True, min_value=0.0)
        p['keep_unseen_s'] = declare(self, 'keep_unseen_s', tracker.keep_unseen_s,
                                     'unseen (occluded) tracks are kept this long',
                                     read_only=True, min_value=0.001)
        p['clear_view_frames'] = declare(self, 'clear_view_frames', tracker.clear_view_frames,
                                         'drop a track after its place is seen empty this '
                                         'many frames', read_only=True, min_value=1)
        p['clear_view_margin_m'] = declare(self, 'clear_view_margin_m', 0.05,
                                           'depth behind a track that counts as seeing past '
                                           'it', read_only=True, min_value=0.0)
        p['token_encoder'] = declare(self, 'token_encoder', 'object_features',
                                     "'object_features' or 'package.module:factory'",
                                     read_only=True)
        p['token_object_slots'] = declare(self, 'token_object_slots', 4,
                                          'object slots of the perceptual tokens',
                                          read_only=True, min_value=1, max_value=256)
        p['episode_id'] = declare(self, 'episode_id', '', 'PerceptionTokens.episode_id',
                                  read_only=False)
        p['scene_cloud_period_s'] = declare(
            self, 'scene_cloud_period_s', 0.0, 'publish a scene cloud at most once per this '
            'many seconds of frame stamps (0 = with every frame; 0.1 = 10 Hz)',
            read_only=True, min_value=0.0)
        p['stats_period_s'] = declare(self, 'stats_period_s', 10.0,
                                      'log frame count, latency and rejections this often '
                                      '(0 = never)', read_only=True, min_value=0.0)
        self.params = p

    # -- lifecycle -------------------------------------------------------------------------
    def on_configure(self, state):
        p = self.params
        try:
            self.preprocessor = self._build_preprocessor(p)
            self.camera_poses = deque(maxlen=POSE_HISTORY)  # (seconds, 4x4), newest last
            if p['camera_pose']:
                self.camera_poses.append((-math.inf, pose_from_parameter(p['camera_pose'])))
            if p['image_qos'] not in IMAGE_QOS:
                raise ValueError(f"image_qos is {p['image_qos']!r}; expected one of "
                                 f'{sorted(IMAGE_QOS)}')
            if p['observation_source'] not in SOURCES:
                raise ValueError(f"observation_source is {p['observation_source']!r}; "
                                 f'expected one of {sorted(SOURCES)}')
        except ValueError as error:
            self.get_logger().error(f'configure failed: {error}')
            return TransitionCallbackReturn.FAILURE
        self.sync = ApproximateTimeSync(STREAMS, p['sync_slop_s'], p['sync_queue_size'])
        self.intrinsics = None
        self.instruction = ''
        self.joint_names, self.joint_positions = [], None
        self._outputs = {
            'objects': self.create_lifecycle_publisher(
                ObjectObservationArray, p['observations_topic'], RELIABLE_QOS),
            'cloud': self.create_lifecycle_publisher(
                PointCloud2, p['scene_cloud_topic'], SENSOR_QOS),
            'tokens': self.create_lifecycle_publisher(
                PerceptionTokens, p['tokens_topic'], RELIABLE_QOS),
        }
        group = MutuallyExclusiveCallbackGroup()  # one frame at a time; no locking of state

        def subscribe(msg_type, topic, callback, qos):
            self._inputs.append(self.create_subscription(
                msg_type, topic, callback, qos, callback_group=group))

        image_qos = IMAGE_QOS[p['image_qos']]
        subscribe(Image, p['color_topic'], self.on_color, image_qos)
        subscribe(Image, p['depth_topic'], self.on_depth, image_qos)
        subscribe(Image, p['segmentation_topic'], self.on_segmentation, image_qos)
        subscribe(CameraInfo, p['camera_info_topic'], self.on_camera_info, SENSOR_QOS)
        subscribe(JointState, p['joint_states_topic'], self.on_joint_states, SENSOR_QOS)
        subscribe(String, p['instruction_topic'], self.on_instruction, LATCHED_QOS)
        if p['camera_pose_topic']:
            subscribe(PoseStamped, p['camera_pose_topic'], self.on_camera_pose, LATCHED_QOS)
        self.scene_episode = None  # the episode id of the current scene
        if p['episode_status_topic']:
            subscribe(EpisodeStatus, p['episode_status_topic'], self.on_episode_status,
                      LATCHED_QOS)
        self._stats_timer = (self.create_timer(p['stats_period_s'], self.log_stats)
                             if p['stats_period_s'] > 0 else None)
        self.get_logger().info(
            f"configured: {p['color_topic']} + depth + segmentation -> "
            f"{p['observations_topic']}, {p['scene_cloud_topic']}, {p['tokens_topic']}")
        return TransitionCallbackReturn.SUCCESS

    def _build_preprocessor(self, p):
        labeler = InstanceLabeler(class_names=p['class_names'] or (),
                                  instance_labels=parse_instance_labels(
                                      p['instance_labels'] or ()),
                                  id_divisor=p['instance_id_divisor'])
        objects = ObjectConfig(
            min_depth_m=p['min_depth_m'], max_depth_m=p['max_depth_m'],
            min_pixels=p['min_object_pixels'], min_points=p['min_object_points'],
            voxel_size_m=p['object_voxel_size_m'], outlier_neighbors=p['outlier_neighbors'],
            outlier_std_ratio=p['outlier_std_ratio'], centroid_method=p['centroid_method'],
            position_noise_floor_m=p['position_noise_floor_m'],
            lit_labels=tuple(p['lit_labels']),
            backend=p['cloud_backend'])
        clouds = SceneCloudConfig(
            enabled=p['publish_scene_cloud'], pixel_stride=p['scene_pixel_stride'],
            max_pixels=p['scene_max_pixels'],
            voxel_size_m=p['scene_voxel_size_m'], min_depth_m=p['min_depth_m'],
            max_depth_m=p['scene_max_depth_m'], backend=p['cloud_backend'])
        tracker = TrackerConfig(
            association_gate_m=p['association_gate_m'], color_gate=p['color_gate'],
            keep_unseen_s=p['keep_unseen_s'], clear_view_frames=p['clear_view_frames'],
            light=LightConfig(rise_ratio=p['lit_rise_ratio'], hold_ratio=p['lit_hold_ratio'],
                              baseline_quantile=p['lit_baseline_quantile'],
                              history_frames=p['lit_history_frames']))
        encoder = load_token_encoder(p['token_encoder'], object_slots=p['token_object_slots'],
                                     num_classes=labeler.num_classes)
        return Preprocessor(labeler, objects, tracker, clouds, encoder,
                            clear_view_margin_m=p['clear_view_margin_m'])

    def on_activate(self, state):
        self._active = True
        return super().on_activate(state)

    def on_deactivate(self, state):
        self._active = False
        self.sync.clear()
        return super().on_deactivate(state)

    def on_cleanup(self, state):
        self._release()
        return TransitionCallbackReturn.SUCCESS

    def on_shutdown(self, state):
        self._release()
        return TransitionCallbackReturn.SUCCESS

    def _release(self):
        self._active = False
        for subscription in self._inputs:
            self.destroy_subscription(subscription)
        self._inputs = []
        for publisher in self._outputs.values():
            self.destroy_publisher(publisher)
        self._outputs = {}
        if getattr(self, '_stats_timer', None) is not None:
            self.destroy_timer(self._stats_timer)
            self._stats_timer = None
        self.preprocessor = None

    # -- inputs ----------------------------------------------------------------------------
    def on_color(self, msg):
        self._on_image('color', self.params['color_topic'], msg, decode_color)

    def on_depth(self, msg):
        self._on_image('depth', self.params['depth_topic'], msg, decode_depth)

    def on_segmentation(self, msg):
        offset = self.params['segmentation_id_offset']
        self._on_image('segmentation', self.params['segmentation_topic'], msg,
                       lambda image: decode_segmentation(image) + offset)

    def _on_image(self, stream, topic, msg, decode):
        if not self._active:
            return
        self.images_received[stream] += 1
        with self.guard(topic):
            frame_set = self.sync.add(stream, stamp_to_sec(msg.header.stamp),
                                      (msg.header.stamp, decode(msg)))
            if frame_set is not None:
                self._process(frame_set)

    def on_camera_info(self, msg):
        if not self._active:
            return
        with self.guard(self.params['camera_info_topic']):
            projection = np.asarray(msg.p, dtype=np.float64)
            if projection.size == 12 and projection[0] > 0:  # rectified: use P
                k = [projection[0], 0.0, projection[2], 0.0, projection[5], projection[6],
                     0.0, 0.0, 1.0]
            else:
                k = msg.k
            self.intrinsics = CameraIntrinsics.from_k(k, msg.width, msg.height)

    def on_camera_pose(self, msg):
        with self.guard(self.params['camera_pose_topic']):
            frame = msg.header.frame_id
            if frame and frame != self.params['world_frame']:
                raise ValueError(f"camera pose header.frame_id is {frame!r}; expected "
                                 f"{self.params['world_frame']!r} (world_frame)")
            position, q = msg.pose.position, msg.pose.orientation
            pose = pose_matrix((position.x, position.y, position.z), (q.x, q.y, q.z, q.w))
            self.camera_poses.append((stamp_to_sec(msg.header.stamp), pose))

    def camera_pose_at(self, seconds):
        """The camera pose whose stamp is nearest to ``seconds`` (a moving wrist camera needs
        the pose of the frame's instant; a fixed camera has one pose), or None."""
        if not self.camera_poses:
            return None
        return min(self.camera_poses, key=lambda entry: abs(entry[0] - seconds))[1]

    def on_joint_states(self, msg):
        with self.guard(self.params['joint_states_topic']):
            names, positions = list(msg.name), list(msg.position)
            if len(names) != len(positions):
                raise ValueError(f'joint_states has {len(names)} names but {len(positions)} '
                                 'positions')
            require_finite('joint_states.position', positions)
            self.joint_names = names
            self.joint_positions = np.asarray(positions, dtype=np.float64)

    def on_instruction(self, msg):
        self.instruction = msg.data

    def on_episode_status(self, msg):
        with self.guard(self.params['episode_status_topic']):
            if msg.episode_id == self.scene_episode:
                return
            require_finite('episode_status.elapsed_s', [msg.elapsed_s])
            start = stamp_to_sec(msg.header.stamp) - float(msg.elapsed_s)
            self.preprocessor.tracker.new_scene(start)
            self.scene_episode = msg.episode_id
            self.get_logger().info(f'new scene from t={start:.2f} s: episode '
                                   f'{msg.episode_id!r}')

    # -- processing ------------------------------------------------------------------------
    def _process(self, frame_set):
        stamp, rgb = frame_set['color']
        camera_pose = self.camera_pose_at(stamp_to_sec(stamp))
        if self.intrinsics is None or camera_pose is None:
            self.frames_waiting += 1
            missing = 'CameraInfo' if self.intrinsics is None else 'camera pose'
            self.get_logger().warning(
                f'frame dropped: no {missing} yet ({self.frames_waiting} so far)',
                throttle_duration_sec=2.0)
            return
        frame = CameraFrame(stamp=stamp_to_sec(stamp), rgb=rgb, depth=frame_set['depth'][1],
                            segmentation=frame_set['segmentation'][1],
                            intrinsics=self.intrinsics, t_world_camera=camera_pose,
                            instruction=self.instruction, joint_names=self.joint_names,
                            joint_positions=self.joint_positions)
        started = time.perf_counter()
        seconds = stamp_to_sec(stamp)
        if seconds < self._last_cloud_stamp:
            self._last_cloud_stamp = -float('inf')  # the clock went back: a new timeline
        cloud = (self.params['publish_scene_cloud'] and seconds - self._last_cloud_stamp
                 >= self.params['scene_cloud_period_s'] - 1e-6)
        result = self.preprocessor.process(frame, with_cloud=cloud)
        header = Header(stamp=stamp, frame_id=self.params['world_frame'])
        self._outputs['objects'].publish(self._observations(header, result))
        self.topic_counts.sent_one(self.params['observations_topic'])
        if cloud:
            self._outputs['cloud'].publish(_point_cloud(header, result))
            self._last_cloud_stamp = seconds
            self.topic_counts.count('clouds')
        self._outputs['tokens'].publish(self._tokens(header, result))
        self.topic_counts.sent_one(self.params['tokens_topic'])
        self.frames_processed += 1
        self.last_timings_ms = dict(result.timings_ms)
        self._latencies_ms.append((time.perf_counter() - started) * 1e3)
        del self._latencies_ms[:-1000]

    def _observations(self, header, result):
        source = SOURCES[self.params['observation_source']]
        out = ObjectObservationArray(header=header)
        for track in result.tracks:
            obs = ObjectObservation(header=header, track_id=track.track_id, label=track.label,
                                    color=track.color, visible=track.visible,
                                    state=track.state, source=source,
                                    source_name=self.params['source_name'])
            obs.rgb = [float(v) for v in track.rgb]
            obs.position = Point(x=float(track.position[0]), y=float(track.position[1]),
                                 z=float(track.position[2]))
            obs.position_covariance = [float(v) for v in np.asarray(track.covariance).ravel()]
            obs.extent = Vector3(x=float(track.extent[0]), y=float(track.extent[1]),
                                 z=float(track.extent[2]))
            obs.confidence = float(np.clip(track.confidence, 0.0, 1.0))
            obs.num_points = int(track.num_points) if track.visible else 0
            out.objects.append(obs)
        return out

    def _tokens(self, header, result):
        msg = PerceptionTokens(header=header, episode_id=self.get_parameter('episode_id').value,
                               time_step=self.frames_processed)
        msg.num_perceptual, dim = result.perceptual.shape
        msg.num_cognitive = len(result.cognitive)
        msg.dim = dim
        msg.perceptual = result.perceptual.ravel().tolist()
        msg.cognitive = result.cognitive.ravel().tolist()
        return msg

    def log_stats(self):
        latencies = np.asarray(self._latencies_ms)
        figures = (f'p50 {np.percentile(latencies, 50):.1f} ms, '
                   f'p95 {np.percentile(latencies, 95):.1f} ms' if latencies.size else 'no frames')
        self.get_logger().info(
            f'{self.frames_processed} frames ({figures}); images received '
            f'{self.images_received}; {self.frames_waiting} waiting for '
            f'camera model; rejected {dict(self.guard.rejected)}; sync dropped '
            f'{self.sync.dropped}')


def _point_cloud(header, result):
    fields, point_step, data = pack_cloud(result.cloud_points, result.cloud_colors)
    msg = PointCloud2(header=header, height=1, width=len(result.cloud_points),
                      is_bigendian=False, point_step=point_step,
                      row_step=point_step * len(result.cloud_points), is_dense=True)
    msg.fields = [PointField(name=name, offset=offset, datatype=datatype, count=count)
                  for name, offset, datatype, count in fields]
    msg.data = data
    return msg


def image_message(array, encoding, stamp, frame_id=''):
    """(H, W[, C]) array -> sensor_msgs/Image (for bridges, tests and the benchmark)."""
    fields = encode_image(array, encoding)
    msg = Image(encoding=fields.encoding, height=fields.height, width=fields.width,
                step=fields.step, is_bigendian=fields.is_bigendian)
    msg.header = Header(stamp=stamp, frame_id=frame_id)
    msg.data = fields.data
    return msg


def camera_info_message(intrinsics, stamp, frame_id=''):
    """CameraIntrinsics -> sensor_msgs/CameraInfo of a rectified image (no distortion)."""
    msg = CameraInfo(width=intrinsics.width, height=intrinsics.height,
                     distortion_model='plumb_bob')
    msg.header = Header(stamp=stamp, frame_id=frame_id)
    msg.k = intrinsics.k()
    msg.d = [0.0] * 5
    msg.r = [1.0, 0.0, 0.0, 0.0, 1.0, 0.0, 0.0, 0.0, 1.0]
    msg.p = [intrinsics.fx, 0.0, intrinsics.cx, 0.0, 0.0, intrinsics.fy, intrinsics.cy, 0.0,
             0.0, 0.0, 1.0, 0.0]
    return msg


def main(args=None):
    return run_lifecycle_node(PreprocessorNode, args)


if __name__ == '__main__':
    sys.exit(main())
