#!/usr/bin/env python3
"""Lifelong memory figures (issue 3), each beside a baseline measured in the same run.

    .venv/bin/python scripts/bench_memory.py            # the issue's sizes (tens of minutes)
    .venv/bin/python scripts/bench_memory.py --quick    # smoke run, small sizes (a minute)
    .venv/bin/python scripts/bench_memory.py --sections ingest,growth --json out.json

Sections (targets from the issue, on 2 CPU cores):
- ingest: observations per second through LifelongMemory.ingest into a file (WAL,
  synchronous=FULL), frames of 10 objects fed as fast as the writer takes them (at most 64
  frames waiting); then at a paced --ingest-rate, the wait from submit to acknowledgement
  (target >= 2000 obs/s sustained, <= 100 ms of acknowledged writes pending).
  Baseline: the same observations written one transaction per observation.
- queries: WHERE / WHEN p50 / p99 over a store that ingested --observations (1,000,000)
  observations of --objects objects that move, hide and reappear (target p99 <= 5 ms).
  Baselines (brute force): WHERE, the latest of the same observations kept one row each in
  a plain table, by a full scan; WHEN, the latest 'moved' event by a full scan of the log.
- ann: every ANN library (hnswlib, faiss, usearch) at --ann-compare vectors, then the
  configured one at --vectors (1,000,000) 384-d vectors: top-10 p50 / p99 and recall@10
  against exact search, whose time is printed beside (target p99 <= 5 ms, recall >= 0.95).
  Vectors: MiniLM embeddings of template sentences, mixed pairwise with noise (real
  embedding geometry at a million rows without encoding a million sentences).
- combined: LifelongMemory.recall (four banks in parallel) against each bank alone
  (target <= 1.3 x the slowest bank), on the queries section's store.
- growth: one simulated hour (--growth-hours) of 30 Hz observations of 10 static objects
  with 3 mm noise; growth of file + WAL (target < 10 MB). Baseline: one row per observation
  (the same observations in a plain table).

--json writes the raw results plus the figures (memory_nodes.benchmarks records).
"""

from __future__ import annotations

import argparse
import os
from pathlib import Path
import random
import sqlite3
import sys
import tempfile
import time

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from memory_nodes.benchmarks import Figure, result_document, write_json  # noqa: E402
from memory_nodes.lifelong_memory import (  # noqa: E402
    Fact,
    IndexConfig,
    LifelongMemory,
    MemoryConfig,
    ObjectObservation,
    Query,
    QueryKind,
)
from memory_nodes.lifelong_memory.vector_index import BACKENDS, ExactIndex, VectorIndex  # noqa

COLORS = ('red', 'green', 'blue', 'yellow', 'white', 'black', 'orange', 'purple', 'pink',
          'brown', 'grey', 'cyan', 'magenta', 'gold', 'silver', 'navy', 'olive', 'teal',
          'maroon', 'beige')
LABELS = ('cube', 'ball', 'cup', 'bowl', 'plate', 'bottle', 'box', 'can', 'block', 'mug',
          'spoon', 'fork', 'knife', 'book', 'pen', 'phone', 'key', 'toy', 'sponge', 'towel',
          'apple', 'banana', 'lemon', 'tool', 'screwdriver', 'hammer', 'tape', 'lid', 'jar',
          'led', 'button', 'lamp', 'shoe', 'hat', 'glove', 'sock', 'remote', 'wallet',
          'charger', 'marker', 'brush', 'candle', 'vase', 'tray', 'basket', 'bin', 'drawer',
          'pillow', 'blanket', 'clock')
PLACES = ('on the table', 'in the drawer', 'in the bin', 'on the shelf', 'under the chair',
          'near the sink', 'in the cupboard', 'on the counter', 'by the door', 'on the floor',
          'in the basket', 'next to the lamp', 'behind the box', 'on the plate', 'in the cup')
VERBS = ('was moved', 'was picked up', 'was put down', 'is', 'was left', 'fell', 'was hidden',
         'appeared', 'disappeared', 'was pushed', 'lit up', 'was pressed', 'was found',
         'was dropped', 'was stacked')


