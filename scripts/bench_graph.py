"""Benchmark of the node graph: camera image stamp -> action chunk that used it, and dropped
control cycles, with one OS process per node at a 10 Hz control rate.

Runs the main job's `action_expert` graph (sim bridge, preprocessor, memory, planner,
executor, action expert; shipped checkpoint unless --checkpoint) and plays episodes back to
back for --minutes of wall time. Prints:

- camera -> action chunk latency p50 / p95 / max (wall clock, from the moment the bridge
  published the image's simulated stamp on /clock to the chunk's arrival here);
- the baseline measured in the same run: the action expert's own inference time (the
  chunk's `inference_ms`: encoder + bank retrieval + every denoising step, no DDS), and the
  ratio of the two (what transport, synchronisation and scheduling add);
- control cycles: chunks published, frames deferred because inference was still busy (run
  as soon as it is free, on the newest frame), frames skipped (a second frame while one was
  already deferred: a dropped cycle), chunks dropped as late (from the action expert's stats
  lines), over the expected 10 Hz cycles.

    python scripts/bench_graph.py --minutes 10          # the issue's protocol
    python scripts/bench_graph.py --minutes 1 --json out.json

--json also writes the figures (memory_nodes.benchmarks records) beside the raw results.
"""

import argparse
from pathlib import Path
import sys
import time

import numpy as np

from memory_nodes.benchmarks import Figure, result_document, write_json
from memory_nodes.graph_session import GraphSession, action_expert_stats


def figures(result: dict) -> list[Figure]:
    """Camera -> chunk latency against inference alone (target p95 <= 60 ms), chunks
    published against the expected 10 Hz ticks, and the cycles lost (target: none dropped)."""
    e2e, infer, cycles = result['camera_to_chunk_ms'], result['inference_ms'], result['cycles']
    return [
        Figure('camera image -> action chunk p95', e2e['p95'], 'ms',
               'action expert inference alone, p95', infer['p95'], '<= 60'),
        Figure('camera image -> action chunk p50', e2e['p50'], 'ms',
               'action expert inference alone, p50', infer['p50']),
        Figure('camera image -> action chunk max', e2e['max'], 'ms', headline=False),
        Figure('action chunks published', cycles['chunks'], 'chunks', 'expected 10 Hz ticks',
               cycles['expected_10hz']),
        Figure('frames skipped (inference busy)', cycles['skipped_busy'], 'frames',
               headline=False),
        Figure('chunks dropped as late', cycles['dropped_late'], 'chunks', target='== 0'),
    ]


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--minutes', type=float, default=10.0)
    parser.add_argument('--task', default='put_back', help='task played back to back')
    parser.add_argument('--checkpoint', default='', help="'' = the shipped checkpoint")
    parser.add_argument('--out', default='runs/bench_graph')
    parser.add_argument('--json', default=None)
    args = parser.parse_args(argv)
    out = Path(args.out) / time.strftime('%Y%m%d-%H%M%S')
    overrides = {'sim_bridge': {'real_time_factor': 1.0},
                 'preprocessor': {'min_object_pixels': 5},
                 'action_expert': {'stats_period_s': 5.0}}
    if args.checkpoint:  # an empty value cannot be passed as a ROS parameter override
        overrides['action_expert']['checkpoint'] = args.checkpoint
    # the action_expert variant's graph, a fresh memory file in `out` (memory_nodes.graph_session)
    with GraphSession('action_expert', out, overrides) as session:
        t0 = time.monotonic()

        def remaining():
            return args.minutes * 60 - (time.monotonic() - t0)

        episodes = len(session.play([args.task], 9000, lambda: remaining() > 0,
                                    lambda task, seed: max(5.0, remaining()), label='bench'))
        wall = time.monotonic() - t0
        stages = {k: np.asarray(v) for k, v in session.orchestrator.latency.stages.items()}
    log = (out / 'action_expert.log').read_text(errors='replace')
    stats = action_expert_stats(log) or dict.fromkeys(('chunks', 'skipped_cycles',
                                                       'dropped_late', 'deferred_cycles'), 0)
    chunks, skipped, late, deferred = (stats['chunks'], stats['skipped_cycles'],
                                       stats['dropped_late'], stats['deferred_cycles'])
    e2e = stages.get('camera -> action chunk', np.zeros(0))
    infer = stages.get('action expert inference', np.zeros(0))
    if e2e.size == 0:
        print('no action chunks arrived: see the node logs in', out)
        return 1
    result = {
        'minutes': wall / 60, 'episodes': episodes, 'task': args.task,
        'camera_to_chunk_ms': {'p50': float(np.percentile(e2e, 50)),
                               'p95': float(np.percentile(e2e, 95)), 'max': float(e2e.max()),
                               'n': int(e2e.size)},
        'inference_ms': {'p50': float(np.percentile(infer, 50)),
                         'p95': float(np.percentile(infer, 95))},
        'ratio_p95_end_to_end_over_inference': float(np.percentile(e2e, 95)
                                                     / max(np.percentile(infer, 95), 1e-9)),
        'cycles': {'expected_10hz': int(wall * 10), 'chunks': chunks,
                   'deferred_busy': deferred, 'skipped_busy': skipped, 'dropped_late': late},
        'logs': str(out),
    }
    c = result['camera_to_chunk_ms']
    print(f'camera -> action chunk: p50 {c["p50"]:.1f} ms, p95 {c["p95"]:.1f} ms, '
          f'max {c["max"]:.1f} ms (n = {c["n"]}, {episodes} episodes, '
          f'{result["minutes"]:.1f} min)')
    i = result['inference_ms']
    print(f'baseline, inference alone (same run): p50 {i["p50"]:.1f} ms, p95 {i["p95"]:.1f} ms;'
          f' end-to-end / inference at p95: {result["ratio_p95_end_to_end_over_inference"]:.2f}')
    cy = result['cycles']
    print(f'control cycles: {cy["chunks"]} chunks for ~{cy["expected_10hz"]} expected ticks; '
          f'{cy["deferred_busy"]} deferred (inference busy, run when free), '
          f'{cy["skipped_busy"]} skipped, {cy["dropped_late"]} dropped late')
    if args.json:
        write_json(args.json, result_document('graph', figures(result), result))
    return 0


if __name__ == '__main__':
    sys.exit(main())
