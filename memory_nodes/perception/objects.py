"""Per-object measurements from one registered colour + depth + instance-segmentation frame.

For every instance id in the segmentation image: the pixels with valid depth are lifted to
3-D points in the world frame, voxel-downsampled, cleaned by statistical outlier removal,
and summarised as an ``ObjectMeasurement``: centroid, covariance, axis-aligned extent, mean
colour, its name and brightness, whether the class can light up, point count and a
confidence. Whether a lightable object is lit is not decided here, from one frame, but by the
tracker against the object's own dark brightness (light_state.py).

Where the centroid comes from (``centroid_method``): a single camera sees only the near
surface of an object, so the mean of the visible points lies between the true centre and the
camera. ``'bbox'`` (the default) takes the centre of the trimmed axis-aligned bounding box of
the points in the world frame, which recovers the centre of boxes, cylinders and cups resting
on a table seen from above at an angle (their top and a side are both visible); ``'mean'`` is
the plain mean of the visible surface.
"""

from dataclasses import dataclass, field

import numpy as np
from scipy.spatial import cKDTree

from memory_nodes.perception.camera import depth_to_points, transform_points
from memory_nodes.perception.cloud import statistical_outlier_mask, voxel_downsample
from memory_nodes.perception.colors import color_name

CENTROID_METHODS = ('bbox', 'mean')


@dataclass
class ObjectConfig:
    """How objects are cut out of a frame and summarised."""

    min_depth_m: float = 0.05  # nearer depth readings are treated as invalid
    max_depth_m: float = 5.0  # farther depth readings are treated as invalid
    min_pixels: int = 12  # instances with fewer valid-depth pixels are ignored
    min_points: int = 5  # objects with fewer points after filtering are ignored
    voxel_size_m: float = 0.004  # per-object voxel grid before outlier removal (0 = off)
    outlier_neighbors: int = 12  # k of the statistical outlier filter (0 = filter off)
    outlier_std_ratio: float = 2.0  # points beyond mean + ratio * std of k-NN distance go
    centroid_method: str = 'bbox'  # 'bbox' (trimmed bounding-box centre) or 'mean'
    bbox_trim_fraction: float = 0.01  # fraction of points trimmed at each end for 'bbox'
    position_noise_floor_m: float = 0.005  # std added to every axis of the covariance
    lit_labels: tuple = ('button', 'led', 'light', 'lamp')  # classes with a lit/dark state
    backend: str = 'open3d'  # 'open3d' or 'numpy' implementation of the cloud filters

    def __post_init__(self):
        if not 0 <= self.min_depth_m < self.max_depth_m:
            raise ValueError(f'min_depth_m={self.min_depth_m}, max_depth_m={self.max_depth_m}:'
                             ' expected 0 <= min < max')
        if self.centroid_method not in CENTROID_METHODS:
            raise ValueError(f'centroid_method is {self.centroid_method!r}; expected one of '
                             f'{list(CENTROID_METHODS)}')
        if not 0 <= self.bbox_trim_fraction < 0.5:
            raise ValueError(f'bbox_trim_fraction is {self.bbox_trim_fraction}; '
                             'expected 0 <= f < 0.5')
        if self.voxel_size_m < 0 or self.position_noise_floor_m < 0:
            raise ValueError('voxel_size_m and position_noise_floor_m must be >= 0, got '
                             f'{self.voxel_size_m} and {self.position_noise_floor_m}')
        self.lit_labels = tuple(self.lit_labels)


