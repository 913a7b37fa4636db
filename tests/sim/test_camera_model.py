"""The published camera model (sim.camera_model) matches what MuJoCo renders, pixel for pixel.

Three independent checks of K / P and the optical pose, each sensitive to half a pixel:
- the ray through every pixel centre (ROS convention: centres at integer coordinates) hits,
  by MuJoCo's own ray casting, the geom the segmentation renderer shows at that pixel;
- the rendered depth turned into points by the preprocessor's conversion
  (memory_nodes.perception.camera, fed from P as the node does) puts the table top at z = 0
  and the ball's surface at the ball's radius from its true centre;
- true object centres projected through K and the pose land inside their objects' masks in
  the published instance-id image.
"""

import mujoco
import numpy as np
import pytest

import sim
from sim import instance_ids
from sim.camera_model import camera_matrices, optical_pose, optical_rotation, pixel_rays, project

perception = pytest.importorskip('memory_nodes.perception.camera')

SIZES = [(64, 48), (33, 25), (128, 96)]


def _geom_segmentation(env, camera, width, height):
    """(H, W) geom id per pixel (-1 where no geom) from MuJoCo's segmentation renderer."""
    renderer = mujoco.Renderer(env.model, height, width)
    try:
        renderer.enable_segmentation_rendering()
        renderer.update_scene(env.data, camera)
        seg = renderer.render()
    finally:
        renderer.close()
    ids = np.where(seg[..., 1] == int(mujoco.mjtObj.mjOBJ_GEOM), seg[..., 0], -1)
    return ids.astype(np.int32)


def _ray_geoms(env, camera, k, width, height):
    """(H, W) geom id hit first by the ray through each pixel centre (-1: nothing)."""
    cam = env.model.cam(camera).id
    rays = pixel_rays(k, width, height).reshape(-1, 3) @ optical_rotation(env.data, cam).T
    rays /= np.linalg.norm(rays, axis=1, keepdims=True)
    geom = np.zeros(len(rays), np.int32)
    dist = np.zeros(len(rays))
    visible_groups = np.array([1, 1, 1, 0, 0, 0], np.uint8)  # the renderer's default groups
    mujoco.mj_multiRay(env.model, env.data, env.data.cam_xpos[cam].copy(),
                       rays.reshape(-1).copy(), visible_groups, 1, -1, geom, dist, None,
                       len(rays), 50.0)
    return geom.reshape(height, width)


def _edge_pixels(ids):
    """(H, W) bool: pixels with a 4-neighbour of another id."""
    edge = np.zeros(ids.shape, bool)
    for axis in (0, 1):
        step = np.diff(ids, axis=axis) != 0
        low = [slice(None)] * 2
        high = [slice(None)] * 2
        low[axis], high[axis] = slice(None, -1), slice(1, None)
        edge[tuple(low)] |= step
        edge[tuple(high)] |= step
    return edge


def _geoms_of(env, name):
    return [g for g in range(env.model.ngeom) if env.model.geom(g).name.startswith(name + '/')]


def _first_geom_towards(env, camera, point):
    """Geom hit first on the straight line from a camera to a world point."""
    start = env.data.cam_xpos[env.model.cam(camera).id].copy()
    geom = np.zeros(1, np.int32)
    mujoco.mj_ray(env.model, env.data, start, np.asarray(point, float) - start,
                  np.array([1, 1, 1, 0, 0, 0], np.uint8), 1, -1, geom)
    return int(geom[0])


def _env(task, seed, steps=0, **knobs):
    env = sim.make_env(task, seed, render=False, **knobs)
    env.reset()
    for _ in range(steps):
        env.step(np.array([0.35, 0.1, 0.3, 0.0, 0.0]))
    return env


@pytest.mark.parametrize('task,steps', [('shell_game', 0), ('where_did_i_leave_it', 60),
                                        ('button_sequence', 50)])
