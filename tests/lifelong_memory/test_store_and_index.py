"""Store (WAL, migrations, group commit, acknowledgement after commit) and vector index
(exact below a size, HNSW above; recall against exact search; save and reload)."""

import sqlite3

import numpy as np
import pytest

from memory_nodes.lifelong_memory import (
    IndexConfig,
    LifelongMemory,
    MemoryConfig,
    MemoryEvent,
    StoreConfig,
)
from memory_nodes.lifelong_memory.schema import SCHEMA_VERSION
from memory_nodes.lifelong_memory.store import GroupCommitWriter, SQLiteStore
from memory_nodes.lifelong_memory.vector_index import BACKENDS, ExactIndex, VectorIndex


def test_file_store_is_wal_versioned_and_survives_reopen(tmp_path):
    path = str(tmp_path / 'm.db')
    with LifelongMemory(path) as mem:
        for i in range(50):
            mem.log_event(MemoryEvent(float(i), 'moved', f'cube {i}'))
    conn = sqlite3.connect(path)
    assert conn.execute('PRAGMA journal_mode').fetchone()[0] == 'wal'
    assert conn.execute('PRAGMA user_version').fetchone()[0] == SCHEMA_VERSION
    assert conn.execute('PRAGMA integrity_check').fetchone()[0] == 'ok'
    conn.close()
    with LifelongMemory(path) as mem:
        assert mem.stats()['temporal_events'] == 50


def test_futures_resolve_only_after_commit(tmp_path):
    path = str(tmp_path / 's.db')
    store = SQLiteStore(path, StoreConfig(synchronous='NORMAL'))
    writer = GroupCommitWriter(store)
    futures = [writer.submit(lambda c, i=i: c.execute(
        'INSERT INTO meta VALUES (?, ?)', (f'k{i}', 'v')).lastrowid) for i in range(500)]
    other = sqlite3.connect(path)     # a separate connection sees only committed rows
    for i, f in enumerate(futures):
        f.result(timeout=10)
        assert other.execute('SELECT 1 FROM meta WHERE key = ?', (f'k{i}',)).fetchone()
    assert writer.commits < 500       # grouped into fewer transactions
    assert writer.max_pending_s < 1.0
    bad = writer.submit(lambda c: c.execute('INSERT INTO nowhere VALUES (1)'))
    good = writer.submit(lambda c: c.execute("INSERT INTO meta VALUES ('after', 'x')"))
    with pytest.raises(sqlite3.OperationalError):
        bad.result(timeout=10)
    good.result(timeout=10)          # one failing write does not sink its batch mates
    writer.close()
    store.close()
    other.close()


def test_newer_schema_is_refused(tmp_path):
    path = str(tmp_path / 'new.db')
    conn = sqlite3.connect(path)
    conn.execute(f'PRAGMA user_version = {SCHEMA_VERSION + 1}')
    conn.close()
    with pytest.raises(ValueError, match='newer than this library'):
        SQLiteStore(path)


def clustered(n, dim, seed):
    rng = np.random.default_rng(seed)
    centers = rng.standard_normal((max(n // 20, 1), dim)).astype(np.float32)
    v = centers[rng.integers(0, len(centers), n)] + \
        0.7 * rng.standard_normal((n, dim)).astype(np.float32) / np.sqrt(dim) * 4
    return (v / np.linalg.norm(v, axis=1, keepdims=True)).astype(np.float32)


@pytest.mark.parametrize('backend', BACKENDS)
def test_ann_recall_against_exact_and_reload(tmp_path, backend):
    dim, n = 64, 3000
    data = clustered(n + 50, dim, 0)
    x, q = data[:n], data[n:]
    ids = np.arange(10, 10 + n)
    exact = ExactIndex(dim)
    exact.add(ids, x)
    index = VectorIndex(dim, IndexConfig(backend=backend, exact_below=1000, ef_search=64))
    index.add(ids[:500], x[:500])
    assert index.kind == 'exact'
    index.add(ids[500:], x[500:])
    assert index.kind == backend and len(index) == n
    truth, _ = exact.search(q, 10)
    found, scores = index.search(q, 10)
    recall = np.mean([len(set(a) & set(b)) / 10 for a, b in zip(found, truth)])
    assert recall >= 0.95
    assert np.all(np.diff(scores, axis=1) <= 1e-5)         # best first
    path = str(tmp_path / f'g.{backend}')
    assert index.save(path)
    again = VectorIndex(dim, IndexConfig(backend=backend, exact_below=1000, ef_search=64))
    again.load(path, int(ids.max()))
    assert len(again) == n
    assert np.array_equal(again.search(q, 10)[0], found)


def test_index_is_rebuilt_or_reloaded_on_start(tmp_path):
    path = str(tmp_path / 'v.db')
    cfg = MemoryConfig(index=IndexConfig(exact_below=50))
    vecs = clustered(120, 384, 1)
    with LifelongMemory(path, cfg) as mem:
        # vectors beside their rows, as the embedder writes them
        def op(conn):
            conn.executemany('INSERT INTO texts (id, text, vec) VALUES (?, ?, ?)',
                             [(i + 1, f't{i}', v.tobytes()) for i, v in enumerate(vecs)])
        mem.writer.submit(op).result()
        assert mem.index_source == 'rebuilt' and len(mem.index) == 0
    with LifelongMemory(path, cfg) as mem:
        assert mem.index_source == 'rebuilt' and len(mem.index) == 120
        assert mem.index.kind == 'hnswlib'
    with LifelongMemory(path, cfg) as mem:         # the graph saved by close() is reused
        assert mem.index_source == 'reloaded' and len(mem.index) == 120
        ids, _ = mem.index.search(vecs[7], 1)
        assert ids[0][0] == 8