@dataclass
class ObjectMeasurement:
    """One object as measured in one frame (world frame, metres)."""

    instance_id: int  # id in the segmentation image
    label: str  # class name, 'object' when unknown
    class_index: int  # index into the labeler's class names; -1 when unknown
    rgb: np.ndarray  # (3,) mean colour of the object's pixels in [0, 1]
    color: str  # colour name of rgb
    position: np.ndarray  # (3,) centroid
    covariance: np.ndarray  # (3, 3) covariance of position, m^2
    extent: np.ndarray  # (3,) axis-aligned bounding-box size
    num_points: int  # points after downsampling and outlier removal
    pixel_count: int  # pixels of the instance with valid depth
    confidence: float  # valid-depth fraction of the mask x inlier fraction, in [0, 1]
    brightness: float = 0.0  # max channel of rgb (HSV value), in [0, 1]
    lightable: bool = False  # the label is one of lit_labels: the tracker judges lit / dark
    points: np.ndarray = field(default=None, repr=False)  # (N, 3) filtered cloud


def group_pixels(segmentation, valid):
    """Pixels of each instance: (ids, rows, cols, starts) where instance ids[i] owns
    rows[starts[i]:starts[i+1]] (sorted by id; background <= 0 excluded)."""
    mask = valid & (segmentation > 0)
    rows, cols = np.nonzero(mask)
    ids = segmentation[rows, cols]
    order = np.argsort(ids, kind='stable')
    rows, cols, ids = rows[order], cols[order], ids[order]
    unique, starts = np.unique(ids, return_index=True)
    return unique, rows, cols, np.append(starts, len(ids))


def measure_objects(rgb, depth, segmentation, intrinsics, t_world_camera, labeler, config):
    """Registered frame -> list of ObjectMeasurement, sorted by instance id.

    rgb (H, W, 3) uint8, depth (H, W) float metres (NaN = none), segmentation (H, W) ints.
    """
    intrinsics.check_image(rgb.shape, 'color')
    intrinsics.check_image(depth.shape, 'depth')
    intrinsics.check_image(segmentation.shape, 'segmentation')
    with np.errstate(invalid='ignore'):
        valid = (depth >= config.min_depth_m) & (depth <= config.max_depth_m)
    mask_ids, mask_counts = np.unique(segmentation[segmentation > 0], return_counts=True)
    mask_sizes = dict(zip(mask_ids.tolist(), mask_counts.tolist()))  # id -> mask pixels
    ids, rows, cols, starts = group_pixels(segmentation, valid)
    points_camera = depth_to_points(depth, intrinsics, rows, cols)  # (N, 3) all objects
    points_world = transform_points(t_world_camera, points_camera)
    colors = rgb[rows, cols].astype(np.float32) / 255.0  # (N, 3)
    sizes = np.diff(starts)
    keep = sizes >= config.min_pixels
    if config.backend == 'numpy':
        return _measure_batched(ids, sizes, keep, points_world, colors, mask_sizes, labeler,
                                config)
    measurements = []
    for i, instance_id in enumerate(ids):
        begin, end = starts[i], starts[i + 1]
        if not keep[i]:
            continue
        points = points_world[begin:end]
        if config.voxel_size_m > 0:
            points, _ = voxel_downsample(points, config.voxel_size_m, backend=config.backend)
        kept = len(points)
        if config.outlier_neighbors > 0:
            points = points[statistical_outlier_mask(
                points, config.outlier_neighbors, config.outlier_std_ratio,
                backend=config.backend)]
        measurement = _summarise(int(instance_id), points, kept, colors[begin:end],
                                 mask_sizes[int(instance_id)], labeler, config)
        if measurement is not None:
            measurements.append(measurement)
    return measurements


