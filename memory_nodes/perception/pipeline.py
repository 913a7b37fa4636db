"""The preprocessor's per-frame work, without ROS: frame in, observations + cloud + tokens out.

``Preprocessor.process(frame)`` runs the stages in order and times each one:

1. ``objects``: per-instance point clouds -> ObjectMeasurements (objects.py);
2. ``tracking``: measurements -> tracks with stable ids, unseen ones kept (tracking.py);
3. ``scene_cloud``: every n-th row and column's valid pixels -> world points, voxel grid;
4. ``tokens``: the pluggable token encoder (tokens.py).

The ROS node (memory_nodes/preprocessor_node.py) only converts messages to a ``CameraFrame``
and the ``FrameResult`` back to messages.
"""

from dataclasses import dataclass, field
import math
import time

import numpy as np

from memory_nodes.perception.camera import depth_to_points, project_points, transform_points
from memory_nodes.perception.cloud import voxel_downsample
from memory_nodes.perception.objects import ObjectConfig, measure_objects
from memory_nodes.perception.tokens import ObjectFeatureTokens, TokenInputs, check_tokens
from memory_nodes.perception.tracking import (
    VIEW_BLOCKED,
    VIEW_EMPTY,
    VIEW_OUTSIDE,
    ObjectTracker,
    TrackerConfig,
)

STAGES = ('objects', 'tracking', 'scene_cloud', 'tokens')


@dataclass
class SceneCloudConfig:
    """The downsampled scene cloud."""

    enabled: bool = True  # compute the cloud at all
    pixel_stride: int = 0  # use every n-th row and column; 0 = the smallest stride that
    # leaves at most max_pixels pixels (2 at 128x128, 3 at 320x240, 6 at 640x480)
    max_pixels: int = 12000  # pixel budget of the automatic stride
    voxel_size_m: float = 0.02  # voxel grid of the published cloud
    min_depth_m: float = 0.05  # nearer depth readings are dropped
    max_depth_m: float = 3.0  # farther depth readings are dropped
    backend: str = 'open3d'  # 'open3d' or 'numpy' voxel grid

    def __post_init__(self):
        if self.pixel_stride < 0:
            raise ValueError(f'scene_pixel_stride is {self.pixel_stride}; expected >= 0')
        if self.max_pixels < 1:
            raise ValueError(f'scene_max_pixels is {self.max_pixels}; expected >= 1')
        if not self.voxel_size_m > 0:
            raise ValueError(f'scene_voxel_size_m is {self.voxel_size_m}; expected > 0')
        if not 0 <= self.min_depth_m < self.max_depth_m:
            raise ValueError(f'scene depth range [{self.min_depth_m}, {self.max_depth_m}] m: '
                             'expected 0 <= min < max')

    def stride(self, height, width):
        """Pixel stride for an image of height x width."""
        if self.pixel_stride:
            return self.pixel_stride
        return max(1, math.ceil(math.sqrt(height * width / self.max_pixels)))


@dataclass
class CameraFrame:
    """One registered colour + depth + segmentation frame with its camera model."""

    stamp: float  # seconds, capture time of the colour image
    rgb: np.ndarray  # (H, W, 3) uint8
    depth: np.ndarray  # (H, W) float32 metres, NaN = no reading
    segmentation: np.ndarray  # (H, W) int instance ids, <= 0 background
    intrinsics: object  # camera.CameraIntrinsics
    t_world_camera: np.ndarray  # (4, 4) optical frame -> world
    instruction: str = ''  # latest instruction text
    joint_names: list = field(default_factory=list)  # latest JointState names
    joint_positions: np.ndarray = None  # (J,) latest joint positions


@dataclass
class FrameResult:
    """Everything the preprocessor publishes for one frame."""

    stamp: float
    measurements: list  # ObjectMeasurement, this frame only
    tracks: list  # Track, visible and unseen
    cloud_points: np.ndarray  # (M, 3) float32 world frame
    cloud_colors: np.ndarray  # (M, 3) float32 in [0, 1]
    perceptual: np.ndarray  # (N_p, D) float32
    cognitive: np.ndarray  # (N_c, D) float32
    timings_ms: dict  # stage -> milliseconds, plus 'total'


class FreeSpaceCheck:
    """What a depth image shows at a world point: empty, blocked, or outside the view."""

    def __init__(self, depth, intrinsics, t_world_camera, margin_m=0.05, window=2):
        self.depth = depth
        self.intrinsics = intrinsics
        self.t_world_camera = t_world_camera
        self.margin_m = margin_m
        self.window = window

    def __call__(self, position):
        u, v, z = project_points(np.asarray(position, dtype=np.float64)[None, :],
                                 self.intrinsics, self.t_world_camera)
        u, v, z = float(u[0]), float(v[0]), float(z[0])
        if not z > 0 or not (0 <= u <= self.intrinsics.width - 1 and
                             0 <= v <= self.intrinsics.height - 1):
            return VIEW_OUTSIDE
        col, row, w = int(round(u)), int(round(v)), self.window
        patch = self.depth[max(0, row - w):row + w + 1, max(0, col - w):col + w + 1]
        patch = patch[np.isfinite(patch)]
        if patch.size == 0:
            return VIEW_BLOCKED  # no reading there: cannot tell
        return VIEW_EMPTY if float(np.median(patch)) > z + self.margin_m else VIEW_BLOCKED