def pct(values, q) -> float:
    return float(np.percentile(np.asarray(values, dtype=np.float64), q))


def line(name, value, unit='', target='', baseline=None, base_unit=''):
    text = f'  {name:44s} {value:12.3f} {unit:8s}'
    if baseline is not None:
        text += f' baseline {baseline:12.3f} {base_unit or unit:8s}'
    if target:
        text += f'  [{target}]'
    print(text, flush=True)


def objects(n):
    """n distinct (colour, label) pairs."""
    pairs = [(c, lab) for lab in LABELS for c in COLORS]
    random.Random(0).shuffle(pairs)
    if n > len(pairs):
        raise SystemExit(f'--objects={n}: at most {len(pairs)} distinct objects')
    return pairs[:n]


# ---------------------------------------------------------------------------- ingest
def feed(mem, objs, seconds, rate, max_outstanding, rng):
    """Ingest 10-object frames for ``seconds``: at ``rate`` observations per second, or as
    fast as the writer takes them (rate 0) with at most ``max_outstanding`` frames waiting
    (a subscriber's queue). Returns (observations, elapsed s, ack latencies in s)."""
    futures, acks = [], []
    n, frame = 0, 0
    noise = rng.normal(0, 0.003, (3000, len(objs), 3)).tolist()   # drawn before timing
    start = time.perf_counter()
    while time.perf_counter() - start < seconds:
        if rate:
            due = start + n / rate
            wait = due - time.perf_counter()
            if wait > 0:
                time.sleep(wait)
        t = frame / 30.0
        jitter = noise[frame % len(noise)]
        obs = [ObjectObservation(stamp=t, label=lab, color=c,
                                 position=(0.1 * i + jitter[i][0], jitter[i][1],
                                           0.8 + jitter[i][2]))
               for i, (c, lab) in enumerate(objs)]
        submitted = time.perf_counter()
        f = mem.ingest(obs)
        f.add_done_callback(lambda _f, s=submitted: acks.append(time.perf_counter() - s))
        futures.append(f)
        n += len(obs)
        frame += 1
        while len(futures) > max_outstanding or (futures and futures[0].done()):
            futures.pop(0).result()
    for f in futures:
        f.result()
    return n, time.perf_counter() - start, acks


def bench_ingest(args, tmp, out):
    print('ingest (file, WAL, synchronous=FULL, 10 objects per frame)')
    objs = objects(10)
    rng = np.random.default_rng(0)
    with LifelongMemory(os.path.join(tmp, 'ingest.db'), MemoryConfig(embedding='off')) as mem:
        n, took, acks = feed(mem, objs, args.ingest_seconds, 0, 64, rng)
        commits = mem.writer.commits
    with LifelongMemory(os.path.join(tmp, 'paced.db'), MemoryConfig(embedding='off')) as mem:
        pn, ptook, packs = feed(mem, objs, args.ingest_seconds, args.ingest_rate, 10**6, rng)
    # baseline: one transaction per observation, same rows, same file settings
    conn = sqlite3.connect(os.path.join(tmp, 'ingest_base.db'), isolation_level=None)
    conn.execute('PRAGMA journal_mode=WAL')
    conn.execute('PRAGMA synchronous=FULL')
    conn.execute('CREATE TABLE obs (t REAL, label TEXT, color TEXT, x REAL, y REAL, z REAL)')
    nb, start = 0, time.perf_counter()
    while time.perf_counter() - start < min(5.0, args.ingest_seconds):
        conn.execute('BEGIN')
        conn.execute('INSERT INTO obs VALUES (?, ?, ?, ?, ?, ?)',
                     (nb / 300, 'cube', 'red', 0.1, 0.2, 0.3))
        conn.execute('COMMIT')
        nb += 1
    base_rate = nb / (time.perf_counter() - start)
    conn.close()
    rate = n / took
    line('sustained observations per second', rate, 'obs/s', '>= 2000', base_rate)
    line('ratio to one commit per observation', rate / base_rate, 'x')
    line('observations per commit', n / max(commits, 1), 'obs')
    line('  at full speed: ack wait p99 / max', pct(acks, 99) * 1e3, 'ms',
         f'max {max(acks) * 1e3:.1f} ms')
    line(f'paced at {args.ingest_rate:.0f} obs/s: achieved', pn / ptook, 'obs/s')
    line('  ack wait p50', pct(packs, 50) * 1e3, 'ms')
    line('  ack wait p99', pct(packs, 99) * 1e3, 'ms', '<= 100')
    line('  ack wait max', max(packs) * 1e3, 'ms', '<= 100')
    out['ingest'] = {'obs_per_s': rate, 'baseline_obs_per_s': base_rate,
                     'full_speed_ack_p99_ms': pct(acks, 99) * 1e3,
                     'full_speed_ack_max_ms': max(acks) * 1e3, 'commits': commits,
                     'paced_rate': args.ingest_rate, 'paced_achieved': pn / ptook,
                     'paced_ack_p50_ms': pct(packs, 50) * 1e3,
                     'paced_ack_p99_ms': pct(packs, 99) * 1e3,
                     'paced_ack_max_ms': max(packs) * 1e3}


