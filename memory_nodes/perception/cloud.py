"""Point-cloud filters (voxel downsampling, statistical outlier removal) and PointCloud2 packing.

Each filter has two implementations with the same result contract: ``backend='open3d'``
(open3d's C++ ``voxel_down_sample`` / ``remove_statistical_outlier``) and ``backend='numpy'``
(numpy + scipy's k-d tree), so the benchmark can compare them and the numpy path is a
fallback where open3d is not installed. Voxel downsampling returns the mean point (and mean
colour) of each occupied voxel.

PointCloud2 packing follows the ROS / PCL convention: float32 ``x y z`` and, with colour, a
float32 ``rgb`` field whose 4 bytes hold 0x00RRGGBB, little-endian, dense rows
(``height = 1``, ``is_dense = True``).
"""

import numpy as np
from scipy.spatial import cKDTree

BACKENDS = ('open3d', 'numpy')
# sensor_msgs/PointField datatype constants
FLOAT32 = 7
POINT_FIELD_SIZES = {1: 1, 2: 1, 3: 2, 4: 2, 5: 4, 6: 4, 7: 4, 8: 8}

try:  # open3d is a hard requirement of the project, but keep the numpy path importable alone
    import open3d as o3d
except ImportError:  # pragma: no cover - exercised only where open3d is missing
    o3d = None


def check_backend(backend):
    if backend not in BACKENDS:
        raise ValueError(f'backend is {backend!r}; expected one of {list(BACKENDS)}')
    if backend == 'open3d' and o3d is None:
        raise ValueError("backend is 'open3d' but open3d is not installed; use 'numpy'")


def _o3d_cloud(points, colors=None):
    cloud = o3d.geometry.PointCloud(o3d.utility.Vector3dVector(points.astype(np.float64)))
    if colors is not None:
        cloud.colors = o3d.utility.Vector3dVector(colors.astype(np.float64))
    return cloud


def voxel_downsample(points, voxel_size, colors=None, backend='numpy'):
    """(N, 3) points [and (N, 3) colours in [0, 1]] -> one mean point [colour] per voxel."""
    check_backend(backend)
    if not voxel_size > 0:
        raise ValueError(f'voxel_size is {voxel_size!r}; expected > 0 metres')
    if len(points) == 0:
        return points.reshape(0, 3), (None if colors is None else colors.reshape(0, 3))
    if backend == 'open3d':
        down = _o3d_cloud(points, colors).voxel_down_sample(float(voxel_size))
        out = np.asarray(down.points, dtype=np.float32)
        return out, (None if colors is None else np.asarray(down.colors, dtype=np.float32))
    keys = np.floor(points / voxel_size).astype(np.int64)  # (N, 3) voxel coordinates
    keys -= keys.min(axis=0)
    dims = keys.max(axis=0) + 1
    flat = (keys[:, 0] * dims[1] + keys[:, 1]) * dims[2] + keys[:, 2]  # (N,) voxel index
    _, inverse, counts = np.unique(flat, return_inverse=True, return_counts=True)
    out = np.empty((len(counts), 3), dtype=np.float64)
    for axis in range(3):
        out[:, axis] = np.bincount(inverse, weights=points[:, axis], minlength=len(counts))
    out /= counts[:, None]
    if colors is None:
        return out.astype(np.float32), None
    mean_colors = np.empty_like(out)
    for axis in range(3):
        mean_colors[:, axis] = np.bincount(inverse, weights=colors[:, axis],
                                           minlength=len(counts))
    mean_colors /= counts[:, None]
    return out.astype(np.float32), mean_colors.astype(np.float32)


def statistical_outlier_mask(points, neighbors=16, std_ratio=2.0, backend='numpy'):
    """(N,) bool, True for inliers: points whose mean distance to their ``neighbors``
    nearest neighbours is within ``std_ratio`` standard deviations of the cloud's average
    (the PCL / open3d definition)."""
    check_backend(backend)
    if neighbors < 1:
        raise ValueError(f'neighbors is {neighbors!r}; expected >= 1')
    if not std_ratio > 0:
        raise ValueError(f'std_ratio is {std_ratio!r}; expected > 0')
    n = len(points)
    if n <= neighbors:
        return np.ones(n, dtype=bool)  # too few points to call any of them an outlier
    if backend == 'open3d':
        _, kept = _o3d_cloud(points).remove_statistical_outlier(int(neighbors), float(std_ratio))
        mask = np.zeros(n, dtype=bool)
        mask[np.asarray(kept, dtype=np.int64)] = True
        return mask
    distances, _ = cKDTree(points).query(points, k=neighbors + 1)  # (N, k+1), self first
    mean_distance = distances[:, 1:].mean(axis=1)
    limit = mean_distance.mean() + std_ratio * mean_distance.std(ddof=1)
    return mean_distance <= limit


