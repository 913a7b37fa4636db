"""Pinhole camera geometry: intrinsics, camera poses, depth -> 3-D points and back.

Conventions (those of ROS, REP 103/105): a camera's *optical* frame has x to the right of the
image, y down, z forward along the viewing direction; pixel (u, v) is column u, row v with
pixel centres at integer coordinates. A camera pose is the optical frame's pose in the world
frame, as a 4x4 matrix ``T_world_camera`` mapping optical-frame points to world points.
Images must be rectified (no lens distortion) and depth registered to colour.
"""

from dataclasses import dataclass
import math

import numpy as np

# Where each intrinsic sits in a row-major K (sensor_msgs/CameraInfo.k), to name it in errors.
K_INDEX = {'fx': 0, 'fy': 4, 'cx': 2, 'cy': 5}


@dataclass(frozen=True)
class CameraIntrinsics:
    """Pinhole intrinsics of a rectified image of ``width`` x ``height`` pixels."""

    fx: float  # focal length in pixels along u (columns)
    fy: float  # focal length in pixels along v (rows)
    cx: float  # principal point column, pixels
    cy: float  # principal point row, pixels
    width: int  # image width in pixels
    height: int  # image height in pixels

    def __post_init__(self):
        for name, index in K_INDEX.items():
            value = getattr(self, name)
            if not math.isfinite(value):
                raise ValueError(f'camera_info.k[{index}] ({name}) is {value!r}; '
                                 'expected a finite number')
        if self.fx <= 0 or self.fy <= 0:
            raise ValueError(f'camera_info.k[0] (fx) is {self.fx}, k[4] (fy) is {self.fy}; '
                             'expected > 0 (is K all zeros, i.e. an uncalibrated camera?)')
        if self.width <= 0 or self.height <= 0:
            raise ValueError(f'camera_info size is {self.width}x{self.height}; expected > 0')

    @classmethod
    def from_k(cls, k, width, height):
        """From a row-major 3x3 K (sensor_msgs/CameraInfo.k) and the image size."""
        k = np.asarray(k, dtype=np.float64).reshape(-1)
        if k.size != 9:
            raise ValueError(f'camera_info.k has {k.size} values; expected 9')
        return cls(**{name: float(k[index]) for name, index in K_INDEX.items()},
                   width=int(width), height=int(height))

    @classmethod
    def from_fovy(cls, fovy_deg, width, height):
        """Square pixels and a centred principal point from a vertical field of view
        (how MuJoCo and OpenGL cameras are specified)."""
        if not 0 < fovy_deg < 180:
            raise ValueError(f'fovy_deg is {fovy_deg!r}; expected 0 < fovy < 180')
        f = 0.5 * height / math.tan(math.radians(fovy_deg) / 2.0)
        return cls(fx=f, fy=f, cx=(width - 1) / 2.0, cy=(height - 1) / 2.0,
                   width=int(width), height=int(height))

    def k(self):
        """Row-major 3x3 K as 9 floats (for CameraInfo.k)."""
        return [self.fx, 0.0, self.cx, 0.0, self.fy, self.cy, 0.0, 0.0, 1.0]

    def check_image(self, shape, what):
        """Raise ValueError when an image of ``shape`` does not match these intrinsics."""
        if tuple(shape[:2]) != (self.height, self.width):
            raise ValueError(f'{what} is {shape[1]}x{shape[0]} pixels but camera_info says '
                             f'{self.width}x{self.height}; depth and segmentation must be '
                             'registered to the colour image')


def quaternion_to_matrix(qx, qy, qz, qw):
    """Unit quaternion (x, y, z, w; ROS order) -> 3x3 rotation matrix."""
    q = np.array([qw, qx, qy, qz], dtype=np.float64)
    norm = float(np.linalg.norm(q))
    if not math.isfinite(norm) or abs(norm - 1.0) > 1e-3:
        raise ValueError(f'quaternion (x={qx}, y={qy}, z={qz}, w={qw}) has norm {norm}; '
                         'expected a unit quaternion')
    w, x, y, z = q / norm
    return np.array([
        [1 - 2 * (y * y + z * z), 2 * (x * y - z * w), 2 * (x * z + y * w)],
        [2 * (x * y + z * w), 1 - 2 * (x * x + z * z), 2 * (y * z - x * w)],
        [2 * (x * z - y * w), 2 * (y * z + x * w), 1 - 2 * (x * x + y * y)]])


def matrix_to_quaternion(rotation):
    """3x3 rotation matrix -> (x, y, z, w)."""
    r = np.asarray(rotation, dtype=np.float64)
    trace = r[0, 0] + r[1, 1] + r[2, 2]
    if trace > 0:
        s = 2.0 * math.sqrt(trace + 1.0)
        w, x = 0.25 * s, (r[2, 1] - r[1, 2]) / s
        y, z = (r[0, 2] - r[2, 0]) / s, (r[1, 0] - r[0, 1]) / s
    elif r[0, 0] > r[1, 1] and r[0, 0] > r[2, 2]:
        s = 2.0 * math.sqrt(1.0 + r[0, 0] - r[1, 1] - r[2, 2])
        w, x = (r[2, 1] - r[1, 2]) / s, 0.25 * s
        y, z = (r[0, 1] + r[1, 0]) / s, (r[0, 2] + r[2, 0]) / s
    elif r[1, 1] > r[2, 2]:
        s = 2.0 * math.sqrt(1.0 + r[1, 1] - r[0, 0] - r[2, 2])
        w, x = (r[0, 2] - r[2, 0]) / s, (r[0, 1] + r[1, 0]) / s
        y, z = 0.25 * s, (r[1, 2] + r[2, 1]) / s
    else:
        s = 2.0 * math.sqrt(1.0 + r[2, 2] - r[0, 0] - r[1, 1])
        w, x = (r[1, 0] - r[0, 1]) / s, (r[0, 2] + r[2, 0]) / s
        y, z = (r[1, 2] + r[2, 1]) / s, 0.25 * s
    q = np.array([x, y, z, w])
    q /= np.linalg.norm(q)
    return tuple(float(v) for v in (q if q[3] >= 0 else -q))


