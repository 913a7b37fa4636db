"""LifelongMemory: the facade over the store and the four banks.

Writes (ingest, log_event, episodes, facts) are validated in the caller's thread (a malformed
input raises ValueError naming the field and value, and nothing is stored), then queued to the
single writer thread, which applies them in group-committed transactions; each write returns
a Future that resolves once its transaction has committed (see store.py). Queries run in the
caller's thread on that thread's own read connection; ``recall`` asks the four banks in
parallel (the slow semantic bank, which encodes the question, on a pool thread while the
three index lookups run; SQLite, torch and the ANN libraries release the GIL while they
work), so it costs about the slowest bank rather than their sum.

Sentences of events, facts and episodes are interned in ``texts``; their MiniLM embeddings
are computed off the write path by an embedding thread ('background' mode, or 'lazy': from
the first text search on) and kept beside their rows, and the vector index is rebuilt from
them (or reloaded from its saved file) on start.
"""

from __future__ import annotations

from collections import deque
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
import json
import math
import os
import threading
import time

import numpy as np

from memory_nodes.file_safety import write_private_text
from memory_nodes.query_limits import QueryLimits

from .consolidation import ForgetConfig, consolidate
from .episodic import OUTCOMES, SUBGOAL_STATUSES, EpisodicBank
from .naming import NameRegistry, clean_name, words
from .records import (
    Bank,
    Episode,
    Fact,
    MemoryEntry,
    MemoryEvent,
    ObjectObservation,
    Query,
    QueryKind,
    QueryResult,
)
from .semantic import LOCATIVE_PREDICATES, SemanticBank, SemanticConfig
from .spatial import SpatialBank, SpatialConfig
from .store import GroupCommitWriter, SQLiteStore, StoreConfig
from .temporal import TemporalBank
from .validation import (
    check_choice,
    check_event,
    check_fact,
    check_json_dict,
    check_name,
    check_number,
    check_observations,
    check_position,
    check_query,
    check_stamp,
    check_text,
)
from .vector_index import IndexConfig, VectorIndex
from .voxels import VoxelConfig, VoxelMap, check_cloud

EMBEDDING_MODES = ('background', 'lazy', 'off')
TEXT_DIM = 384


@dataclass(frozen=True)
class MemoryConfig:
    """Everything a memory can be tuned by; every part validates itself."""

    store: StoreConfig = field(default_factory=StoreConfig)
    spatial: SpatialConfig = field(default_factory=SpatialConfig)
    semantic: SemanticConfig = field(default_factory=SemanticConfig)
    index: IndexConfig = field(default_factory=IndexConfig)
    limits: QueryLimits = field(default_factory=QueryLimits)
    forget: ForgetConfig = field(default_factory=ForgetConfig)
    voxels: VoxelConfig = field(default_factory=VoxelConfig)
    embedding: str = 'lazy'          # 'background': embed as texts arrive; 'lazy': from the
                                     # first text search on; 'off': no text search
    merge_window_s: float = 1.0      # identical consecutive events closer than this merge
    query_threads: int = 4           # pool of the parallel four-bank recall
    save_index: bool = True          # write the ANN graph beside the file on close

    def __post_init__(self):
        if self.embedding not in EMBEDDING_MODES:
            raise ValueError(f'embedding={self.embedding!r}: expected one of '
                             f'{EMBEDDING_MODES}')
        if isinstance(self.query_threads, bool) or not isinstance(self.query_threads, int) \
                or not 1 <= self.query_threads <= 64:
            raise ValueError(f'query_threads={self.query_threads!r}: expected 1..64')


