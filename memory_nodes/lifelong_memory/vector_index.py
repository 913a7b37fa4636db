"""Nearest-neighbour search over the memory's text embeddings (unit vectors, inner product).

Small collections are searched exactly (one numpy matrix product: exact and, below some
tens of thousands of vectors, as fast as a graph). Past ``exact_below`` vectors the index
switches to an approximate HNSW graph from a well-kept library; which one is a setting, the
default chosen by measurement (scripts/bench_memory.py, see docs/memory.md): 'hnswlib',
'faiss' (IndexHNSWFlat) or 'usearch'. Keys are the ids of rows in the ``texts`` table.

Thread use: one writer adds, any number of readers search; a lock makes a reader wait while a
batch is added (hnswlib and usearch allow concurrent search, but growth may reallocate).
"""

from __future__ import annotations

from dataclasses import dataclass
import os
import threading

import numpy as np

from memory_nodes.file_safety import private_file

BACKENDS = ('hnswlib', 'faiss', 'usearch')


@dataclass(frozen=True)
class IndexConfig:
    """Which ANN library and its graph parameters."""

    backend: str = 'hnswlib'
    exact_below: int = 20000          # below this many vectors search exactly
    # measured at 1,000,000 MiniLM-like vectors (docs/memory.md): M=32, ef_construction=200,
    # ef=256 gives recall@10 0.961 at a CPU p99 of 1.2 ms; M=16 / 100 / 64 only 0.74
    m: int = 32                       # graph degree
    ef_construction: int = 200        # build-time beam width
    ef_search: int = 256              # query-time beam width (recall vs latency)
    build_threads: int = 2            # threads used to add large batches

    def __post_init__(self):
        if self.backend not in BACKENDS:
            raise ValueError(f'backend={self.backend!r}: expected one of {BACKENDS}')
        for name in ('exact_below', 'm', 'ef_construction', 'ef_search', 'build_threads'):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ValueError(f'{name}={value!r}: expected an integer >= 1')


class _Hnswlib:
    def __init__(self, dim, cfg: IndexConfig):
        import hnswlib
        self.cfg = cfg
        self.index = hnswlib.Index(space='ip', dim=dim)
        self.capacity = 0
        self.index.init_index(max_elements=1024, ef_construction=cfg.ef_construction,
                              M=cfg.m)
        self.capacity = 1024
        self.index.set_ef(cfg.ef_search)

    def add(self, ids, vecs):
        need = self.index.get_current_count() + len(ids)
        if need > self.capacity:
            self.capacity = max(need, 2 * self.capacity)
            self.index.resize_index(self.capacity)
        self.index.add_items(vecs, ids, num_threads=self.cfg.build_threads)

    def search(self, q, k):
        k = min(k, self.index.get_current_count())
        labels, dist = self.index.knn_query(q, k=k, num_threads=1)
        return labels.astype(np.int64), 1.0 - dist

    def set_ef(self, ef):
        self.index.set_ef(ef)

    def save(self, path):
        self.index.save_index(path)

    def load(self, path, dim):
        import hnswlib
        self.index = hnswlib.Index(space='ip', dim=dim)
        self.index.load_index(path)
        self.capacity = self.index.get_max_elements()
        self.index.set_ef(self.cfg.ef_search)

    def __len__(self):
        return self.index.get_current_count()


class _Faiss:
    def __init__(self, dim, cfg: IndexConfig):
        import faiss
        self.faiss = faiss
        self.cfg = cfg
        hnsw = faiss.IndexHNSWFlat(dim, cfg.m, faiss.METRIC_INNER_PRODUCT)
        hnsw.hnsw.efConstruction = cfg.ef_construction
        hnsw.hnsw.efSearch = cfg.ef_search
        self.hnsw = hnsw
        self.index = faiss.IndexIDMap2(hnsw)

    def add(self, ids, vecs):
        self.faiss.omp_set_num_threads(self.cfg.build_threads)
        self.index.add_with_ids(vecs, ids.astype(np.int64))

    def search(self, q, k):
        self.faiss.omp_set_num_threads(1)
        dist, labels = self.index.search(q, k)
        return labels, dist

    def set_ef(self, ef):
        self.hnsw.hnsw.efSearch = ef

    def save(self, path):
        self.faiss.write_index(self.index, path)

    def load(self, path, dim):
        self.index = self.faiss.read_index(path)
        self.hnsw = self.faiss.downcast_index(self.index.index)
        self.hnsw.hnsw.efSearch = self.cfg.ef_search

    def __len__(self):
        return self.index.ntotal


class _Usearch:
    def __init__(self, dim, cfg: IndexConfig):
        from usearch.index import Index
        self.cfg = cfg
        self.index = Index(ndim=dim, metric='ip', dtype='f32', connectivity=cfg.m,
                           expansion_add=cfg.ef_construction, expansion_search=cfg.ef_search)

    def add(self, ids, vecs):
        self.index.add(ids.astype(np.uint64), vecs, threads=self.cfg.build_threads)

    def search(self, q, k):
        m = self.index.search(q, k, threads=1)
        keys = np.asarray(m.keys, dtype=np.int64).reshape(len(q), -1)
        dist = np.asarray(m.distances, dtype=np.float32).reshape(len(q), -1)
        return keys, 1.0 - dist

    def set_ef(self, ef):
        self.index.expansion_search = ef

    def save(self, path):
        self.index.save(path)

    def load(self, path, dim):
        self.index.load(path)
        self.index.expansion_search = self.cfg.ef_search

    def __len__(self):
        return len(self.index)