def pose_matrix(position, quaternion):
    """Position (x, y, z) and quaternion (x, y, z, w) -> 4x4 homogeneous transform."""
    position = [float(v) for v in position]
    quaternion = [float(v) for v in quaternion]
    if len(position) != 3 or not all(math.isfinite(v) for v in position):
        raise ValueError(f'camera position is {position!r}; expected 3 finite numbers')
    if len(quaternion) != 4:
        raise ValueError(f'camera orientation is {quaternion!r}; expected x, y, z, w')
    transform = np.eye(4)
    transform[:3, :3] = quaternion_to_matrix(*quaternion)
    transform[:3, 3] = position
    return transform


def pose_from_parameter(values):
    """A 7-number parameter [x, y, z, qx, qy, qz, qw] -> 4x4 ``T_world_camera``."""
    values = list(values)
    if len(values) != 7:
        raise ValueError(f'camera_pose has {len(values)} numbers ({values!r}); expected 7: '
                         'x y z qx qy qz qw of the optical frame in the world frame')
    return pose_matrix(values[:3], values[3:])


# MuJoCo (and OpenGL) cameras look along their -z axis with y up; the optical frame looks
# along +z with y down: the two differ by a half turn about x.
GL_TO_OPTICAL = np.diag([1.0, -1.0, -1.0])


def optical_pose_from_mujoco(cam_xpos, cam_xmat):
    """A MuJoCo camera's world pose (data.cam_xpos[i], data.cam_xmat[i]) -> 4x4 optical pose."""
    transform = np.eye(4)
    transform[:3, :3] = np.asarray(cam_xmat, dtype=np.float64).reshape(3, 3) @ GL_TO_OPTICAL
    transform[:3, 3] = np.asarray(cam_xpos, dtype=np.float64).reshape(3)
    return transform


def pixel_rays(intrinsics):
    """(H, W) grids of (u - cx) / fx and (v - cy) / fy: multiply by depth to get x and y."""
    u = (np.arange(intrinsics.width, dtype=np.float32) - intrinsics.cx) / intrinsics.fx
    v = (np.arange(intrinsics.height, dtype=np.float32) - intrinsics.cy) / intrinsics.fy
    return np.broadcast_to(u[None, :], (intrinsics.height, intrinsics.width)), \
        np.broadcast_to(v[:, None], (intrinsics.height, intrinsics.width))


def depth_to_points(depth, intrinsics, rows=None, cols=None):
    """Depth (H, W) metres -> (N, 3) optical-frame points.

    Without ``rows``/``cols`` every finite pixel is used (row-major order); with them only
    those pixels (integer index arrays of equal length), whose depth must be finite.
    """
    depth = np.asarray(depth)
    intrinsics.check_image(depth.shape, 'depth')
    if rows is None:
        rows, cols = np.nonzero(np.isfinite(depth))
    z = depth[rows, cols].astype(np.float32)
    x = (cols.astype(np.float32) - np.float32(intrinsics.cx)) * (z / np.float32(intrinsics.fx))
    y = (rows.astype(np.float32) - np.float32(intrinsics.cy)) * (z / np.float32(intrinsics.fy))
    return np.stack([x, y, z], axis=1)  # (N, 3)


def transform_points(transform, points):
    """Apply a 4x4 transform to (N, 3) points."""
    transform = np.asarray(transform)
    rotation = transform[:3, :3].astype(points.dtype)
    return points @ rotation.T + transform[:3, 3].astype(points.dtype)


def project_points(points_world, intrinsics, t_world_camera):
    """(N, 3) world points -> (N,) u, (N,) v pixel coordinates and (N,) depth along the axis."""
    t_camera_world = np.linalg.inv(t_world_camera)
    p = transform_points(t_camera_world, np.asarray(points_world, dtype=np.float64))
    z = p[:, 2]
    with np.errstate(divide='ignore', invalid='ignore'):
        u = intrinsics.fx * p[:, 0] / z + intrinsics.cx
        v = intrinsics.fy * p[:, 1] / z + intrinsics.cy
    return u, v, z


def look_at(eye, target, up=(0.0, 0.0, 1.0)):
    """4x4 optical-frame pose of a camera at ``eye`` looking at ``target`` (world up = +z)."""
    eye = np.asarray(eye, dtype=np.float64)
    forward = np.asarray(target, dtype=np.float64) - eye
    forward /= np.linalg.norm(forward)
    right = np.cross(forward, np.asarray(up, dtype=np.float64))
    if np.linalg.norm(right) < 1e-9:
        raise ValueError(f'look_at: view direction {forward} is parallel to up {up}')
    right /= np.linalg.norm(right)
    down = np.cross(forward, right)
    transform = np.eye(4)
    transform[:3, :3] = np.stack([right, down, forward], axis=1)  # columns: x, y, z axes
    transform[:3, 3] = eye
    return transform