def test_pixel_centre_rays_hit_the_rendered_geom(task, steps):
    env = _env(task, 1, steps)
    for camera in ('scene', 'wrist'):
        for width, height in SIZES:
            k, _ = camera_matrices(env.model, camera, width, height)
            rendered = _geom_segmentation(env, camera, width, height)
            hit = _ray_geoms(env, camera, k, width, height)
            wrong = int(np.sum(hit != rendered))
            edges = int(np.sum(_edge_pixels(rendered)))
            # A ray through an edge may go either way: at most a few % of the edge pixels
            # (measured 0-4 %). Half a pixel off (cx = W/2) mislabels every edge on one
            # side: 16-31 % of the edge pixels here.
            assert wrong <= 0.08 * edges, f'{task} {camera} {width}x{height}: {wrong} rays ' \
                f'hit another geom than the renderer shows ({edges} edge pixels)'
    env.close()


def _world_points(env, camera, width, height):
    """Depth -> world points through the preprocessor's conversion, fed as its node is."""
    _, p = camera_matrices(env.model, camera, width, height)
    # PreprocessorNode.on_camera_info: a rectified P wins over K.
    k = [p[0, 0], 0.0, p[0, 2], 0.0, p[1, 1], p[1, 2], 0.0, 0.0, 1.0]
    intrinsics = perception.CameraIntrinsics.from_k(k, width, height)
    depth = env.render(camera, width, height, 'depth')
    rows, cols = np.nonzero(np.isfinite(depth))
    pos, quat = optical_pose(env.model, env.data, camera)
    pose = perception.pose_matrix(pos, quat)
    points = perception.transform_points(
        pose, perception.depth_to_points(depth, intrinsics, rows, cols).astype(np.float64))
    return points.reshape(height, width, 3)


def test_depth_back_projection_agrees_with_the_scene_geometry():
    env = _env('shell_game', 3)
    table = env.model.geom('table').id
    ball_points = 0
    for width, height in SIZES + [(320, 240)]:
        points = _world_points(env, 'scene', width, height)
        geoms = _geom_segmentation(env, 'scene', width, height)
        top = points[geoms == table]
        assert len(top) > 100
        # The table top is z = 0; half a pixel off would tilt it by millimetres.
        assert np.abs(top[:, 2]).max() < 2e-4, f'{width}x{height}: table top at ' \
            f'{np.abs(top[:, 2]).max() * 1000:.2f} mm'
        slots = env.render('scene', width, height, 'segmentation')
        ball = points[slots == env.slot_names.index('ball')]
        centre = env.obj_pos('ball') + [0.0, 0.0, 0.02]
        radius = np.linalg.norm(ball - centre, axis=1)
        assert np.abs(radius - 0.02).max(initial=0.0) < 1e-3, radius
        ball_points += len(ball)
    assert ball_points >= 50  # the ball shows under its raised cup


@pytest.mark.parametrize('task,steps', [('shell_game', 0), ('remember_color', 0),
                                        ('remember_color', 60), ('put_back', 0)])
def test_true_object_centres_project_into_their_masks(task, steps):
    env = _env(task, 2, steps)
    ids = instance_ids.slot_ids(env)
    checked = 0
    for camera in ('scene', 'wrist'):
        for width, height in SIZES:
            k, _ = camera_matrices(env.model, camera, width, height)
            pos, quat = optical_pose(env.model, env.data, camera)
            image = instance_ids.encode(env.render(camera, width, height, 'segmentation'), ids)
            for slot, name in enumerate(env.slot_names):
                if name == 'goal' or env.is_parked(name):
                    continue
                geoms = _geoms_of(env, name)
                centre = env.data.geom_xpos[geoms[0]]
                (u, v), = project(k, pos, quat, centre[None])[0]
                col, row = int(round(u)), int(round(v))
                if not (0 <= col < width and 0 <= row < height):
                    continue
                if _first_geom_towards(env, camera, centre) not in geoms:
                    continue  # something else is in front of the centre
                # The pixel containing the projected centre shows the object.
                assert image[row, col] == ids[slot], (
                    f'{name} centre projects to ({u:.2f}, {v:.2f}) in {camera} {width}x'
                    f'{height}, pixel shows id {image[row, col]}, want {ids[slot]}')
                checked += 1
    assert checked >= 6
