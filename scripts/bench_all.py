#!/usr/bin/env python3
"""Run every benchmark of the project and write one JSON with all their figures.

    .venv/bin/python scripts/bench_all.py                  # the README's sizes (about 1 h)
    .venv/bin/python scripts/bench_all.py --quick          # small sizes: a smoke run (minutes)
    .venv/bin/python scripts/bench_all.py --only sim perception
    .venv/bin/python scripts/bench_all.py --skip graph --dry-run
    .venv/bin/python scripts/perf_table.py --readme README.md   # the README's table from it

Each benchmark runs as its own process (scripts/bench_<name>.py --json) with its output in
runs/bench/<time>/<name>.log and its figures in <name>.json; the action expert runs once on
the CPU and once more on CUDA when torch sees a GPU. The run's figures, each beside the
baseline measured in the same run, its target and whether it was met, go to
runs/bench/<time>/bench.json with the machine they ran on, and to a stable copy,
runs/bench/latest.json (latest-quick.json for --quick). Exit status 0 when every benchmark
produced its figures, 1 when one failed or timed out (the others still run and are kept).
docs/benchmarks.md describes the JSON and each figure.
"""

from __future__ import annotations

import argparse
from dataclasses import dataclass
from datetime import datetime, timezone
import os
from pathlib import Path
import shlex
import signal
import subprocess
import sys
import threading
import time

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from memory_nodes.benchmarks import (  # noqa: E402
    SCHEMA_VERSION,
    load_figures,
    machine_info,
    write_json,
)

ENVIRONMENT = {'MUJOCO_GL': 'egl', 'ROS_AUTOMATIC_DISCOVERY_RANGE': 'LOCALHOST',
               'HF_HUB_OFFLINE': '1', 'TRANSFORMERS_OFFLINE': '1'}


@dataclass(frozen=True)
class Run:
    """One benchmark process: its name (the log and JSON file stem) and its arguments."""

    name: str
    script: str
    args: tuple[str, ...]


def plan(benchmark: str, quick: bool, run_dir: Path, cuda: bool) -> list[Run]:
    """The processes of one benchmark at the full (README) sizes or the quick ones."""
    if benchmark == 'memory':
        return [Run('memory', 'bench_memory.py', ('--quick',) if quick else ())]
    if benchmark == 'models':
        runs = [Run('models', 'bench_models.py', ('--repeats', '20') if quick else ())]
        if cuda:
            runs.append(Run('models-cuda', 'bench_models.py',
                            ('--device', 'cuda', '--repeats', '20', '--big-batch', '32')
                            if quick else ('--device', 'cuda')))
        return runs
    if benchmark == 'graph':
        return [Run('graph', 'bench_graph.py', ('--minutes', '0.3' if quick else '10',
                                                '--out', str(run_dir / 'graph')))]
    if benchmark == 'perception':
        return [Run('perception', 'bench_perception.py',
                    ('--sizes', '128x96', '--frames', '20', '--configs', 'open3d', 'numpy')
                    if quick else ('--sizes', '128x128', '320x240', '640x480',
                                   '--frames', '100'))]
    if benchmark == 'sim':
        return [Run('sim', 'bench_sim.py', ('--steps', '30', '--tasks', 'shell_game',
                                            '--sizes', '64') if quick else ())]
    raise ValueError(f'unknown benchmark {benchmark!r}')


BENCHMARKS = ('memory', 'models', 'graph', 'perception', 'sim')


def _pump(stream, log, prefix: str, echo: bool) -> None:
    for line in stream:
        log.write(line)
        log.flush()
        if echo:
            sys.stdout.write(f'[{prefix}] {line}')
            sys.stdout.flush()


def _stop(proc: subprocess.Popen, grace_s: float = 30.0) -> None:
    """SIGINT to the benchmark's process group (bench_graph then stops its node processes),
    SIGKILL to the group if it is still there after ``grace_s``."""
    for sig, wait in ((signal.SIGINT, grace_s), (signal.SIGKILL, 10.0)):
        try:
            os.killpg(proc.pid, sig)
        except ProcessLookupError:
            return
        try:
            proc.wait(wait)
            return
        except subprocess.TimeoutExpired:
            continue


def execute(run: Run, run_dir: Path, python: str, timeout_s: float | None,
            echo: bool) -> dict:
    """Run one benchmark process; returns its record (status, exit code, wall time, files)."""
    json_path = run_dir / f'{run.name}.json'
    log_path = run_dir / f'{run.name}.log'
    argv = [python, str(ROOT / 'scripts' / run.script), *run.args, '--json', str(json_path)]
    env = {**os.environ, 'PYTHONUNBUFFERED': '1'}
    for key, value in ENVIRONMENT.items():
        env.setdefault(key, value)
    record = {'name': run.name, 'command': shlex.join(argv), 'json': json_path.name,
              'log': log_path.name, 'status': None, 'returncode': None, 'wall_s': None,
              'error': None}
    start = time.monotonic()
    with open(log_path, 'w') as log:
        log.write(f'$ {record["command"]}\n')
        proc = subprocess.Popen(argv, cwd=ROOT, env=env, stdout=subprocess.PIPE,
                                stderr=subprocess.STDOUT, text=True, errors='replace',
                                start_new_session=True)
        pump = threading.Thread(target=_pump, args=(proc.stdout, log, run.name, echo),
                                daemon=True)
        pump.start()
        try:
            proc.wait(timeout_s)
            timed_out = False
        except subprocess.TimeoutExpired:
            timed_out = True
            _stop(proc)
        except KeyboardInterrupt:
            _stop(proc)
            raise
        pump.join(10.0)
    record['wall_s'] = round(time.monotonic() - start, 1)
    record['returncode'] = proc.returncode
    if timed_out:
        record['status'] = 'timeout'
        record['error'] = f'stopped after --timeout-s {timeout_s:g} s'
    elif proc.returncode != 0:
        record['status'] = 'failed'
        record['error'] = f'exit status {proc.returncode}; see {log_path.name}'
    else:
        try:
            record['figures'] = [f.to_dict() for f in load_figures(json_path)]
            record['status'] = 'ok'
        except (OSError, ValueError) as err:
            record['status'] = 'failed'
            record['error'] = f'no figures: {err}'
    return record