class Preprocessor:
    """Stateful per-camera pipeline (the tracker remembers across frames)."""

    def __init__(self, labeler, object_config=None, tracker_config=None, cloud_config=None,
                 token_encoder=None, clear_view_margin_m=0.05):
        self.labeler = labeler
        self.object_config = object_config or ObjectConfig()
        self.cloud_config = cloud_config or SceneCloudConfig()
        self.tracker = ObjectTracker(tracker_config or TrackerConfig())
        self.token_encoder = token_encoder or ObjectFeatureTokens(
            num_classes=labeler.num_classes)
        self.clear_view_margin_m = clear_view_margin_m

    def process(self, frame, with_cloud=True):
        """Run every stage on one frame (the scene cloud only when ``with_cloud``: empty
        otherwise); raises ValueError on malformed input."""
        timings = {}
        start = clock = time.perf_counter()

        def lap(stage):
            nonlocal clock
            now = time.perf_counter()
            timings[stage] = (now - clock) * 1e3
            clock = now

        check_frame(frame)
        measurements = measure_objects(frame.rgb, frame.depth, frame.segmentation,
                                       frame.intrinsics, frame.t_world_camera, self.labeler,
                                       self.object_config)
        lap('objects')
        view = FreeSpaceCheck(frame.depth, frame.intrinsics, frame.t_world_camera,
                              self.clear_view_margin_m)
        tracks = self.tracker.update(measurements, frame.stamp, view)
        lap('tracking')
        cloud_points, cloud_colors = (self.scene_cloud(frame) if with_cloud else
                                      (np.zeros((0, 3), np.float32),
                                       np.zeros((0, 3), np.float32)))
        lap('scene_cloud')
        perceptual, cognitive = check_tokens(*self.token_encoder.encode(TokenInputs(
            stamp=frame.stamp, rgb=frame.rgb, tracks=tracks, instruction=frame.instruction,
            joint_names=frame.joint_names, joint_positions=frame.joint_positions)))
        lap('tokens')
        timings['total'] = (time.perf_counter() - start) * 1e3
        return FrameResult(stamp=frame.stamp, measurements=measurements, tracks=tracks,
                           cloud_points=cloud_points, cloud_colors=cloud_colors,
                           perceptual=perceptual, cognitive=cognitive, timings_ms=timings)

    def scene_cloud(self, frame):
        """(M, 3) world points and (M, 3) colours of the voxelised scene."""
        config = self.cloud_config
        if not config.enabled:
            return np.zeros((0, 3), np.float32), np.zeros((0, 3), np.float32)
        s = config.stride(*frame.depth.shape)
        depth = frame.depth[::s, ::s]
        with np.errstate(invalid='ignore'):
            rows, cols = np.nonzero((depth >= config.min_depth_m) &
                                    (depth <= config.max_depth_m))
        points = depth_to_points(frame.depth, frame.intrinsics, rows * s, cols * s)
        points = transform_points(frame.t_world_camera, points)
        colors = frame.rgb[rows * s, cols * s].astype(np.float32) / 255.0
        return voxel_downsample(points, config.voxel_size_m, colors, backend=config.backend)


def check_frame(frame):
    """Raise ValueError naming the field when a frame's arrays are not what process needs."""
    if not np.isfinite(frame.stamp) or frame.stamp < 0:
        raise ValueError(f'stamp is {frame.stamp!r}; expected finite seconds >= 0')
    rgb = np.asarray(frame.rgb)
    if rgb.ndim != 3 or rgb.shape[2] != 3 or rgb.dtype != np.uint8:
        raise ValueError(f'color is {rgb.dtype} {rgb.shape}; expected uint8 (H, W, 3)')
    if np.asarray(frame.depth).ndim != 2:
        raise ValueError(f'depth has shape {np.shape(frame.depth)}; expected (H, W)')
    if np.asarray(frame.segmentation).ndim != 2:
        raise ValueError(f'segmentation has shape {np.shape(frame.segmentation)}; '
                         'expected (H, W)')
    frame.intrinsics.check_image(rgb.shape, 'color')
    frame.intrinsics.check_image(np.shape(frame.depth), 'depth')
    frame.intrinsics.check_image(np.shape(frame.segmentation), 'segmentation')
    transform = np.asarray(frame.t_world_camera)
    if transform.shape != (4, 4) or not np.all(np.isfinite(transform)):
        raise ValueError(f'camera pose is {transform!r}; expected a finite 4x4 transform')
