"""A small ray-cast tabletop renderer: exact colour, depth and instance ids for known shapes.

Used by the tests and the benchmark where the true object centres must be known exactly and
MuJoCo is not needed: a table plane (z = 0, instance 0 = background) with axis-aligned boxes
and spheres, seen by a pinhole camera. Colours are flat with Lambertian shading by the
surface normal (so brightness varies across faces while hue stays); optional Gaussian depth
noise and salt-and-pepper depth outliers imitate a real depth sensor.
"""

from dataclasses import dataclass

import numpy as np

from memory_nodes.perception.camera import CameraIntrinsics, look_at

LIGHT = np.array([0.3, 0.2, 1.0]) / np.linalg.norm([0.3, 0.2, 1.0])  # direction to the light
TABLE_RGB = (0.55, 0.45, 0.35)  # wooden table


@dataclass
class Shape:
    """One object of the synthetic scene."""

    instance_id: int  # value written into the segmentation image (> 0)
    kind: str  # 'box' or 'sphere'
    center: tuple  # (x, y, z) world metres
    size: tuple  # box: full side lengths (x, y, z); sphere: (radius,)
    rgb: tuple  # base colour in [0, 1]


def default_camera(width=320, height=240):
    """A scene camera 0.8 m in front of and 0.6 m above the table centre, 60 deg fovy."""
    intrinsics = CameraIntrinsics.from_fovy(60.0, width, height)
    return intrinsics, look_at(eye=(-0.25, 0.0, 0.65), target=(0.45, 0.0, 0.0))


def _ray_box(origins, dirs, center, size):
    low = np.asarray(center) - np.asarray(size) / 2.0
    high = np.asarray(center) + np.asarray(size) / 2.0
    with np.errstate(divide='ignore', invalid='ignore'):
        t1 = (low - origins) / dirs
        t2 = (high - origins) / dirs
    t_near = np.nanmax(np.minimum(t1, t2), axis=1)
    t_far = np.nanmin(np.maximum(t1, t2), axis=1)
    hit = (t_near <= t_far) & (t_far > 0)
    t = np.where(hit, t_near, np.inf)
    points = origins + dirs * t[:, None]
    normals = np.zeros_like(points)
    rel = (points - np.asarray(center)) / (np.asarray(size) / 2.0)  # in [-1, 1] on the box
    axis = np.argmax(np.abs(np.nan_to_num(rel, posinf=0, neginf=0)), axis=1)
    normals[np.arange(len(points)), axis] = np.sign(rel[np.arange(len(points)), axis])
    return t, normals


def _ray_sphere(origins, dirs, center, radius):
    oc = origins - np.asarray(center)
    b = np.einsum('ij,ij->i', oc, dirs)
    c = np.einsum('ij,ij->i', oc, oc) - radius ** 2
    a = np.einsum('ij,ij->i', dirs, dirs)
    disc = b * b - a * c
    with np.errstate(invalid='ignore'):
        t = (-b - np.sqrt(disc)) / a
    t = np.where((disc >= 0) & (t > 0), t, np.inf)
    points = origins + dirs * np.where(np.isfinite(t), t, 0)[:, None]
    normals = (points - np.asarray(center)) / radius
    return t, normals


def render(shapes, intrinsics, t_world_camera, depth_noise_m=0.0, outlier_fraction=0.0,
           seed=0):
    """-> rgb (H, W, 3) uint8, depth (H, W) float32 metres along the optical axis,
    segmentation (H, W) int32 instance ids (0 = table / nothing)."""
    h, w = intrinsics.height, intrinsics.width
    v, u = np.mgrid[0:h, 0:w].astype(np.float64)
    rays_camera = np.stack([(u - intrinsics.cx) / intrinsics.fx,
                            (v - intrinsics.cy) / intrinsics.fy, np.ones_like(u)], -1)
    rays_camera = rays_camera.reshape(-1, 3)  # (H*W, 3), z = 1 so t is the axis depth
    rotation = t_world_camera[:3, :3]
    dirs = rays_camera @ rotation.T
    origins = np.broadcast_to(t_world_camera[:3, 3], dirs.shape)
    with np.errstate(divide='ignore', invalid='ignore'):
        t_best = np.where(dirs[:, 2] < 0, -origins[:, 2] / dirs[:, 2], np.inf)  # table z = 0
    normals = np.tile([0.0, 0.0, 1.0], (len(dirs), 1))
    ids = np.zeros(len(dirs), dtype=np.int32)
    base = np.tile(TABLE_RGB, (len(dirs), 1))
    for shape in shapes:
        if shape.kind == 'box':
            t, n = _ray_box(origins, dirs, shape.center, shape.size)
        elif shape.kind == 'sphere':
            t, n = _ray_sphere(origins, dirs, shape.center, shape.size[0])
        else:
            raise ValueError(f'shape kind is {shape.kind!r}; expected box or sphere')
        nearer = t < t_best
        t_best = np.where(nearer, t, t_best)
        normals[nearer] = n[nearer]
        ids[nearer] = shape.instance_id
        base[nearer] = shape.rgb
    shading = 0.35 + 0.65 * np.clip(normals @ LIGHT, 0.0, 1.0)
    rgb = np.clip(base * shading[:, None], 0, 1)
    rng = np.random.default_rng(seed)
    depth = t_best.astype(np.float32)
    if depth_noise_m > 0:
        depth = depth + rng.normal(0.0, depth_noise_m, depth.shape).astype(np.float32)
    if outlier_fraction > 0:
        flip = rng.random(depth.shape) < outlier_fraction
        depth[flip] *= rng.uniform(0.5, 1.5, int(flip.sum())).astype(np.float32)
    depth[~np.isfinite(t_best)] = np.nan
    return ((rgb * 255).round().astype(np.uint8).reshape(h, w, 3), depth.reshape(h, w),
            ids.reshape(h, w))


def tabletop_shapes():
    """Four objects on the table: red and blue cubes, a green sphere, a yellow box."""
    return [
        Shape(1, 'box', (0.40, -0.12, 0.025), (0.05, 0.05, 0.05), (0.85, 0.1, 0.1)),
        Shape(2, 'box', (0.55, 0.10, 0.025), (0.05, 0.05, 0.05), (0.1, 0.2, 0.85)),
        Shape(3, 'sphere', (0.35, 0.12, 0.03), (0.03,), (0.1, 0.75, 0.2)),
        Shape(4, 'box', (0.60, -0.10, 0.04), (0.04, 0.08, 0.08), (0.9, 0.8, 0.1)),
    ]
