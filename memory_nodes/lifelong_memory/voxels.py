"""Coarse occupancy map: which cells of a fixed world grid depth points have fallen into, in
how many clouds, and when last.

Fed by the preprocessor's scene cloud (world frame, already downsampled). Each cloud is
binned into ``voxel_m`` cells by open3d (``VoxelGrid.create_from_point_cloud_within_bounds``
over the whole world box, so every cloud lands on the same global grid); numpy does the
same binning where open3d is missing (``backend='numpy'``, identical keys, tested). A cell a
cloud touches gets one hit and its ``last_seen`` advances: repeated clouds of a static scene
update rows in place, so the table grows with the space seen, not with time. Sensor noise
and passers-by leave cells seen in a cloud or two: ``LifelongMemory.consolidate`` forgets
cells seen in at most ``forget_max_hits`` clouds and not for ``forget_after_s``. Free space
is not carved (a limit: a cell once occupied stays so until it is forgotten).

Keys: ``ix = floor((x - origin) / voxel_m) + k0`` with ``origin = k0 * voxel_m`` the grid
corner just beyond -MAX_ABS_POSITION_M, so ``ix`` is about ``floor(x / voxel_m)`` and a
cell's centre is ``(ix + 0.5) * voxel_m``. The grid size of a file is fixed by its first
cloud (``meta`` row 'voxel_m'); reopened with another ``VoxelConfig.voxel_m`` the file keeps
its own grid.
"""

from __future__ import annotations

from dataclasses import dataclass
import math
import sqlite3

import numpy as np

from .validation import MAX_ABS_POSITION_M

VOXEL_BACKENDS = ('open3d', 'numpy')
META_KEY = 'voxel_m'


@dataclass(frozen=True)
class VoxelConfig:
    """Grid size, the most points one cloud may carry, the binning library, and when a
    rarely seen cell is forgotten (seconds of stamp time)."""

    voxel_m: float = 0.05
    max_points: int = 500000
    backend: str = 'open3d'
    forget_max_hits: int = 2
    forget_after_s: float = 3600.0

    def __post_init__(self):
        if not (isinstance(self.voxel_m, (int, float)) and not isinstance(self.voxel_m, bool)
                and math.isfinite(self.voxel_m) and 0.001 <= self.voxel_m <= 10):
            raise ValueError(f'voxel_m={self.voxel_m!r}: expected metres in [0.001, 10]')
        if isinstance(self.max_points, bool) or not isinstance(self.max_points, int) or \
                self.max_points < 1:
            raise ValueError(f'max_points={self.max_points!r}: expected an integer >= 1')
        if isinstance(self.forget_max_hits, bool) or \
                not isinstance(self.forget_max_hits, int) or self.forget_max_hits < 0:
            raise ValueError(f'forget_max_hits={self.forget_max_hits!r}: expected an integer '
                             '>= 0 (0: never forget)')
        if not (isinstance(self.forget_after_s, (int, float)) and self.forget_after_s >= 0
                and math.isfinite(self.forget_after_s)):
            raise ValueError(f'forget_after_s={self.forget_after_s!r}: expected seconds >= 0')
        if self.backend not in VOXEL_BACKENDS:
            raise ValueError(f'backend={self.backend!r}: expected one of {VOXEL_BACKENDS}')


def check_cloud(points, max_points: int) -> np.ndarray:
    """(N, 3) finite float coordinates within the world bounds; ValueError otherwise."""
    try:
        pts = np.asarray(points, dtype=np.float64)
    except (TypeError, ValueError):
        raise ValueError(f'points={type(points).__name__}: expected an (N, 3) array') from None
    if pts.ndim != 2 or pts.shape[1] != 3:
        raise ValueError(f'points shape={pts.shape}: expected (N, 3)')
    if len(pts) > max_points:
        raise ValueError(f'points has {len(pts)} rows; the limit is {max_points}')
    bad = ~np.isfinite(pts).all(axis=1)
    if bad.any():
        i = int(np.argmax(bad))
        raise ValueError(f'points[{i}]={pts[i].tolist()}: must be finite')
    far = (np.abs(pts) > MAX_ABS_POSITION_M).any(axis=1)
    if far.any():
        i = int(np.argmax(far))
        raise ValueError(f'points[{i}]={pts[i].tolist()}: beyond {MAX_ABS_POSITION_M} m')
    return pts


def _open3d():
    try:
        import open3d
    except ImportError:  # pragma: no cover - open3d is a requirement of the project
        raise ValueError("VoxelConfig.backend='open3d' but open3d is not installed; "
                         "use backend='numpy'") from None
    return open3d


