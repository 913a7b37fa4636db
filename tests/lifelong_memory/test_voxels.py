"""The occupancy map (voxels.py): depth clouds binned by open3d onto one world grid, answered
by ``occupied``; a static scene seen again and again updates rows in place; the map outlives
the process; malformed clouds are refused and leave the store unchanged."""

import math

import numpy as np
import pytest

from memory_nodes.lifelong_memory import LifelongMemory, MemoryConfig
from memory_nodes.lifelong_memory.voxels import VoxelConfig, VoxelMap

V = 0.05
TABLE_Z = 0.74
BOX = ((0.40, 0.60), (0.30, 0.50), (TABLE_Z, TABLE_Z + 0.20))   # x, y, z ranges (m)


def table_and_box(rng, n=6000, noise=0.002):
    """Depth points of a 1 m x 1 m table top with a 20 cm box on it (the visible faces)."""
    table = np.column_stack([rng.uniform(0, 1, n), rng.uniform(0, 1, n), np.full(n, TABLE_Z)])
    (x0, x1), (y0, y1), (z0, z1) = BOX
    m = n // 4
    top = np.column_stack([rng.uniform(x0, x1, m), rng.uniform(y0, y1, m), np.full(m, z1)])
    front = np.column_stack([rng.uniform(x0, x1, m), np.full(m, y0), rng.uniform(z0, z1, m)])
    side = np.column_stack([np.full(m, x0), rng.uniform(y0, y1, m), rng.uniform(z0, z1, m)])
    inside = ((table[:, 0] > x0) & (table[:, 0] < x1) & (table[:, 1] > y0) &
              (table[:, 1] < y1))
    pts = np.vstack([table[~inside], top, front, side])
    return pts + rng.normal(0, noise, pts.shape)


def cells(points, v=V):
    """Reference: the set of cell keys the points fall into (plain floor arithmetic)."""
    return {tuple(k) for k in np.unique(np.floor(points / v).astype(np.int64), axis=0)}


def test_box_on_table_is_occupied_where_the_box_is_and_nowhere_else(mem):
    rng = np.random.default_rng(1)
    pts = table_and_box(rng)
    touched = mem.ingest_cloud(pts, 10.0).result(timeout=30)
    assert mem.stats()['voxels'] == touched
    # every stored cell holds points, and nearly every cell with points is stored (keys may
    # differ from plain floor(x / v) only for points within rounding of a cell boundary)
    stored = {r['key'] for r in mem.occupied((0.5, 0.5, 0.8), 2.0)}
    assert len(stored) == touched
    ref = cells(pts)
    assert len(stored ^ ref) <= 0.01 * len(ref)
    top = mem.occupied((0.5, 0.4, TABLE_Z + 0.19), 0.04)
    assert top and all(r['hits'] == 1 and r['last_seen'] == 10.0 for r in top)
    assert top[0]['distance'] <= V * math.sqrt(3) / 2           # nearest first
    assert [r['distance'] for r in top] == sorted(r['distance'] for r in top)
    assert mem.occupied((0.5, 0.4, TABLE_Z + 0.40), 0.1) == []   # air above the box
    assert mem.occupied((0.15, 0.8, TABLE_Z + 0.12), 0.05) == []  # air above the bare table
    assert mem.occupied((0.15, 0.8, TABLE_Z), 0.05)              # the table itself
    assert mem.occupied((0.5, 0.4, TABLE_Z + 0.10), 0.03) == []  # inside the box: not seen
    assert mem.occupied((3.0, 3.0, 0.0), 0.5) == []              # far away


def test_occupied_agrees_with_brute_force_and_min_hits(mem):
    rng = np.random.default_rng(2)
    first = rng.uniform(-1.0, 1.0, (400, 3))
    mem.ingest_cloud(first, 1.0)
    mem.ingest_cloud(first[:100], 2.0).result(timeout=30)
    everything = mem.occupied((0, 0, 0), 10.0)
    assert len(everything) == mem.stats()['voxels']
    for center, radius in [((0.1, -0.2, 0.3), 0.4), ((-0.97, 0.5, 0.0), 0.25),
                           ((0.0, 0.0, 0.0), 0.0), ((0.52, 0.52, 0.52), 0.6)]:
        expect = {r['key'] for r in everything if math.dist(r['center'], center) <= radius}
        got = mem.occupied(center, radius)
        assert {r['key'] for r in got} == expect
        assert all(abs(r['distance'] - math.dist(r['center'], center)) < 1e-9 for r in got)
    twice = {r['key'] for r in mem.occupied((0, 0, 0), 10.0, min_hits=2)}
    assert twice == {r['key'] for r in everything if r['hits'] == 2}
    assert twice and all(r['last_seen'] == 2.0 for r in everything if r['key'] in twice)


