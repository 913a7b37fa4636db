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
"""

import argparse
import json
import os
from pathlib import Path
import re
import sys
import time

import numpy as np

from memory_nodes.main_job import VARIANTS, Orchestrator
from memory_nodes.runner import StackProcesses
from memory_nodes.stack_description import load_stack

STATS = re.compile(r'stats: chunks=(\d+) skipped_cycles=(\d+) dropped_late=(\d+) '
                   r'deferred_cycles=(\d+)')


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--minutes', type=float, default=10.0)
    parser.add_argument('--task', default='put_back', help='task played back to back')
    parser.add_argument('--checkpoint', default='', help="'' = the shipped checkpoint")
    parser.add_argument('--out', default='runs/bench_graph')
    parser.add_argument('--json', default=None)
    args = parser.parse_args(argv)
    out = Path(args.out) / time.strftime('%Y%m%d-%H%M%S')
    os.environ.setdefault('ROS_AUTOMATIC_DISCOVERY_RANGE', 'LOCALHOST')
    nodes, overrides, _ = VARIANTS['action_expert']
    overrides = {k: dict(v) for k, v in overrides.items()}
    overrides['sim_bridge'] = {'real_time_factor': 1.0}
    overrides['preprocessor'] = {'min_object_pixels': 5}
    overrides['memory'] = {**overrides['memory'], 'store_path': str((out / 'memory.db')
                                                                    .resolve())}
    overrides['action_expert'] = {**overrides['action_expert'], 'stats_period_s': 5.0}
    if args.checkpoint:  # an empty value cannot be passed as a ROS parameter override
        overrides['action_expert']['checkpoint'] = args.checkpoint
    stack = StackProcesses(load_stack('sim'), only=nodes, extra_parameters=overrides,
                           log_dir=str(out))
    orchestrator = None
    episodes = 0
    try:
        stack.start()
        orchestrator = Orchestrator()
        orchestrator.wait_for_bridge()
        orchestrator.wait_for_graph(nodes)
        t0 = time.monotonic()
        while time.monotonic() - t0 < args.minutes * 60:
            remaining = args.minutes * 60 - (time.monotonic() - t0)
            orchestrator.run_episode(args.task, 9000 + episodes, 'bench',
                                     max(5.0, remaining))
            episodes += 1
        wall = time.monotonic() - t0
        stages = {k: np.asarray(v) for k, v in orchestrator.latency.stages.items()}
    finally:
        if orchestrator is not None:
            orchestrator.close()
        stack.stop()
    log = (out / 'action_expert.log').read_text(errors='replace')
    found = STATS.findall(log)
    chunks, skipped, late, deferred = (int(v) for v in found[-1]) if found else (0, 0, 0, 0)
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
        Path(args.json).write_text(json.dumps(result, indent=2))
    return 0


if __name__ == '__main__':
    sys.exit(main())