class LifelongMemory:
    """Spatial, temporal, episodic and semantic memory on one SQLite file (or in memory)."""

    def __init__(self, path: str = ':memory:', config: MemoryConfig | None = None,
                 read_only: bool = False):
        self.config = config or MemoryConfig()
        if not isinstance(self.config, MemoryConfig):
            raise ValueError(f'config={config!r}: expected a MemoryConfig')
        self.read_only = bool(read_only)
        self.store = SQLiteStore(path, self.config.store, read_only=self.read_only)
        self.path = self.store.path
        self.track_names = NameRegistry()
        self.entities = NameRegistry()
        self.spatial = SpatialBank(self.config.spatial, self.track_names)
        self.temporal = TemporalBank(self.entities, self.config.merge_window_s)
        self.episodic = EpisodicBank()
        self.semantic = SemanticBank(self.config.semantic)
        self.voxels = VoxelMap(self.config.voxels)
        self.index = VectorIndex(TEXT_DIM, self.config.index)
        self._texts: dict[str, int] = {}
        self._lock = threading.Lock()
        self._load_caches()
        self.index_source = self._load_index()
        self.writer = None if self.read_only else \
            GroupCommitWriter(self.store, on_rollback=self._reload)
        self.pool = ThreadPoolExecutor(self.config.query_threads,
                                       thread_name_prefix='memory-query')
        self.started = time.monotonic()
        self.observations_ingested = 0
        self.inputs_rejected = 0
        self._ingest_times: deque = deque(maxlen=4096)     # (monotonic, n) per batch
        self._latencies: deque = deque(maxlen=2048)
        self._encoder = None
        self._embed_lock = threading.Lock()
        self._embedded_upto = -1
        self._embed_wake = threading.Event()
        self._embedding_on = self.config.embedding == 'background'
        self._closing = False
        self._embedder = None
        if self.config.embedding != 'off':
            self._embedder = threading.Thread(target=self._embed_loop, name='memory-embed',
                                              daemon=True)
            self._embedder.start()
            if self._embedding_on:
                self._embed_wake.set()

    # ------------------------------------------------------------------ lifecycle
    def _load_caches(self) -> None:
        conn = self.store.write_conn
        self.spatial.load(conn)
        self.temporal.load(conn)
        self.episodic.load(conn)
        self.voxels.load(conn)
        self.entities.add(self.track_names_list())
        for subject, obj in conn.execute('SELECT DISTINCT subject, object FROM facts'):
            self.entities.add([subject, obj])

    def track_names_list(self) -> list[str]:
        return [t.name for t in self.spatial.tracks.values()]

    def _reload(self) -> None:
        """After a rolled-back batch: rebuild the writer's caches from the database."""
        self._texts.clear()
        self.spatial.load(self.store.write_conn)
        self.temporal.load(self.store.write_conn)
        self.episodic.load(self.store.write_conn)
        self.voxels.load(self.store.write_conn)

    def _index_files(self) -> tuple[str, str]:
        base = f'{self.path}.ann-{self.config.index.backend}'
        return base, base + '.json'

    def _load_index(self) -> str:
        """Reload the saved ANN graph when it matches the file, else rebuild from rows."""
        conn = self.store.write_conn
        start_after = 0
        source = 'rebuilt'
        if not self.store.in_memory:
            graph, meta_path = self._index_files()
            try:
                with open(meta_path) as f:
                    meta = json.load(f)
                if meta.get('bytes') == os.path.getsize(graph) and meta.get('dim') == TEXT_DIM:
                    self.index.load(graph, int(meta['max_id']))
                    start_after = int(meta['max_id'])
                    source = 'reloaded'
            except (OSError, ValueError, KeyError, RuntimeError):
                start_after = 0
        last = start_after
        while True:
            rows = conn.execute('SELECT id, vec FROM texts WHERE id > ? AND vec IS NOT NULL '
                                'ORDER BY id LIMIT 50000', (last,)).fetchall()
            if not rows:
                break
            ids = np.array([r[0] for r in rows], np.int64)
            vecs = np.frombuffer(b''.join(r[1] for r in rows), np.float32).reshape(-1, TEXT_DIM)
            self.index.add(ids, vecs)
            last = int(ids[-1])
        return source

    def _save_index(self) -> None:
        if self.store.in_memory or not self.config.save_index:
            return
        graph, meta_path = self._index_files()
        if self.index.save(graph):
            write_private_text(meta_path, json.dumps(
                {'max_id': self.index.max_id, 'dim': TEXT_DIM, 'vectors': len(self.index),
                 'bytes': os.path.getsize(graph)}))

    def flush(self, timeout: float | None = 60.0) -> None:
        """Wait until every write submitted so far is committed."""
        if self.writer is not None:
            self.writer.flush(timeout)

    def close(self) -> None:
        """Commit what is pending, save the vector index, close the file."""
        if self._closing:
            return
        self._closing = True
        self._embed_wake.set()
        if self._embedder is not None:
            self._embedder.join(timeout=30)
        if self.writer is not None:
            self.writer.close()
        self.pool.shutdown(wait=True)
        if not self.read_only:
            self._save_index()
        self.store.close()

    def __enter__(self) -> LifelongMemory:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    # ------------------------------------------------------------------ writes
    def _intern(self, conn, sentence: str) -> int:
        """Id of ``sentence`` in ``texts`` (writer thread)."""
        tid = self._texts.get(sentence)
        if tid is not None:
            return tid
        cur = conn.execute('INSERT OR IGNORE INTO texts (text) VALUES (?)', (sentence,))
        tid = cur.lastrowid if cur.rowcount == 1 else \
            conn.execute('SELECT id FROM texts WHERE text = ?', (sentence,)).fetchone()[0]
        if len(self._texts) > 200000:
            self._texts.clear()
        self._texts[sentence] = tid
        self._embed_wake.set()
        return tid

    def _submit(self, fn) -> Future:
        if self._closing:
            raise RuntimeError(f'memory {self.path!r} is closed')
        if self.writer is None:
            raise RuntimeError(f'memory {self.path!r} is open read-only')
        return self.writer.submit(fn)

    def _rejected(self, err: ValueError):
        self.inputs_rejected += 1
        return err

    def ingest(self, observations: list[ObjectObservation], episode_id: str = '') -> Future:
        """Apply a batch of object observations; the Future resolves to their number once
        durable. Raises ValueError naming the bad observation field (nothing is stored)."""
        try:
            checked = check_observations(observations)
            episode_id = check_name('episode_id', episode_id, allow_empty=True)
        except ValueError as err:
            raise self._rejected(err) from None

        def op(conn):
            recorded = time.time()
            events = self.spatial.ingest(conn, checked, episode_id, recorded)
            if events:
                self.temporal.log(conn, events, recorded, self._intern)
            return len(checked)

        fut = self._submit(op)
        self.observations_ingested += len(checked)
        self._ingest_times.append((time.monotonic(), len(checked)))
        return fut

    def ingest_cloud(self, points, stamp: float) -> Future:
        """Add a depth cloud ((N, 3) world points, already downsampled) to the occupancy
        map (voxels.py): one hit per cell it touches. Binned in the caller's thread (open3d),
        so the writer only upserts cells; resolves to the number of cells once durable.
        Raises ValueError naming a bad point or size (nothing is stored)."""
        try:
            pts = check_cloud(points, self.config.voxels.max_points)
            stamp = check_stamp('stamp', stamp)
        except ValueError as err:
            raise self._rejected(err) from None
        keys = self.voxels.keys(pts)
        return self._submit(lambda conn: self.voxels.add(conn, keys, stamp))

    def occupied(self, center, radius: float, min_hits: int = 1) -> list[dict]:
        """Occupied cells whose centres lie within ``radius`` m of ``center``, nearest
        first (each: key, center, hits = clouds that saw it, last_seen, distance)."""
        center = check_position('center', center)
        radius = check_number('radius', radius, 0.0, 100.0)
        if isinstance(min_hits, bool) or not isinstance(min_hits, int) or min_hits < 1:
            raise ValueError(f'min_hits={min_hits!r}: expected an integer >= 1')
        return self.voxels.occupied(self.store.reader(), center, radius, min_hits)

    def log_event(self, event: MemoryEvent) -> Future:
        """Append an event to the temporal log; resolves to its row id once durable."""
        try:
            event = check_event(event)
        except ValueError as err:
            raise self._rejected(err) from None
        return self._submit(
            lambda conn: self.temporal.log(conn, [(event, None)], time.time(), self._intern)[0])

    def start_episode(self, episode_id: str, instruction: str, stamp: float) -> Future:
        """Open an episode; resolves to its row id. A reused episode_id fails the Future."""
        try:
            episode_id = check_name('episode_id', episode_id)
            instruction = check_text('instruction', instruction, allow_empty=False)
            stamp = check_stamp('stamp', stamp)
        except ValueError as err:
            raise self._rejected(err) from None

        def op(conn):
            recorded = time.time()
            row, event = self.episodic.start(conn, episode_id, instruction, stamp, recorded,
                                             self._intern(conn, instruction))
            self.temporal.log(conn, [(event, None)], recorded, self._intern)
            return row
        return self._submit(op)

    def record_subgoal(self, episode_id: str, name: str, status: str, stamp: float) -> Future:
        """Note a subgoal's status (started / succeeded / failed) in its episode."""
        try:
            episode_id = check_name('episode_id', episode_id)
            name = check_name('name', name).lower()
            status = check_choice('status', status, SUBGOAL_STATUSES)
            stamp = check_stamp('stamp', stamp)
        except ValueError as err:
            raise self._rejected(err) from None

        def op(conn):
            recorded = time.time()
            event = self.episodic.subgoal(conn, episode_id, name, status, stamp, recorded)
            return self.temporal.log(conn, [(event, None)], recorded, self._intern)[0]
        return self._submit(op)

    def end_episode(self, episode_id: str, outcome: str, stamp: float,
                    summary: dict | None = None) -> Future:
        """Close an episode with its outcome (success / failure / aborted / timeout) and a
        JSON summary (trajectory figures; a 'key_frames' list is kept apart)."""
        try:
            episode_id = check_name('episode_id', episode_id)
            outcome = check_choice('outcome', outcome, OUTCOMES)
            stamp = check_stamp('stamp', stamp)
            summary = check_json_dict('summary', summary)
        except ValueError as err:
            raise self._rejected(err) from None

        def op(conn):
            recorded = time.time()
            event = self.episodic.end(conn, episode_id, outcome, stamp, summary, recorded)
            return self.temporal.log(conn, [(event, None)], recorded, self._intern)[0]
        return self._submit(op)

    def tell(self, fact: Fact) -> Future:
        """Add a fact to the semantic bank with reconsolidation; resolves to the row id."""
        try:
            fact = check_fact(fact)
        except ValueError as err:
            raise self._rejected(err) from None

        def op(conn):
            row = self.semantic.tell(conn, fact, time.time(), self._intern)
            self.entities.add([fact.subject, fact.object])
            return row
        return self._submit(op)

    def consolidate(self, now: float | None = None) -> Future:
        """Forget spurious tracks, thin old history, decay old events (consolidation.py),
        forget stray occupancy cells (voxels.py); ``now`` defaults to the latest observation
        or cloud stamp. Resolves to a report dict."""
        if now is not None:
            now = check_stamp('now', now)

        def op(conn):
            t = now if now is not None else max(self.spatial.now, self.voxels.now)
            if not math.isfinite(t):
                return {'tracks': [], 'positions': 0, 'events': 0, 'texts': [], 'voxels': 0}
            report = consolidate(conn, t, self.config.forget)
            report['voxels'] = self.voxels.forget(conn, t)
            names = {self.spatial.tracks[tid].name for tid in report['tracks']
                     if tid in self.spatial.tracks}
            self.spatial.forget(report['tracks'])
            self.track_names.discard(names - set(self.track_names_list()))
            self.temporal.forget_cache()
            self._texts.clear()
            return report
        return self._submit(op)

    # ------------------------------------------------------------------ embeddings
    def _embed_loop(self) -> None:
        while True:
            self._embed_wake.wait()
            self._embed_wake.clear()
            if self._closing:
                return
            if self._embedding_on:
                try:
                    self.embed_pending()
                except Exception:   # noqa: B902 - keep the thread; the next query retries
                    time.sleep(1.0)
                    self._embed_wake.set()

    def embed_pending(self, limit: int | None = None) -> int:
        """Embed sentences that have no vector yet, store the vectors and index them;
        return how many. Runs in the embedding thread, or in a query that needs them."""
        done = 0
        with self._embed_lock:
            if self._encoder is None:
                from .embedding import shared_encoder
                self._encoder = shared_encoder()
            conn = self.store.reader()
            while limit is None or done < limit:
                # read-only: nothing is written back, so walk on past what was embedded
                after = self._embedded_upto if self.read_only else -1
                rows = conn.execute('SELECT id, text FROM texts WHERE vec IS NULL AND id > ? '
                                    'ORDER BY id LIMIT 32', (after,)).fetchall()
                if not rows:
                    break
                vecs = self._encoder.encode([r[1] for r in rows])
                ids = np.array([r[0] for r in rows], np.int64)
                if self.read_only:   # searchable now, stored by the next writer
                    self.index.add(ids, vecs)
                    self._embedded_upto = int(ids.max())
                    done += len(rows)
                    continue
                self._submit(lambda c, ids=ids, vecs=vecs: c.executemany(
                    'UPDATE texts SET vec = ? WHERE id = ?',
                    [(v.tobytes(), int(i)) for i, v in zip(ids, vecs)])).result()
                self.index.add(ids, vecs)
                done += len(rows)
                if self._closing:
                    break
        return done

    def _query_vector(self, text: str) -> np.ndarray:
        if self.config.embedding == 'off':
            raise ValueError(f'text={text!r}: text search is off (MemoryConfig.embedding='
                             "'off')")
        if self.config.embedding == 'lazy':
            # lazy: everything written so far is searchable (the first search embeds it all),
            # and from now on the embedding thread keeps up in the background
            self._embedding_on = True
            self.embed_pending()
        elif self._encoder is None:
            # background: search what is embedded; the thread catches up with the rest
            from .embedding import shared_encoder
            self._encoder = shared_encoder()
        return self._encoder.encode([text], cache=True)[0]

    # ------------------------------------------------------------------ queries
    def query(self, q: Query) -> QueryResult:
        """Answer one question (QueryKind); ValueError names a bad field."""
        t0 = time.perf_counter()
        try:
            q = check_query(q, self.config.limits)
        except ValueError as err:
            raise self._rejected(err) from None
        handler = {QueryKind.WHERE: self._where, QueryKind.WHEN: self._when,
                   QueryKind.WHAT_HAPPENED: self._what_happened,
                   QueryKind.HOW_MANY: self._how_many,
                   QueryKind.SIMILAR_TO_TEXT: self._similar}[q.kind]
        result = handler(q)
        if q.kind != QueryKind.HOW_MANY:
            result.count = len(result.results)
        result.latency_ms = (time.perf_counter() - t0) * 1e3
        self._latencies.append(result.latency_ms)
        return result

    def _where(self, q: Query) -> QueryResult:
        conn = self.store.reader()
        names = self.spatial.resolve(q.text)
        if q.time_end:
            results = self.spatial.where_was(conn, q.text, q.time_end, q.k, names=names)
            message = f'where {names[:5]} were at t={q.time_end}'
        else:
            results = self.spatial.where_is(conn, q.text, q.k, now=self.spatial.now,
                                            names=names)
            message = f'tracks {names[:5]}'
        if not results:   # nothing tracked: what was I told?
            ents, _ = self.entities.resolve(words(q.text))
            facts = [f for f in self.semantic.facts(conn, names=[n for n, _ in ents][:20])
                     if f.predicate in LOCATIVE_PREDICATES][:q.k]
            results = [self.semantic.entry(f) for f in facts]
            message = (f'no track matches {q.text!r}; {len(results)} told locations'
                       if results else f'nothing known about {q.text!r}')
        return QueryResult(results=results, message=message)

    def _when(self, q: Query) -> QueryResult:
        conn = self.store.reader()
        eq = self.temporal.understand(q.text)
        if eq.kind_words:
            results = self.temporal.search(conn, eq, q.episode_id, q.time_start, q.time_end,
                                           q.k, newest_first=True)
            return QueryResult(results=results, message='latest events: ' + eq.describe())
        # no event kind asked: when was it last seen
        results = self.spatial.where_is(conn, q.text, q.k, now=self.spatial.now)
        for e in results:
            e.text = f'{e.subject} last seen at t={e.stamp:.2f} s at ' \
                     f'({e.position[0]:.2f}, {e.position[1]:.2f}, {e.position[2]:.2f})'
        return QueryResult(results=results, message='last seen: ' + eq.describe())

    def _what_happened(self, q: Query) -> QueryResult:
        conn = self.store.reader()
        eq = self.temporal.understand(q.text) if q.text else None
        results = self.temporal.search(conn, eq, q.episode_id, q.time_start, q.time_end, q.k,
                                       newest_first=False)
        return QueryResult(results=results,
                           message='events in time order: ' + (eq.describe() if eq else
                                                               'all events'))

    def _how_many(self, q: Query) -> QueryResult:
        conn = self.store.reader()
        eq = self.temporal.understand(q.text)
        if eq.kind_words or not eq.subjects:
            n = self.temporal.count(conn, eq, q.episode_id, q.time_start, q.time_end)
            results = self.temporal.search(conn, eq, q.episode_id, q.time_start, q.time_end,
                                           q.k, newest_first=False)
            return QueryResult(results=results, count=n,
                               message='count of events: ' + eq.describe())
        names = self.spatial.resolve(q.text)
        n = self.spatial.count_objects(conn, names)
        results = self.spatial.where_is(conn, q.text, q.k, now=self.spatial.now, names=names)
        return QueryResult(results=results, count=n, message=f'count of objects {names[:5]}')

    def _similar(self, q: Query) -> QueryResult:
        vec = self._query_vector(q.text)
        return QueryResult(results=self.search_vector(vec, q),
                           message=f'nearest facts, events and episodes ({self.index.kind} '
                                   f'search over {len(self.index)} sentences)')

    def search_vector(self, vec: np.ndarray, q: Query) -> list[MemoryEntry]:
        """Facts, events and episodes whose sentences are nearest to ``vec``."""
        conn = self.store.reader()
        ids, scores = self.index.search(vec, min(len(self.index), 3 * q.k))
        ids, scores = ids[0], scores[0]
        valid = [(int(i), float(s)) for i, s in zip(ids, scores) if i >= 0]
        found = {}
        for bank in (self.semantic, self.temporal, self.episodic):
            for tid, entries in bank.by_text_ids(conn, [i for i, _ in valid]).items():
                found.setdefault(tid, []).extend(entries)
        out = []
        for tid, score in valid:
            for e in found.get(tid, ()):
                if q.episode_id and e.episode_id != q.episode_id:
                    continue
                if (q.time_start and e.stamp < q.time_start) or \
                        (q.time_end and e.stamp > q.time_end):
                    continue
                e.score = score * (e.score if e.bank == Bank.SEMANTIC else 1.0)
                out.append(e)
        out.sort(key=lambda e: -e.score)
        return out[:q.k]

    def recall(self, text: str, k: int = 10, parallel: bool = True) -> QueryResult:
        """Ask all four banks about ``text`` at once: tracks (spatial), latest matching events
        (temporal), episodes with a similar instruction (episodic), nearest facts and
        sentences (semantic). Results keep their bank; best first within each bank."""
        t0 = time.perf_counter()
        q = check_query(Query(kind=QueryKind.SIMILAR_TO_TEXT, text=text, k=k),
                        self.config.limits)
        parts = self.bank_queries(q)
        if parallel:
            # the semantic bank (it encodes the question: by far the slowest) runs on the
            # pool; the three index lookups run meanwhile in this thread. Measured on 2 cores,
            # one pool thread per bank cost more in hand-offs and GIL convoys than it saved.
            slow = self.pool.submit(parts['semantic'])
            quick = {name: fn() for name, fn in parts.items() if name != 'semantic'}
            quick['semantic'] = slow.result()
            answers = [quick[name] for name in parts]
        else:
            answers = [fn() for fn in parts.values()]
        results = [e for a in answers for e in a]
        return QueryResult(results=results, count=len(results),
                           latency_ms=(time.perf_counter() - t0) * 1e3,
                           message='recall over ' + ', '.join(
                               f'{name}: {len(a)}' for name, a in zip(parts, answers)))

    def bank_queries(self, q: Query) -> dict:
        """One callable per bank answering ``q.text`` (what ``recall`` runs in parallel)."""
        def spatial():
            return self.spatial.where_is(self.store.reader(), q.text, q.k, now=self.spatial.now)

        def temporal():
            eq = self.temporal.understand(q.text)
            return self.temporal.search(self.store.reader(), eq, k=q.k)

        def episodic():
            return [self.episodic.entry(ep, s)
                    for ep, s in self.episodic.like(self.store.reader(), q.text, q.k)]

        def semantic():
            if self.config.embedding == 'off':
                return []
            return self.search_vector(self._query_vector(q.text), q)
        return {'spatial': spatial, 'temporal': temporal, 'episodic': episodic,
                'semantic': semantic}

    # ------------------------------------------------------------------ direct reads
    def episode(self, episode_id: str) -> Episode | None:
        return self.episodic.get(self.store.reader(), episode_id)

    def episodes(self, n: int = 10) -> list[Episode]:
        """The latest ``n`` episodes, newest first."""
        return self.episodic.recent(self.store.reader(), n)

    def last_episode_like(self, instruction: str) -> Episode | None:
        """What happened the last time I was asked to do this."""
        return self.episodic.last_like(self.store.reader(), instruction)

    def facts(self, subject: str | None = None, predicate: str | None = None,
              current_only: bool = True) -> list[Fact]:
        return self.semantic.facts(self.store.reader(),
                                   clean_name(subject) if subject else None, predicate,
                                   current_only)

    def fact_history(self, subject: str, predicate: str) -> list[dict]:
        return self.semantic.history(self.store.reader(), clean_name(subject), predicate)

    def near(self, subject: str, radius: float | None = None, k: int = 10
             ) -> list[MemoryEntry]:
        """What is near the best match of ``subject`` (with in / on / under / near)."""
        return self.spatial.near(self.store.reader(), subject, radius, k)

    def stats(self) -> dict:
        """Sizes per bank, file size, pending writes, ingest rate, rejects, query latency."""
        conn = self.store.reader()

        def count(table):
            return conn.execute(f'SELECT COUNT(*) FROM {table}').fetchone()[0]
        now = time.monotonic()
        recent = [(t, n) for t, n in list(self._ingest_times) if now - t <= 10.0]
        rate = sum(n for _, n in recent) / max(now - recent[0][0], 1e-3) if recent else 0.0
        lat = np.array(self._latencies) if self._latencies else np.zeros(1)
        return {
            'store_path': self.path,
            'store_bytes': self.store.size_bytes(),
            'schema_version': self.store.schema_version,
            'spatial_tracks': count('tracks'),
            'track_positions': count('track_positions'),
            'temporal_events': count('events'),
            'episodes': count('episodes'),
            'semantic_facts': count('facts'),
            'fact_changes': count('fact_changes'),
            'texts': count('texts'),
            'voxels': count('voxels'),
            'voxel_m': self.voxels.voxel_m,
            'vectors': len(self.index),
            'index': self.index.kind,
            'index_source': self.index_source,
            'observations_ingested': self.observations_ingested,
            'ingest_rate_hz': rate,
            'pending_writes': self.writer.pending() if self.writer else 0,
            'commits': self.writer.commits if self.writer else 0,
            'max_pending_ms': self.writer.max_pending_s * 1e3 if self.writer else 0.0,
            'inputs_rejected': self.inputs_rejected,
            'query_p50_ms': float(np.percentile(lat, 50)),
            'query_p99_ms': float(np.percentile(lat, 99)),
        }