# ---------------------------------------------------------------------------- queries
def build_store(args, path, raw_path):
    """Ingest --observations observations of --objects objects: each frame shows a random
    tenth of them; now and then one moves while out of view. The same observations also go,
    one row each, into a plain table in ``raw_path`` (the brute-force baseline's data)."""
    objs = objects(args.objects)
    rng = np.random.default_rng(1)
    home = {o: rng.uniform(-1.5, 1.5, 3) * (1, 1, 0) + (0, 0, 0.8) for o in objs}
    per_frame = max(1, len(objs) // 10)
    hidden_until = np.zeros(len(objs))
    frame, n = 0, 0
    raw = sqlite3.connect(raw_path, isolation_level=None)
    raw.execute('PRAGMA journal_mode=WAL')
    raw.execute('CREATE TABLE obs (t REAL, label TEXT, color TEXT, x REAL, y REAL, z REAL)')
    raw.execute('BEGIN')
    start = time.perf_counter()
    ingest_s = 0.0
    with LifelongMemory(path, MemoryConfig(embedding='off')) as mem:
        pending = []
        while n < args.observations:
            t = frame / 30.0
            if rng.random() < 0.05:       # something is taken out of view and put elsewhere
                i = rng.integers(len(objs))
                home[objs[i]] = rng.uniform(-1.5, 1.5, 3) * (1, 1, 0) + (0, 0, 0.8)
                hidden_until[i] = t + 1.0
            shown = rng.choice(len(objs), per_frame, replace=False)
            shown = shown[hidden_until[shown] <= t]
            obs = [ObjectObservation(stamp=t, label=objs[i][1], color=objs[i][0],
                                     position=tuple(home[objs[i]] + rng.normal(0, 0.003, 3)))
                   for i in shown]
            t0 = time.perf_counter()
            pending.append(mem.ingest(obs, episode_id=f'ep{frame // 9000}'))
            ingest_s += time.perf_counter() - t0
            raw.executemany('INSERT INTO obs VALUES (?, ?, ?, ?, ?, ?)',
                            [(o.stamp, o.label, o.color, *o.position) for o in obs])
            n += len(obs)
            frame += 1
            while len(pending) > 64 or (pending and pending[0].done()):
                pending.pop(0).result()
        for f in pending:
            f.result()
        for i in range(200):   # a few episodes and facts for the other banks
            c, lab = objs[i % len(objs)]
            mem.start_episode(f'task{i}', f'put the {c} {lab} {PLACES[i % len(PLACES)]}',
                              1e5 + i)
            c, lab = objs[(7 * i) % len(objs)]
            mem.tell(Fact(f'{c} {lab}', 'belongs_in', PLACES[(3 * i) % len(PLACES)][3:],
                          1e5 + i))
        mem.flush()
        stats = mem.stats()
    raw.execute('COMMIT')
    raw.close()
    took = time.perf_counter() - start
    return objs, stats, took


def bench_queries(args, tmp, out):
    print(f'queries over {args.observations} ingested observations of {args.objects} objects')
    path = os.path.join(tmp, 'store.db')
    raw_path = os.path.join(tmp, 'raw.db')
    objs, stats, took = build_store(args, path, raw_path)
    print(f'  store: {stats["spatial_tracks"]} tracks, {stats["temporal_events"]} events, '
          f'{stats["track_positions"]} position rows, {stats["store_bytes"] / 1e6:.1f} MB; '
          f'built in {took:.0f} s ({args.observations / took:.0f} obs/s incl. the raw table)')
    rng = random.Random(2)
    res = {}
    raw = sqlite3.connect(f'file:{raw_path}?mode=ro', uri=True)
    with LifelongMemory(path, MemoryConfig(embedding='off'), read_only=True) as mem:
        conn = mem.store.reader()
        for kind, template in ((QueryKind.WHERE, 'where is the {c} {l}'),
                               (QueryKind.WHEN, 'when did the {c} {l} move')):
            lat, cpu, answered = [], [], 0
            for _ in range(args.queries):
                c, lab = rng.choice(objs)
                c0 = time.thread_time()
                r = mem.query(Query(kind=kind, text=template.format(c=c, l=lab), k=1))
                cpu.append((time.thread_time() - c0) * 1e3)
                lat.append(r.latency_ms)
                answered += bool(r.results)
            # brute force: the latest raw observation / the latest move by a full scan
            base = []
            for _ in range(max(5, args.queries // 200)):
                c, lab = rng.choice(objs)
                t0 = time.perf_counter()
                if kind == QueryKind.WHERE:
                    raw.execute('SELECT * FROM obs WHERE label = ? AND color = ? '
                                'ORDER BY t DESC LIMIT 1', (lab, c)).fetchall()
                else:
                    conn.execute("SELECT * FROM events NOT INDEXED WHERE subject = ? AND "
                                 "kind = 'moved' ORDER BY t DESC LIMIT 1",
                                 (f'{c} {lab}',)).fetchall()
                base.append((time.perf_counter() - t0) * 1e3)
            name = kind.name.lower()
            line(f'{name} p50', pct(lat, 50), 'ms', '', pct(base, 50))
            line(f'{name} p99', pct(lat, 99), 'ms', '<= 5', pct(base, 99))
            line(f'{name} p99 of CPU time (waits for a core excluded)', pct(cpu, 99), 'ms')
            line(f'{name} speed-up over the scan (p50)', pct(base, 50) / pct(lat, 50), 'x')
            line(f'{name} questions with an answer', answered / args.queries, '')
            res[name] = {'p50_ms': pct(lat, 50), 'p99_ms': pct(lat, 99),
                         'cpu_p99_ms': pct(cpu, 99),
                         'scan_p50_ms': pct(base, 50), 'scan_p99_ms': pct(base, 99),
                         'answered': answered / args.queries}
    raw.close()
    out['queries'] = {'store': {k: stats[k] for k in ('spatial_tracks', 'temporal_events',
                                                      'track_positions', 'store_bytes')},
                      'observations': args.observations, 'build_s': took, **res}
    return path, objs


# ---------------------------------------------------------------------------- ann
def sentences(n, seed):
    rng = random.Random(seed)
    out = set()
    while len(out) < n:
        out.add(f'the {rng.choice(COLORS)} {rng.choice(LABELS)} {rng.choice(VERBS)} '
                f'{rng.choice(PLACES)}')
    return sorted(out)


def embedding_like(n_vectors, n_base, seed):
    """(vectors, queries): MiniLM embeddings of template sentences; the vectors are pairwise
    mixtures of them plus noise, the queries embeddings of held-out sentences."""
    from memory_nodes.lifelong_memory.embedding import shared_encoder
    enc = shared_encoder()
    texts = sentences(n_base + 300, seed)
    rng = random.Random(seed)
    rng.shuffle(texts)
    t0 = time.perf_counter()
    base = enc.encode(texts[:n_base])
    queries = enc.encode(texts[n_base:n_base + 300])
    print(f'  encoded {len(texts)} template sentences in {time.perf_counter() - t0:.0f} s')
    g = np.random.default_rng(seed)
    vecs = np.empty((n_vectors, base.shape[1]), np.float32)
    for s in range(0, n_vectors, 100000):
        m = min(100000, n_vectors - s)
        a = g.uniform(0.5, 1.0, (m, 1)).astype(np.float32)
        v = a * base[g.integers(0, n_base, m)] + (1 - a) * base[g.integers(0, n_base, m)]
        v += g.normal(0, 0.02, v.shape).astype(np.float32)
        vecs[s:s + m] = v / np.linalg.norm(v, axis=1, keepdims=True)
    return vecs, queries


def measure_ann(vecs, queries, truth, backend, cfg_kw, efs):
    ids = np.arange(1, len(vecs) + 1)
    index = VectorIndex(vecs.shape[1], IndexConfig(backend=backend, exact_below=1, **cfg_kw))
    t0 = time.perf_counter()
    for s in range(0, len(vecs), 50000):
        index.add(ids[s:s + 50000], vecs[s:s + 50000])
    build = time.perf_counter() - t0
    rows = []
    for ef in efs:
        index.set_ef(ef)
        lat, cpu, found = [], [], []
        for q in queries:
            c0, t0 = time.thread_time(), time.perf_counter()
            f, _ = index.search(q, 10)
            lat.append((time.perf_counter() - t0) * 1e3)
            cpu.append((time.thread_time() - c0) * 1e3)
            found.append(f[0])
        recall = float(np.mean([len(set(f) & set(t)) / 10 for f, t in zip(found, truth)]))
        rows.append({'ef': ef, 'p50_ms': pct(lat, 50), 'p99_ms': pct(lat, 99),
                     'cpu_p99_ms': pct(cpu, 99), 'recall10': recall})
    return build, rows


def exact_truth(vecs, queries):
    exact = ExactIndex(vecs.shape[1])
    exact.add(np.arange(1, len(vecs) + 1), vecs)
    lat, truth = [], []
    for q in queries:
        t0 = time.perf_counter()
        ids, _ = exact.search(q[None], 10)
        lat.append((time.perf_counter() - t0) * 1e3)
        truth.append(ids[0])
    return truth, lat


def bench_ann(args, out):
    print('text similarity: top-10 over 384-d vectors (MiniLM-derived), recall vs exact')
    vecs, queries = embedding_like(max(args.vectors, args.ann_compare), args.base_sentences, 3)
    queries = queries[:args.ann_queries]
    cfg_kw = dict(m=args.ann_m, ef_construction=args.ann_ef_construction,
                  build_threads=args.build_threads)
    res = {'compare': {}, 'full': {}}
    if args.ann_compare:
        sub = vecs[:args.ann_compare]
        truth, exact_lat = exact_truth(sub, queries)
        print(f'  library comparison at {len(sub)} vectors (exact: p50 '
              f'{pct(exact_lat, 50):.2f} ms, p99 {pct(exact_lat, 99):.2f} ms)')
        for backend in BACKENDS:
            build, rows = measure_ann(sub, queries, truth, backend, cfg_kw, (32, 64, 128))
            for r in rows:
                print(f'    {backend:8s} build {build:7.1f} s  ef {r["ef"]:4d}  p50 '
                      f'{r["p50_ms"]:6.3f} ms  p99 {r["p99_ms"]:6.3f} ms  (CPU '
                      f'{r["cpu_p99_ms"]:6.3f} ms)  recall@10 {r["recall10"]:.4f}', flush=True)
            res['compare'][backend] = {'build_s': build, 'rows': rows}
    if args.vectors:
        full = vecs[:args.vectors]
        truth, exact_lat = exact_truth(full, queries)
        build, rows = measure_ann(full, queries, truth, args.backend, cfg_kw,
                                  tuple(args.ef_search))
        print(f'  {args.backend} at {len(full)} vectors: build {build:.0f} s '
              f'({args.build_threads} threads)')
        for r in rows:
            line(f'top-10 p99, ef={r["ef"]}', r['p99_ms'], 'ms', '<= 5', pct(exact_lat, 99))
            line(f'top-10 p99 of CPU time, ef={r["ef"]}', r['cpu_p99_ms'], 'ms')
            line(f'top-10 p50, ef={r["ef"]}', r['p50_ms'], 'ms', '', pct(exact_lat, 50))
            line(f'recall@10 vs exact, ef={r["ef"]}', r['recall10'], '', '>= 0.95')
            line(f'speed-up over exact (p50), ef={r["ef"]}',
                 pct(exact_lat, 50) / r['p50_ms'], 'x')
        res['full'] = {'backend': args.backend, 'vectors': len(full), 'build_s': build,
                       'exact_p50_ms': pct(exact_lat, 50), 'exact_p99_ms': pct(exact_lat, 99),
                       'rows': rows}
    out['ann'] = res


# ---------------------------------------------------------------------------- combined
def bench_combined(args, path, objs, out):
    print('combined four-bank recall vs each bank alone')
    cfg = MemoryConfig(embedding='background')
    with LifelongMemory(path, cfg) as mem:
        t0 = time.perf_counter()
        n = mem.embed_pending()
        print(f'  embedded {n} new sentences in {time.perf_counter() - t0:.0f} s; '
              f'{len(mem.index)} vectors ({mem.index.kind})')
        rng = random.Random(4)
        texts = [f'{c} {lab} {rng.choice(["moved", "was seen", "appeared", "disappeared"])}'
                 for c, lab in objs]
        rng.shuffle(texts)
        texts = texts[:args.combined_queries]
        encoder = mem._encoder
        names = ('spatial', 'temporal', 'episodic', 'semantic')
        per_bank = {name: [] for name in names}
        results = {'parallel': [], 'serial': []}
        # interleaved: each question goes through every variant back to back, so a burst
        # of load on the shared machine hits all variants alike; the query-embedding cache
        # is emptied before each, so every variant encodes the question itself
        for text in texts:
            q = Query(kind=QueryKind.SIMILAR_TO_TEXT, text=text, k=10)
            for name in names:
                encoder._cache.clear()
                fn = mem.bank_queries(q)[name]
                t = time.perf_counter()
                fn()
                per_bank[name].append((time.perf_counter() - t) * 1e3)
            for mode in ('parallel', 'serial'):
                encoder._cache.clear()
                t = time.perf_counter()
                mem.recall(text, k=10, parallel=mode == 'parallel')
                results[mode].append((time.perf_counter() - t) * 1e3)
    slow50 = max(pct(v, 50) for v in per_bank.values())
    slow99 = max(pct(v, 99) for v in per_bank.values())
    for name, lat in per_bank.items():
        line(f'{name} bank alone p50 / p99', pct(lat, 50), 'ms', f'p99 {pct(lat, 99):.2f} ms')
    line('combined (parallel) p50', pct(results['parallel'], 50), 'ms', '',
         pct(results['serial'], 50))
    line('combined (parallel) p99', pct(results['parallel'], 99), 'ms', '',
         pct(results['serial'], 99))
    line('combined / slowest bank, p50', pct(results['parallel'], 50) / slow50, 'x', '<= 1.3')
    line('combined / slowest bank, p99', pct(results['parallel'], 99) / slow99, 'x', '<= 1.3')
    line('serial sum / slowest bank, p50', pct(results['serial'], 50) / slow50, 'x')
    out['combined'] = {
        'per_bank': {k: {'p50_ms': pct(v, 50), 'p99_ms': pct(v, 99)} for k, v in
                     per_bank.items()},
        'parallel': {'p50_ms': pct(results['parallel'], 50),
                     'p99_ms': pct(results['parallel'], 99)},
        'serial': {'p50_ms': pct(results['serial'], 50), 'p99_ms': pct(results['serial'], 99)},
        'ratio_p50': pct(results['parallel'], 50) / slow50,
        'ratio_p99': pct(results['parallel'], 99) / slow99}


# ---------------------------------------------------------------------------- growth
def bench_growth(args, tmp, out):
    frames = int(args.growth_hours * 3600 * 30)
    print(f'growth: {args.growth_hours} h of 30 Hz observations of 10 static objects '
          f'({frames * 10} observations)')
    objs = objects(10)
    path = os.path.join(tmp, 'growth.db')
    rng = np.random.default_rng(5)
    home = [np.array([0.1 * i, 0.0, 0.8]) for i in range(10)]
    start = time.perf_counter()
    with LifelongMemory(path, MemoryConfig(embedding='off')) as mem:
        mem.ingest([ObjectObservation(stamp=0.0, label=lab, color=c, position=tuple(home[i]))
                    for i, (c, lab) in enumerate(objs)]).result()
        mem.store.checkpoint()
        size0 = mem.store.size_bytes()
        pending = []
        for f in range(1, frames):
            t = f / 30.0
            pending.append(mem.ingest([ObjectObservation(
                stamp=t, label=lab, color=c, position=tuple(home[i] + rng.normal(0, 0.003, 3)),
                position_covariance=(1e-5, 0, 0, 0, 1e-5, 0, 0, 0, 1e-5))
                for i, (c, lab) in enumerate(objs)]))
            if len(pending) > 1000:
                pending.pop(0).result()
        for p in pending:
            p.result()
        size_live = mem.store.size_bytes()
        stats = mem.stats()
    size_closed = os.path.getsize(path)
    took = time.perf_counter() - start
    # baseline: every observation kept as a row (bytes per row measured on 20k rows)
    base = sqlite3.connect(os.path.join(tmp, 'growth_base.db'), isolation_level=None)
    base.execute('CREATE TABLE obs (t REAL, label TEXT, color TEXT, x REAL, y REAL, z REAL, '
                 'cov BLOB)')
    base.execute('BEGIN')
    base.executemany('INSERT INTO obs VALUES (?, ?, ?, ?, ?, ?, ?)',
                     [(i / 300, 'cube', 'red', 0.1, 0.2, 0.3, b'\0' * 72)
                      for i in range(20000)])
    base.execute('COMMIT')
    per_row = base.execute('PRAGMA page_count').fetchone()[0] * \
        base.execute('PRAGMA page_size').fetchone()[0] / 20000
    base.close()
    grown = (size_live - size0) / 1e6
    base_mb = per_row * frames * 10 / 1e6
    line('growth while running (file + WAL)', grown, 'MB', '< 10', base_mb)
    line('file size after close', size_closed / 1e6, 'MB')
    line('ratio to one row per observation', grown / base_mb, 'x')
    line('ingest rate during the hour', frames * 10 / took, 'obs/s')
    print(f'  rows: {stats["spatial_tracks"]} tracks, {stats["temporal_events"]} events, '
          f'{stats["track_positions"]} position rows')
    out['growth'] = {'hours': args.growth_hours, 'observations': frames * 10,
                     'grown_mb': grown, 'closed_mb': size_closed / 1e6,
                     'baseline_mb': base_mb, 'events': stats['temporal_events'],
                     'tracks': stats['spatial_tracks']}


# ---------------------------------------------------------------------------- figures
def figures(out) -> list[Figure]:
    """The figure records of the sections that ran, each beside its same-run baseline."""
    figs = []
    if 'ingest' in out:
        i = out['ingest']
        figs.append(Figure('ingest, sustained (frames of 10, WAL, synchronous=FULL)',
                           i['obs_per_s'], 'obs/s', 'one commit per observation',
                           i['baseline_obs_per_s'], '>= 2000'))
        figs.append(Figure(f'acknowledgement wait p99, paced at {i["paced_rate"]:,.0f} obs/s',
                           i['paced_ack_p99_ms'], 'ms', target='<= 100'))
    if 'queries' in out:
        q = out['queries']
        for kind, scan in (('where', 'latest row by a full scan'),
                           ('when', 'latest move by a full scan of the log')):
            for pct_name in ('p99', 'p50'):
                figs.append(Figure(
                    f'{kind.upper()} query {pct_name}, {q["observations"]:,} observations',
                    q[kind][f'{pct_name}_ms'], 'ms', f'{scan}, {pct_name}',
                    q[kind][f'scan_{pct_name}_ms'], '<= 5' if pct_name == 'p99' else None,
                    headline=pct_name == 'p99'))
    full = out.get('ann', {}).get('full')
    if full:
        for r in full['rows']:
            where = f'{full["vectors"]:,} vectors, {full["backend"]} ef={r["ef"]}'
            figs.append(Figure(f'text top-10 p99, {where}', r['p99_ms'], 'ms',
                               'exact search, p99', full['exact_p99_ms'], '<= 5'))
            figs.append(Figure(f'text top-10 recall@10 against exact, {where}', r['recall10'],
                               '', target='>= 0.95'))
    if 'combined' in out:
        c = out['combined']
        for pct_name in ('p50', 'p99'):
            slowest = max(c['per_bank'], key=lambda b: c['per_bank'][b][f'{pct_name}_ms'])
            figs.append(Figure(f'four-bank recall (parallel) {pct_name}',
                               c['parallel'][f'{pct_name}_ms'], 'ms',
                               f'slowest bank alone ({slowest}), {pct_name}',
                               c['per_bank'][slowest][f'{pct_name}_ms'], 'ratio <= 1.3',
                               headline=pct_name == 'p50'))
    if 'growth' in out:
        g = out['growth']
        figs.append(Figure(f'store growth, {g["hours"]:g} h of 10 static objects at 30 Hz',
                           g['grown_mb'], 'MB', 'one row per observation', g['baseline_mb'],
                           '< 10' if g['hours'] == 1.0 else None))
    return figs


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    p.add_argument('--quick', action='store_true', help='small sizes: a smoke run')
    p.add_argument('--sections', default='ingest,queries,ann,combined,growth')
    p.add_argument('--observations', type=int, default=1_000_000)
    p.add_argument('--objects', type=int, default=200)
    p.add_argument('--queries', type=int, default=2000)
    p.add_argument('--ingest-seconds', type=float, default=20.0)
    p.add_argument('--ingest-rate', type=float, default=2000.0,
                   help='offered load of the paced ingest run, obs/s')
    p.add_argument('--vectors', type=int, default=1_000_000)
    p.add_argument('--ann-compare', type=int, default=100_000,
                   help='vectors for the library comparison (0: skip)')
    p.add_argument('--ann-queries', type=int, default=300)
    p.add_argument('--base-sentences', type=int, default=2000)
    p.add_argument('--backend', default=IndexConfig().backend, choices=BACKENDS)
    p.add_argument('--ann-m', type=int, default=IndexConfig().m)
    p.add_argument('--ann-ef-construction', type=int, default=IndexConfig().ef_construction)
    p.add_argument('--ef-search', type=int, nargs='+', default=[IndexConfig().ef_search])
    p.add_argument('--build-threads', type=int, default=2)
    p.add_argument('--combined-queries', type=int, default=200)
    p.add_argument('--growth-hours', type=float, default=1.0)
    p.add_argument('--tmp', default=None, help='folder for the benchmark files')
    p.add_argument('--json', default=None, help='also write the figures here')
    args = p.parse_args(argv)
    if args.quick:
        args.observations, args.queries, args.ingest_seconds = 20000, 300, 3.0
        args.vectors, args.ann_compare, args.ann_queries = 20000, 5000, 100
        args.base_sentences, args.combined_queries, args.growth_hours = 200, 50, 0.02
    sections = set(args.sections.split(','))
    out = {'args': vars(args), 'cpus': os.cpu_count(), 'loadavg_start': os.getloadavg()}
    print(f'{os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.1f} at start '
          '(other processes share these cores: tails include waiting for a core)')
    with tempfile.TemporaryDirectory(dir=args.tmp) as tmp:
        if 'ingest' in sections:
            bench_ingest(args, tmp, out)
        path = objs = None
        if 'queries' in sections or 'combined' in sections:
            path, objs = bench_queries(args, tmp, out)
        if 'ann' in sections:
            bench_ann(args, out)
        if 'combined' in sections:
            bench_combined(args, path, objs, out)
        if 'growth' in sections:
            bench_growth(args, tmp, out)
    out['loadavg_end'] = os.getloadavg()
    print(f'load average {os.getloadavg()[0]:.1f} at the end')
    if args.json:
        write_json(args.json, result_document('memory', figures(out), out))
    return 0


if __name__ == '__main__':
    sys.exit(main())