def test_open3d_and_numpy_bin_identically_on_and_off_cell_boundaries():
    rng = np.random.default_rng(3)
    grid = np.stack(np.meshgrid(*[np.arange(-6, 7) * V] * 3), -1).reshape(-1, 3)
    pts = np.vstack([rng.uniform(-3, 3, (5000, 3)), grid, grid + 1e-12, grid - 1e-12,
                     [[9999.99, -9999.99, 0.0]]])
    o3d_keys = VoxelMap(VoxelConfig(backend='open3d')).keys(pts)
    np_keys = VoxelMap(VoxelConfig(backend='numpy')).keys(pts)
    assert np.array_equal(o3d_keys, np_keys)
    assert len(o3d_keys) > 5000 and [199999, -200000, 0] in o3d_keys.tolist()
    off_grid = VoxelMap(VoxelConfig()).keys(pts[:5000])
    assert {tuple(k) for k in off_grid} == cells(pts[:5000])   # about floor(x / voxel_m)


@pytest.mark.parametrize('clouds', [200, pytest.param(3600, marks=pytest.mark.slow)])
def test_a_static_scene_seen_again_and_again_does_not_grow_the_map(mem, clouds):
    """``clouds`` clouds at the node's default 1 Hz: 200 s, or an hour (slow)."""
    rng = np.random.default_rng(4)
    futures = [mem.ingest_cloud(table_and_box(rng, n=2500), 100.0 + t) for t in range(20)]
    futures[-1].result(timeout=30)
    rows = mem.stats()['voxels']
    for t in range(20, clouds):
        futures.append(mem.ingest_cloud(table_and_box(rng, n=2500), 100.0 + t))
        if len(futures) > 100:
            futures.pop(0).result(timeout=60)
    for f in futures:
        f.result(timeout=60)
    # hits and last_seen update in place; the only new rows are rare noise cells at the
    # surfaces' edges (an hour adds about 5 %), and every row lies within 6 sigma of the
    # sensor noise (2 mm) of a surface: a bound that does not grow with time
    assert rows <= mem.stats()['voxels'] <= 1.1 * rows
    surface = table_and_box(np.random.default_rng(0), n=40000, noise=0.0)
    shifts = np.stack(np.meshgrid(*[(-0.012, 0.0, 0.012)] * 3), -1).reshape(-1, 1, 3)
    reach = cells((surface + shifts).reshape(-1, 3))
    assert {r['key'] for r in mem.occupied((0.5, 0.5, 0.8), 2.0)} <= reach
    top = mem.occupied((0.52, 0.42, TABLE_Z + 0.19), 0.02)
    assert len(top) == 1 and top[0]['hits'] == clouds
    assert top[0]['last_seen'] == 100.0 + clouds - 1


def test_the_map_outlives_the_process_and_keeps_its_grid(tmp_path):
    path = str(tmp_path / 'memory.db')
    pts = table_and_box(np.random.default_rng(5))
    with LifelongMemory(path) as mem:
        mem.ingest_cloud(pts, 1.0)
        mem.ingest_cloud(pts, 2.0)
        mem.flush()
        before = mem.occupied((0.5, 0.5, 0.8), 0.3)
        n = mem.stats()['voxels']
    # reopened with another grid size in its config: the file's grid (5 cm) still rules
    other = MemoryConfig(voxels=VoxelConfig(voxel_m=0.2))
    with LifelongMemory(path, other) as mem:
        assert mem.stats()['voxels'] == n and mem.stats()['voxel_m'] == V
        assert mem.occupied((0.5, 0.5, 0.8), 0.3) == before
        assert all(r['hits'] == 2 for r in before)
        mem.ingest_cloud(pts, 3.0).result(timeout=30)
        assert mem.stats()['voxels'] == n
    with LifelongMemory(path, read_only=True) as mem:
        again = mem.occupied((0.5, 0.5, 0.8), 0.3)
        assert [r['key'] for r in again] == [r['key'] for r in before]
        assert all(r['hits'] == 3 and r['last_seen'] == 3.0 for r in again)


