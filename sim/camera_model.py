"""Pinhole model of the MuJoCo cameras in ROS conventions (CameraInfo K / P, optical pose).

What it is for: the sim bridge and the bag recorder publish these, and the preprocessor turns
depth back into 3-D points with them, so a pixel must mean the same ray on both sides.

Conventions (REP 103/104, sensor_msgs/CameraInfo): pixel (u, v) is column u, row v, and the
centre of pixel (i, j) is at integer coordinates (i, j). MuJoCo (OpenGL) renders pixel
centres at (i + 0.5, j + 0.5) of a window spanning [0, W] x [0, H] whose centre lies on the
optical axis, i.e. at window coordinate (W/2, H/2) = pixel coordinate ((W-1)/2, (H-1)/2).
So cx = (W - 1) / 2, cy = (H - 1) / 2 and f = H / 2 / tan(fovy / 2) for both axes (MuJoCo
cameras have square pixels and a vertical field of view). `tests/sim/test_camera_model.py`
checks this against MuJoCo's own ray casting and depth rendering.

MuJoCo cameras look along their -z axis with y up; the optical frame looks along +z with y
down (x right in both): the two differ by a half turn about x.
"""

from __future__ import annotations

import mujoco
import numpy as np

GL_TO_OPTICAL = np.diag([1.0, -1.0, -1.0])


def camera_matrices(model, camera: str, width: int, height: int):
    """(K 3x3, P 3x4) of a MuJoCo camera rendered at width x height pixels."""
    if width < 1 or height < 1:
        raise ValueError(f'image size must be positive, got width={width}, height={height}')
    fovy = float(model.cam(camera).fovy[0])
    f = 0.5 * height / np.tan(np.deg2rad(fovy) / 2)
    k = np.array([[f, 0.0, (width - 1) / 2.0],
                  [0.0, f, (height - 1) / 2.0],
                  [0.0, 0.0, 1.0]], dtype=np.float64)
    p = np.hstack([k, np.zeros((3, 1))])  # monocular: no baseline
    return k, p


def optical_rotation(data, camera_id: int) -> np.ndarray:
    """3x3 rotation of a camera's optical frame in the world frame (columns x, y, z)."""
    return data.cam_xmat[camera_id].reshape(3, 3) @ GL_TO_OPTICAL


def optical_pose(model, data, camera: str):
    """(position (3,), quaternion x y z w (4,)) of a camera's optical frame in the world."""
    cam = model.cam(camera).id
    quat = np.zeros(4)  # w x y z
    mujoco.mju_mat2Quat(quat, optical_rotation(data, cam).reshape(-1))
    return data.cam_xpos[cam].copy(), np.array([quat[1], quat[2], quat[3], quat[0]])


def pixel_rays(k, width: int, height: int) -> np.ndarray:
    """(H, W, 3) optical-frame directions (u - cx) / fx, (v - cy) / fy, 1 of every pixel."""
    u, v = np.meshgrid(np.arange(width, dtype=np.float64), np.arange(height, dtype=np.float64))
    return np.stack([(u - k[0, 2]) / k[0, 0], (v - k[1, 2]) / k[1, 1], np.ones_like(u)], axis=-1)


def project(k, position, quaternion_xyzw, points_world):
    """(N, 3) world points -> (N, 2) pixel coordinates (u, v) and (N,) depth along the axis."""
    x, y, z, w = quaternion_xyzw
    rot = np.zeros(9)
    mujoco.mju_quat2Mat(rot, np.array([w, x, y, z], dtype=np.float64))
    cam = (np.asarray(points_world, dtype=np.float64) - position) @ rot.reshape(3, 3)
    uv = cam[:, :2] / cam[:, 2:3] * [k[0, 0], k[1, 1]] + [k[0, 2], k[1, 2]]
    return uv, cam[:, 2]