def _measure_batched(ids, sizes, keep, points, colors, mask_sizes, labeler, config):
    """The numpy path: every object's voxel grid in one np.unique and every object's outlier
    statistics from one k-d tree (objects are moved 1 km apart so that no neighbour is ever
    another object's point), then a short loop for the summaries."""
    group = np.repeat(np.arange(len(ids)), sizes)  # (N,) object index of each point
    mask = keep[group]
    group, points, colors = group[mask], points[mask], colors[mask]
    if config.voxel_size_m > 0 and len(points):
        keys = np.floor(points / config.voxel_size_m).astype(np.int64)  # (N, 3) voxels
        keys -= keys.min(axis=0)
        dims = keys.max(axis=0) + 1
        flat = ((group * dims[0] + keys[:, 0]) * dims[1] + keys[:, 1]) * dims[2] + keys[:, 2]
        _, inverse, counts = np.unique(flat, return_inverse=True, return_counts=True)
        voxels = np.empty((len(counts), 3))
        for axis in range(3):
            voxels[:, axis] = np.bincount(inverse, weights=points[:, axis]) / counts
        voxel_group = np.zeros(len(counts), dtype=np.int64)
        voxel_group[inverse] = group
    else:
        voxels, voxel_group = points.astype(np.float64), group
    order = np.argsort(voxel_group, kind='stable')
    voxels, voxel_group = voxels[order], voxel_group[order]
    per_object = np.bincount(voxel_group, minlength=len(ids))  # voxels of each object
    inliers = np.ones(len(voxels), dtype=bool)
    k = config.outlier_neighbors
    if k > 0 and len(voxels) > k:
        spread = voxels + (voxel_group * 1000.0)[:, None]  # objects 1 km apart
        distances, _ = cKDTree(spread).query(spread, k=k + 1)  # (M, k+1), self first
        mean_distance = distances[:, 1:].mean(axis=1)
        n = np.maximum(per_object, 2).astype(np.float64)
        mean = np.bincount(voxel_group, mean_distance, len(ids)) / n
        square = np.bincount(voxel_group, mean_distance ** 2, len(ids))
        std = np.sqrt(np.maximum(square - n * mean ** 2, 0.0) / (n - 1))  # ddof = 1
        limit = mean + config.outlier_std_ratio * std
        inliers = (mean_distance <= limit[voxel_group]) | (per_object[voxel_group] <= k)
    bounds = np.concatenate([[0], np.cumsum(per_object)])
    colour_bounds = np.concatenate([[0], np.cumsum(np.bincount(group, minlength=len(ids)))])
    measurements = []
    for i in np.nonzero(keep)[0]:
        begin, end = bounds[i], bounds[i + 1]
        cloud = voxels[begin:end][inliers[begin:end]]
        measurement = _summarise(int(ids[i]), cloud.astype(np.float32), end - begin,
                                 colors[colour_bounds[i]:colour_bounds[i + 1]],
                                 mask_sizes[int(ids[i])], labeler, config)
        if measurement is not None:
            measurements.append(measurement)
    return measurements


def _summarise(instance_id, points, kept, colors, mask_pixels, labeler, config):
    """Filtered (N, 3) cloud of one object (``kept`` points before outlier removal) and its
    pixels' colours -> ObjectMeasurement, or None when too few points are left."""
    pixel_count = len(colors)
    if len(points) < config.min_points:
        return None
    if config.centroid_method == 'bbox':
        low, high = np.quantile(points, [config.bbox_trim_fraction,
                                         1.0 - config.bbox_trim_fraction], axis=0)
        position = (low + high) / 2.0
    else:
        position = points.mean(axis=0)
    extent = points.max(axis=0) - points.min(axis=0)
    spread = np.cov(points.T.astype(np.float64)) / len(points)  # (3, 3) standard error
    covariance = spread + np.eye(3) * config.position_noise_floor_m ** 2
    rgb = colors.mean(axis=0).clip(0.0, 1.0)
    kind = labeler.classify(instance_id)
    confidence = (pixel_count / max(mask_pixels, 1)) * (len(points) / max(kept, 1))
    return ObjectMeasurement(
        instance_id=instance_id, label=kind.label, class_index=kind.class_index, rgb=rgb,
        color=color_name(rgb), position=position.astype(np.float64),
        covariance=covariance, extent=extent.astype(np.float64), num_points=len(points),
        pixel_count=pixel_count, confidence=float(np.clip(confidence, 0.0, 1.0)),
        brightness=float(rgb.max()), lightable=kind.label in config.lit_labels,
        points=points)