def test_consolidation_forgets_stray_cells_and_keeps_the_scene(mem):
    rng = np.random.default_rng(7)
    for t in range(5):
        mem.ingest_cloud(table_and_box(rng, n=2000), 10.0 + t)
    stray = np.array([[2.02, 2.02, 1.52], [-1.02, 0.52, 0.02]])   # a passer-by, noise
    mem.ingest_cloud(stray, 20.0).result(timeout=30)
    rows = mem.stats()['voxels']
    assert len(mem.occupied((2.0, 2.0, 1.5), 0.1)) == 1
    # not yet: an hour has not passed since the stray points (now = the latest cloud)
    assert mem.consolidate().result(timeout=30)['voxels'] == 0
    mem.ingest_cloud(table_and_box(rng, n=2000), 3700.0).result(timeout=30)
    cells_now = mem.occupied((0, 0, 0), 5.0)
    rare = {r['key'] for r in cells_now if r['hits'] <= 2 and r['last_seen'] < 100.0}
    assert 2 <= len(rare) <= 0.2 * rows      # the stray two, and noise at the edges
    assert mem.consolidate().result(timeout=30)['voxels'] == len(rare)
    assert {r['key'] for r in mem.occupied((0, 0, 0), 5.0)} == \
        {r['key'] for r in cells_now} - rare
    assert mem.occupied((2.0, 2.0, 1.5), 0.1) == [] and mem.occupied((-1, 0.5, 0), 0.1) == []
    assert mem.occupied((0.52, 0.42, TABLE_Z + 0.19), 0.02)[0]['hits'] == 6


@pytest.mark.parametrize('points, message', [
    ('nan', r'points\[7\]=\[0.1, nan, 0.2\]: must be finite'),
    ('inf', r'points\[7\]=\[0.1, inf, 0.2\]: must be finite'),
    (np.zeros((10, 2)), r'points shape=\(10, 2\): expected \(N, 3\)'),
    (np.zeros(30), r'points shape=\(30,\): expected \(N, 3\)'),
    (np.zeros((2, 5, 3)), r'points shape=\(2, 5, 3\)'),
    ([['a', 'b', 'c']], r'points=list: expected an \(N, 3\) array'),
    (np.zeros((101, 3)), r'points has 101 rows; the limit is 100'),
    ([[0.0, 0.0, 2.0e4]], r'points\[0\]=\[0.0, 0.0, 20000.0\]: beyond 10000.0 m'),
])
def test_malformed_clouds_are_refused_and_the_store_is_unchanged(points, message):
    with LifelongMemory(config=MemoryConfig(voxels=VoxelConfig(max_points=100))) as mem:
        good = np.random.default_rng(6).uniform(0, 1, (50, 3))
        mem.ingest_cloud(good, 1.0).result(timeout=30)
        before = mem.occupied((0.5, 0.5, 0.5), 2.0)
        if isinstance(points, str):
            points = np.full((20, 3), 0.1)
            points[:, 2] = 0.2
            points[7, 1] = np.nan if message.find('nan') > 0 else np.inf
        with pytest.raises(ValueError, match=message):
            mem.ingest_cloud(points, 2.0)
        mem.flush()
        assert mem.occupied((0.5, 0.5, 0.5), 2.0) == before
        assert mem.stats()['inputs_rejected'] == 1


def test_bad_stamps_queries_and_configs_name_the_value(mem):
    with pytest.raises(ValueError, match=r'stamp=nan: must be finite'):
        mem.ingest_cloud(np.zeros((3, 3)), math.nan)
    assert mem.stats()['voxels'] == 0
    assert mem.ingest_cloud(np.zeros((0, 3)), 1.0).result(timeout=30) == 0   # empty: fine
    with pytest.raises(ValueError, match=r'radius=-1.0: must be within'):
        mem.occupied((0, 0, 0), -1.0)
    with pytest.raises(ValueError, match=r'center\[1\]=nan'):
        mem.occupied((0, math.nan, 0), 1.0)
    with pytest.raises(ValueError, match=r'min_hits=0: expected an integer >= 1'):
        mem.occupied((0, 0, 0), 1.0, min_hits=0)
    with pytest.raises(ValueError, match=r'voxel_m=0.0: expected metres'):
        VoxelConfig(voxel_m=0.0)
    with pytest.raises(ValueError, match=r"backend='pcl': expected one of"):
        VoxelConfig(backend='pcl')
    with pytest.raises(ValueError, match=r'max_points=0: expected an integer >= 1'):
        VoxelConfig(max_points=0)
    with pytest.raises(ValueError, match=r'forget_max_hits=-1: expected an integer >= 0'):
        VoxelConfig(forget_max_hits=-1)
    with pytest.raises(ValueError, match=r'forget_after_s=nan: expected seconds >= 0'):
        VoxelConfig(forget_after_s=math.nan)