def parse_names(parser, option: str, names: list[str] | None) -> list[str]:
    for name in names or []:
        if name not in BENCHMARKS:
            parser.error(f'{option} {name!r}: not a benchmark; choose from '
                         f'{", ".join(BENCHMARKS)}')
    return names or []


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    p.add_argument('--quick', action='store_true', help='small sizes: a smoke run (minutes)')
    p.add_argument('--only', nargs='+', metavar='NAME', help=f'run only these: {BENCHMARKS}')
    p.add_argument('--skip', nargs='+', metavar='NAME', help='run all but these')
    p.add_argument('--out', type=Path, default=ROOT / 'runs' / 'bench',
                   help='runs go to OUT/<time>/, the stable copy to OUT/latest.json')
    p.add_argument('--timeout-s', type=float, default=None,
                   help='stop a benchmark process after this many seconds (default: none)')
    p.add_argument('--python', default=sys.executable, help='interpreter for the benchmarks')
    p.add_argument('--quiet', action='store_true', help="do not echo the benchmarks' output")
    p.add_argument('--dry-run', action='store_true', help='print the commands, run nothing')
    args = p.parse_args(argv)
    only, skip = parse_names(p, '--only', args.only), parse_names(p, '--skip', args.skip)
    if args.timeout_s is not None and args.timeout_s <= 0:
        p.error(f'--timeout-s is {args.timeout_s:g}; use a positive number of seconds')
    selected = [b for b in BENCHMARKS if (not only or b in only) and b not in skip]
    if not selected:
        p.error('--only / --skip leave no benchmark to run')

    machine = machine_info()
    stamp = time.strftime('%Y%m%d-%H%M%S')
    run_dir = args.out / stamp
    suffix = 1
    while run_dir.exists():
        run_dir, suffix = args.out / f'{stamp}-{suffix}', suffix + 1
    runs = {b: plan(b, args.quick, run_dir, bool(machine['torch_cuda'])) for b in selected}
    if args.dry_run:
        for b, rs in runs.items():
            for r in rs:
                print(f'{b}: {shlex.join([args.python, "scripts/" + r.script, *r.args])}')
        return 0
    run_dir.mkdir(parents=True)
    mode = 'quick' if args.quick else 'full'
    print(f'bench_all ({mode}): {", ".join(selected)} -> {run_dir}', flush=True)
    doc = {'schema': SCHEMA_VERSION, 'mode': mode, 'command': sys.argv[1:] if argv is None
           else argv, 'run_dir': str(run_dir), 'machine': machine,
           'started': machine['date'], 'benchmarks': {},
           'not_run': [b for b in BENCHMARKS if b not in selected]}
    start = time.monotonic()
    for benchmark, bench_runs in runs.items():
        records = [execute(r, run_dir, args.python, args.timeout_s, not args.quiet)
                   for r in bench_runs]
        figures = [f for r in records for f in r.pop('figures', [])]
        ok = all(r['status'] == 'ok' for r in records)
        doc['benchmarks'][benchmark] = {'status': 'ok' if ok else 'failed', 'runs': records,
                                        'figures': figures}
        for r in records:
            print(f'bench_all: {r["name"]}: {r["status"]} in {r["wall_s"]:.0f} s'
                  + (f' ({r["error"]})' if r['error'] else ''), flush=True)
        doc['wall_s'] = round(time.monotonic() - start, 1)
        write_json(run_dir / 'bench.json', doc)   # after each benchmark: a crash keeps these
    doc['finished'] = datetime.now(timezone.utc).isoformat(timespec='seconds')
    doc['loadavg_end'] = [round(x, 2) for x in os.getloadavg()]
    write_json(run_dir / 'bench.json', doc)
    latest = args.out / ('latest-quick.json' if args.quick else 'latest.json')
    write_json(latest, doc)
    failed = [b for b, v in doc['benchmarks'].items() if v['status'] != 'ok']
    print(f'bench_all: {len(selected) - len(failed)} of {len(selected)} benchmarks ok in '
          f'{doc["wall_s"]:.0f} s; {run_dir / "bench.json"} (copy: {latest})'
          + (f'; failed: {", ".join(failed)}' if failed else ''), flush=True)
    return 1 if failed else 0


if __name__ == '__main__':
    sys.exit(main())
