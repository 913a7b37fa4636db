"""Coarse occupancy map: which voxels of the world depth points have fallen into, how often,
and when last. Fed by the preprocessor's (already voxel-downsampled, open3d) scene cloud; the
memory only keys points to a fixed global grid (numpy) and adds hits, so repeated clouds of
a static scene update rows rather than adding them. Free space is not carved (a limit).
"""

from __future__ import annotations

from dataclasses import dataclass
import math
import sqlite3

import numpy as np

from .validation import MAX_ABS_POSITION_M


@dataclass(frozen=True)
class VoxelConfig:
    """Grid size and the most points one cloud may carry."""

    voxel_m: float = 0.05
    max_points: int = 500000

    def __post_init__(self):
        if not (isinstance(self.voxel_m, (int, float)) and math.isfinite(self.voxel_m)
                and 0.001 <= self.voxel_m <= 10):
            raise ValueError(f'voxel_m={self.voxel_m!r}: expected metres in [0.001, 10]')
        if isinstance(self.max_points, bool) or not isinstance(self.max_points, int) or \
                self.max_points < 1:
            raise ValueError(f'max_points={self.max_points!r}: expected an integer >= 1')


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


class VoxelMap:
    """Writes and reads the ``voxels`` table."""

    def __init__(self, config: VoxelConfig = VoxelConfig()):
        self.config = config

    def keys(self, pts: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Unique voxel keys (M, 3) of the points and how many points fell in each."""
        idx = np.floor(pts / self.config.voxel_m).astype(np.int64)
        return np.unique(idx, axis=0, return_counts=True)

    def add(self, conn: sqlite3.Connection, pts: np.ndarray, stamp: float) -> int:
        """Add one validated cloud's hits; return how many voxels it touched."""
        keys, counts = self.keys(pts)
        conn.executemany(
            'INSERT INTO voxels (ix, iy, iz, hits, last_seen) VALUES (?, ?, ?, ?, ?) '
            'ON CONFLICT (ix, iy, iz) DO UPDATE SET hits = hits + excluded.hits, '
            'last_seen = max(last_seen, excluded.last_seen)',
            [(int(k[0]), int(k[1]), int(k[2]), int(c), stamp) for k, c in zip(keys, counts)])
        return len(keys)

    def occupied(self, conn: sqlite3.Connection, center, radius: float, min_hits: int = 1
                 ) -> list[dict]:
        """Occupied voxels whose centres lie within ``radius`` of ``center``, nearest first:
        [{'center': (x, y, z), 'hits': n, 'last_seen': t}]."""
        v = self.config.voxel_m
        lo = [math.floor((c - radius) / v) for c in center]
        hi = [math.floor((c + radius) / v) for c in center]
        rows = conn.execute(
            'SELECT ix, iy, iz, hits, last_seen FROM voxels WHERE ix BETWEEN ? AND ? AND '
            'iy BETWEEN ? AND ? AND iz BETWEEN ? AND ? AND hits >= ?',
            (lo[0], hi[0], lo[1], hi[1], lo[2], hi[2], min_hits)).fetchall()
        out = []
        for ix, iy, iz, hits, seen in rows:
            c = ((ix + 0.5) * v, (iy + 0.5) * v, (iz + 0.5) * v)
            d = math.dist(c, center)
            if d <= radius:
                out.append({'center': c, 'hits': hits, 'last_seen': seen, 'distance': d})
        out.sort(key=lambda r: r['distance'])
        return out