_IMPL = {'hnswlib': _Hnswlib, 'faiss': _Faiss, 'usearch': _Usearch}


class ExactIndex:
    """Brute-force inner-product search (also the benchmark's baseline)."""

    def __init__(self, dim: int):
        self.dim = dim
        self.ids = np.zeros(0, np.int64)
        self.vecs = np.zeros((0, dim), np.float32)
        self._n = 0

    def add(self, ids, vecs) -> None:
        n = len(ids)
        if self._n + n > len(self.ids):
            cap = max(self._n + n, 2 * len(self.ids), 256)
            self.ids = np.resize(self.ids, cap)
            grown = np.zeros((cap, self.dim), np.float32)
            grown[:self._n] = self.vecs[:self._n]
            self.vecs = grown
        self.ids[self._n:self._n + n] = ids
        self.vecs[self._n:self._n + n] = vecs
        self._n += n

    def search(self, q, k):
        k = min(k, self._n)
        scores = q @ self.vecs[:self._n].T                       # (Q, N)
        top = np.argpartition(-scores, k - 1, axis=1)[:, :k] if k < self._n else \
            np.tile(np.arange(self._n), (len(q), 1))
        part = np.take_along_axis(scores, top, 1)
        order = np.argsort(-part, axis=1)
        top = np.take_along_axis(top, order, 1)
        return self.ids[:self._n][top], np.take_along_axis(scores, top, 1)

    def items(self):
        return self.ids[:self._n], self.vecs[:self._n]

    def __len__(self):
        return self._n


class VectorIndex:
    """Exact search while small, an HNSW graph (``config.backend``) once large."""

    def __init__(self, dim: int, config: IndexConfig = IndexConfig()):
        self.dim = dim
        self.config = config
        self.exact: ExactIndex | None = ExactIndex(dim)
        self.ann = None
        self.max_id = 0
        self._lock = threading.RLock()

    @property
    def kind(self) -> str:
        return 'exact' if self.ann is None else self.config.backend

    def __len__(self) -> int:
        with self._lock:
            return len(self.exact) if self.ann is None else len(self.ann)

    def _check(self, vecs) -> np.ndarray:
        vecs = np.ascontiguousarray(vecs, dtype=np.float32)
        if vecs.ndim != 2 or vecs.shape[1] != self.dim:
            raise ValueError(f'vectors shape={vecs.shape}: expected (N, {self.dim})')
        if not np.isfinite(vecs).all():
            raise ValueError('vectors contain NaN or infinite values')
        return vecs

    def add(self, ids, vecs) -> None:
        """Add vectors under integer keys (text row ids)."""
        vecs = self._check(vecs)
        ids = np.asarray(ids, dtype=np.int64)
        if len(ids) != len(vecs):
            raise ValueError(f'ids has {len(ids)} entries for {len(vecs)} vectors')
        if not len(ids):
            return
        with self._lock:
            self.max_id = max(self.max_id, int(ids.max()))
            if self.ann is not None:
                self.ann.add(ids, vecs)
                return
            self.exact.add(ids, vecs)
            if len(self.exact) >= self.config.exact_below:
                ann = _IMPL[self.config.backend](self.dim, self.config)
                ann.add(*self.exact.items())
                self.ann, self.exact = ann, None

    def search(self, q, k: int) -> tuple[np.ndarray, np.ndarray]:
        """(ids, inner products) of the k nearest, best first, for each query row;
        ids -1 pad rows when fewer than k vectors exist."""
        q = self._check(np.atleast_2d(q))
        with self._lock:
            n = len(self)
            if n == 0:
                return np.full((len(q), 0), -1, np.int64), np.zeros((len(q), 0), np.float32)
            index = self.exact if self.ann is None else self.ann
            return index.search(q, min(k, n))

    def set_ef(self, ef: int) -> None:
        """Change the query-time beam width (graph backends)."""
        with self._lock:
            if self.ann is not None:
                self.ann.set_ef(ef)

    def save(self, path: str) -> bool:
        """Write the graph to ``path`` (exact mode writes nothing: it is rebuilt from rows)."""
        with self._lock:
            if self.ann is None:
                return False
            tmp = path + '.tmp'
            private_file(tmp, parents=False)   # owner-only before the library writes it
            self.ann.save(tmp)
            os.replace(tmp, path)
            return True

    def load(self, path: str, max_id: int) -> None:
        """Read a graph written by ``save`` whose largest key was ``max_id``."""
        with self._lock:
            ann = _IMPL[self.config.backend](self.dim, self.config)
            ann.load(path, self.dim)
            self.ann, self.exact, self.max_id = ann, None, max_id