class VoxelMap:
    """Bins clouds into the global grid; writes and reads the ``voxels`` table."""

    def __init__(self, config: VoxelConfig = VoxelConfig()):
        self.config = config
        self.voxel_m = config.voxel_m
        self.now = -math.inf   # latest cloud stamp (writer thread)

    def load(self, conn: sqlite3.Connection) -> None:
        """Adopt the grid size the file's map was built with, if it has one."""
        row = conn.execute('SELECT value FROM meta WHERE key = ?', (META_KEY,)).fetchone()
        if row is not None:
            self.voxel_m = float(row[0])
        latest = conn.execute('SELECT MAX(last_seen) FROM voxels').fetchone()[0]
        self.now = -math.inf if latest is None else float(latest)

    @property
    def k0(self) -> int:
        """Key of the grid corner cell (the world box's lower corner, one cell beyond)."""
        return math.floor(-MAX_ABS_POSITION_M / self.voxel_m) - 1

    def key_of(self, coords) -> np.ndarray:
        """Cell keys of coordinates by the same arithmetic open3d bins with."""
        v, k0 = self.voxel_m, self.k0
        return np.floor((np.asarray(coords, np.float64) - k0 * v) / v).astype(np.int64) + k0

    def keys(self, pts: np.ndarray) -> np.ndarray:
        """Distinct cell keys (M, 3) int64 of a validated cloud, sorted."""
        if len(pts) == 0:
            return np.zeros((0, 3), np.int64)
        if self.config.backend == 'numpy':
            return np.unique(self.key_of(pts), axis=0)
        o3d = _open3d()
        v, k0 = self.voxel_m, self.k0
        lo = np.full(3, k0 * v)
        cloud = o3d.geometry.PointCloud(o3d.utility.Vector3dVector(np.ascontiguousarray(pts)))
        grid = o3d.geometry.VoxelGrid.create_from_point_cloud_within_bounds(cloud, v, lo, -lo)
        idx = np.array([c.grid_index for c in grid.get_voxels()], np.int64).reshape(-1, 3)
        return np.unique(idx + k0, axis=0)

    def add(self, conn: sqlite3.Connection, keys: np.ndarray, stamp: float) -> int:
        """Writer thread: one hit for each cell of a cloud; return how many cells."""
        conn.execute('INSERT OR IGNORE INTO meta (key, value) VALUES (?, ?)',
                     (META_KEY, repr(self.voxel_m)))
        conn.executemany(
            'INSERT INTO voxels (ix, iy, iz, hits, last_seen) VALUES (?, ?, ?, 1, ?) '
            'ON CONFLICT (ix, iy, iz) DO UPDATE SET hits = hits + 1, '
            'last_seen = max(last_seen, excluded.last_seen)',
            [(int(k[0]), int(k[1]), int(k[2]), stamp) for k in keys])
        self.now = max(self.now, stamp)
        return len(keys)

    def forget(self, conn: sqlite3.Connection, now: float) -> int:
        """Writer thread: delete cells seen in at most ``forget_max_hits`` clouds, the last
        more than ``forget_after_s`` before ``now``; return how many."""
        if self.config.forget_max_hits < 1:
            return 0
        return conn.execute('DELETE FROM voxels WHERE hits <= ? AND last_seen < ?',
                            (self.config.forget_max_hits,
                             now - self.config.forget_after_s)).rowcount

    def occupied(self, conn: sqlite3.Connection, center, radius: float, min_hits: int = 1
                 ) -> list[dict]:
        """Occupied cells whose centres lie within ``radius`` of ``center``, nearest first:
        [{'key': (ix, iy, iz), 'center': (x, y, z), 'hits': n, 'last_seen': t,
        'distance': d}]."""
        v = self.voxel_m
        lo = self.key_of(np.asarray(center) - radius)
        hi = self.key_of(np.asarray(center) + radius)
        rows = conn.execute(
            'SELECT ix, iy, iz, hits, last_seen FROM voxels WHERE ix BETWEEN ? AND ? AND '
            'iy BETWEEN ? AND ? AND iz BETWEEN ? AND ? AND hits >= ?',
            (int(lo[0]), int(hi[0]), int(lo[1]), int(hi[1]), int(lo[2]), int(hi[2]),
             min_hits)).fetchall()
        out = []
        for ix, iy, iz, hits, seen in rows:
            c = ((ix + 0.5) * v, (iy + 0.5) * v, (iz + 0.5) * v)
            d = math.dist(c, center)
            if d <= radius:
                out.append({'key': (ix, iy, iz), 'center': c, 'hits': hits,
                            'last_seen': seen, 'distance': d})
        out.sort(key=lambda r: r['distance'])
        return out
