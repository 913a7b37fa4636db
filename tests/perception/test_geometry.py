"""Camera geometry and point-cloud filters against known answers."""

import numpy as np
import pytest

from memory_nodes.perception.camera import (
    CameraIntrinsics,
    depth_to_points,
    look_at,
    matrix_to_quaternion,
    optical_pose_from_mujoco,
    pose_from_parameter,
    project_points,
    transform_points,
)
from memory_nodes.perception.cloud import (
    pack_cloud,
    statistical_outlier_mask,
    unpack_cloud,
    voxel_downsample,
)


def test_depth_to_points_with_known_intrinsics():
    intrinsics = CameraIntrinsics(fx=100.0, fy=200.0, cx=2.0, cy=1.0, width=5, height=3)
    depth = np.full((3, 5), 2.0, np.float32)
    depth[0, 0] = np.nan
    points = depth_to_points(depth, intrinsics)
    assert points.shape == (14, 3)  # the NaN pixel is left out
    # pixel (u=4, v=2): x = (4 - 2) * 2 / 100, y = (2 - 1) * 2 / 200
    assert np.allclose(points[-1], [0.04, 0.01, 2.0])
    # pixel (u=2, v=1) is the principal point: on the optical axis
    assert np.allclose(points[6], [0.0, 0.0, 2.0])


def test_projection_inverts_deprojection_through_a_pose():
    intrinsics = CameraIntrinsics.from_fovy(60.0, 64, 48)
    pose = look_at((0.0, -1.0, 1.0), (0.2, 0.3, 0.0))
    rng = np.random.default_rng(1)
    rows, cols = rng.integers(0, 48, 50), rng.integers(0, 64, 50)
    depth = rng.uniform(0.5, 2.0, (48, 64)).astype(np.float32)
    world = transform_points(pose, depth_to_points(depth, intrinsics, rows, cols))
    u, v, z = project_points(world, intrinsics, pose)
    assert np.allclose(u, cols, atol=1e-3) and np.allclose(v, rows, atol=1e-3)
    assert np.allclose(z, depth[rows, cols], atol=1e-5)


def test_pose_parameter_and_quaternion_round_trip():
    pose = look_at((-0.3, 0.1, 0.7), (0.5, 0.0, 0.0))
    q = matrix_to_quaternion(pose[:3, :3])
    again = pose_from_parameter(list(pose[:3, 3]) + list(q))
    assert np.allclose(again, pose, atol=1e-9)
    # the optical z axis points from the eye towards the target
    forward = np.array([0.8, -0.1, -0.7]) / np.linalg.norm([0.8, -0.1, -0.7])
    assert np.allclose(pose[:3, 2], forward)
    with pytest.raises(ValueError, match='camera_pose has 6 numbers'):
        pose_from_parameter([0.0] * 6)
    with pytest.raises(ValueError, match='unit quaternion'):
        pose_from_parameter([0.0] * 7)


def test_mujoco_camera_convention_flips_y_and_z():
    # a MuJoCo camera with identity orientation looks down its -z axis with y up
    pose = optical_pose_from_mujoco([0, 0, 1], np.eye(3))
    assert np.allclose(pose[:3, 2], [0, 0, -1]) and np.allclose(pose[:3, 1], [0, -1, 0])


def test_bad_camera_info_is_named():
    with pytest.raises(ValueError, match=r'camera_info.k\[0\] \(fx\) is 0.0'):
        CameraIntrinsics.from_k([0.0] * 9, 640, 480)
    k = CameraIntrinsics.from_fovy(45.0, 640, 480).k()
    k[5] = float('nan')
    with pytest.raises(ValueError, match=r'camera_info.k\[5\] \(cy\) is nan'):
        CameraIntrinsics.from_k(k, 640, 480)
    with pytest.raises(ValueError, match='camera_info.k has 4 values'):
        CameraIntrinsics.from_k([1.0] * 4, 640, 480)
    intrinsics = CameraIntrinsics.from_fovy(45.0, 8, 6)
    with pytest.raises(ValueError, match='depth is 8x5 pixels'):
        depth_to_points(np.ones((5, 8)), intrinsics)


@pytest.mark.parametrize('backend', ['numpy', 'open3d'])
def test_voxel_downsample_means_per_voxel(backend):
    points = np.array([[0.01, 0.01, 0.01], [0.03, 0.03, 0.03], [0.51, 0.5, 0.5]], np.float32)
    colors = np.array([[1, 0, 0], [0, 0, 1], [0, 1, 0]], np.float32)
    down, down_colors = voxel_downsample(points, 0.1, colors, backend=backend)
    order = np.argsort(down[:, 0])
    assert np.allclose(down[order], [[0.02, 0.02, 0.02], [0.51, 0.5, 0.5]], atol=1e-6)
    assert np.allclose(down_colors[order], [[0.5, 0, 0.5], [0, 1, 0]], atol=1e-6)


@pytest.mark.parametrize('backend', ['numpy', 'open3d'])
def test_statistical_outlier_removal_drops_far_points(backend):
    rng = np.random.default_rng(2)
    cluster = rng.normal(0.0, 0.01, (300, 3))
    strays = np.array([[0.3, 0.0, 0.0], [0.0, -0.4, 0.1], [0.2, 0.2, 0.2]])
    mask = statistical_outlier_mask(np.vstack([cluster, strays]), 12, 2.0, backend=backend)
    assert not mask[-3:].any()
    assert mask[:300].mean() > 0.95


def test_filter_backends_agree():
    rng = np.random.default_rng(3)
    points = np.vstack([rng.normal(0, 0.02, (500, 3)), rng.uniform(-1, 1, (10, 3))])
    a = statistical_outlier_mask(points, 10, 1.5, backend='numpy')
    b = statistical_outlier_mask(points, 10, 1.5, backend='open3d')
    assert (a == b).mean() > 0.99


def test_point_cloud_packing_round_trip():
    rng = np.random.default_rng(4)
    points = rng.normal(size=(20, 3)).astype(np.float32)
    colors = rng.integers(0, 256, (20, 3)) / 255.0
    fields, step, data = pack_cloud(points, colors)
    assert [f[0] for f in fields] == ['x', 'y', 'z', 'rgb'] and step == 16
    out_points, out_colors = unpack_cloud(fields, step, data, width=20)
    assert np.array_equal(out_points, points)
    assert np.allclose(out_colors, colors, atol=1e-6)
    with pytest.raises(ValueError, match='expected 21 points'):
        unpack_cloud(fields, step, data, width=21)