def pack_rgb(colors):
    """(N, 3) colours in [0, 1] -> (N,) float32 whose bytes are 0x00RRGGBB (PCL's rgb)."""
    c = np.clip(np.round(np.asarray(colors, dtype=np.float64) * 255.0), 0, 255).astype(np.uint32)
    return ((c[:, 0] << 16) | (c[:, 1] << 8) | c[:, 2]).view(np.float32)


def unpack_rgb(packed):
    """Inverse of ``pack_rgb``: (N,) float32 -> (N, 3) colours in [0, 1]."""
    bits = np.asarray(packed, dtype=np.float32).view(np.uint32)
    channels = np.stack([(bits >> 16) & 255, (bits >> 8) & 255, bits & 255], axis=1)
    return channels.astype(np.float32) / 255.0


def pack_cloud(points, colors=None):
    """(N, 3) points [+ colours] -> (fields, point_step, data bytes) of a PointCloud2.

    ``fields`` is a list of (name, offset, datatype, count) tuples for sensor_msgs/PointField.
    """
    points = np.asarray(points, dtype=np.float32).reshape(-1, 3)
    columns = [points]
    names = ['x', 'y', 'z']
    if colors is not None:
        colors = np.asarray(colors).reshape(-1, 3)
        if len(colors) != len(points):
            raise ValueError(f'colors has {len(colors)} rows; points has {len(points)}')
        columns.append(pack_rgb(colors)[:, None])
        names.append('rgb')
    table = np.ascontiguousarray(np.hstack(columns).astype('<f4'))  # (N, 3 or 4)
    fields = [(name, 4 * i, FLOAT32, 1) for i, name in enumerate(names)]
    return fields, 4 * len(names), table.tobytes()


def unpack_cloud(fields, point_step, data, width, height=1, is_bigendian=False):
    """Fields of a PointCloud2 -> (N, 3) float32 points and (N, 3) colours or None.

    ``fields`` holds objects with name / offset / datatype / count (PointField) or tuples.
    Only float32 x, y, z (and optionally rgb) are read; other fields are skipped.
    """
    by_name = {}
    for field in fields:
        name, offset, datatype, _ = (field if isinstance(field, tuple) else
                                     (field.name, field.offset, field.datatype, field.count))
        by_name[name] = (int(offset), int(datatype))
    for name in ('x', 'y', 'z'):
        if name not in by_name:
            raise ValueError(f'point cloud fields {sorted(by_name)} lack {name!r}')
        if by_name[name][1] != FLOAT32:
            raise ValueError(f'point cloud field {name!r} has datatype {by_name[name][1]}; '
                             f'expected {FLOAT32} (float32)')
    for name in ('x', 'y', 'z', 'rgb'):
        if name in by_name and by_name[name][0] + 4 > int(point_step):
            raise ValueError(f'point cloud field {name!r} at offset {by_name[name][0]} does '
                             f'not fit in point_step {point_step}')
    n = int(width) * int(height)
    if len(data) != n * int(point_step):
        raise ValueError(f'point cloud data has {len(data)} bytes; expected '
                         f'{n} points x {point_step} bytes')
    raw = np.frombuffer(data, dtype=np.uint8).reshape(n, int(point_step))
    dtype = np.dtype('>f4' if is_bigendian else '<f4')

    def column(name):
        offset = by_name[name][0]
        return raw[:, offset:offset + 4].copy().view(dtype)[:, 0].astype(np.float32)

    points = np.stack([column('x'), column('y'), column('z')], axis=1)
    colors = unpack_rgb(column('rgb')) if 'rgb' in by_name else None
    return points, colors
