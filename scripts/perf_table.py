#!/usr/bin/env python3
"""Render a bench_all.py JSON as the README's performance table.

    .venv/bin/python scripts/perf_table.py                          # print the table
    .venv/bin/python scripts/perf_table.py --readme README.md       # replace it in the README
    .venv/bin/python scripts/perf_table.py runs/bench/20261201-120000/bench.json --all

The table (benchmark, figure, value, baseline measured in the same run, ratio = value /
baseline, target, met) lists the headline figures (--all: every figure) and ends with a line
naming the machine, the date and the commit. --readme replaces what lies between the lines
`<!-- perf-table:begin -->` and `<!-- perf-table:end -->` and leaves the rest of the file
byte for byte as it was; missing, repeated or misordered markers are an error (status 2).
"""

from __future__ import annotations

import argparse
import json
import os
from pathlib import Path
import sys

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from memory_nodes.benchmarks import Figure  # noqa: E402

BEGIN = '<!-- perf-table:begin -->'
END = '<!-- perf-table:end -->'
HEADER = ('| benchmark | figure | value | baseline (same run) | ratio | target | met |\n'
          '| --- | --- | --- | --- | --- | --- | --- |')


def fmt(x: float) -> str:
    """Whole numbers with thousands separators; otherwise about three significant digits."""
    size = abs(x)
    if size >= 100 or float(x).is_integer():
        return f'{x:,.0f}'
    if size >= 10:
        return f'{x:.1f}'
    if size >= 1:
        return f'{x:.2f}'
    return f'{x:.3g}'


def _cell(text: str) -> str:
    return text.replace('|', '\\|').replace('\n', ' ')


def _quantity(value: float, unit: str) -> str:
    return f'{fmt(value)} {unit}'.strip()


def figure_row(benchmark: str, fig: Figure) -> str:
    baseline = ('' if fig.baseline_name is None else
                f'{fig.baseline_name}: {_quantity(fig.baseline_value, fig.unit)}')
    ratio = '' if fig.ratio is None else fmt(fig.ratio)
    if fig.target is None:
        target = ''
    elif fig.target.startswith('ratio'):
        target = fig.target
    else:
        target = f'{fig.target} {fig.unit}'.strip()
    met = {None: '', True: 'yes', False: '**no**'}[fig.met]
    cells = (benchmark, fig.name, _quantity(fig.value, fig.unit), baseline, ratio, target, met)
    return '| ' + ' | '.join(_cell(c) for c in cells) + ' |'


def machine_line(doc: dict) -> str:
    m = doc['machine']
    v = m.get('versions', {})
    commit = (m.get('git_commit') or 'unknown')[:10]
    dirty = ' with uncommitted changes' if m.get('git_dirty') else ''
    load = m.get('loadavg') or [None]
    how = 'bench_all.py --quick (small sizes, not the README figures)' \
        if doc.get('mode') == 'quick' else 'bench_all.py'
    wall = doc.get('wall_s') or 0
    took = f'{wall / 60:.0f} min' if wall >= 120 else f'{wall:.0f} s'
    return (f'Measured by `scripts/{how}` on {str(m.get("date", "?"))[:10]} '
            f'(took {took}): {m.get("cpu")}, '
            f'{m.get("cores_logical")} cores, {m.get("ram_gb")} GB RAM, GPU '
            f'{m.get("gpu") or "none"}; {m.get("os")}; Python {m.get("python")}, torch '
            f'{v.get("torch")}, rclpy {v.get("rclpy")}, mujoco {v.get("mujoco")}; commit '
            f'{commit}{dirty}; load average {load[0]} at the start. Ratio = value / baseline.')


def load(path: Path) -> dict:
    """A bench_all.py JSON, with each figure checked (a clear error names what is wrong)."""
    try:
        doc = json.loads(Path(path).read_text())
    except (OSError, json.JSONDecodeError) as err:
        raise ValueError(f'{path}: cannot read a bench JSON: {err}') from None
    for key in ('machine', 'benchmarks'):
        if not isinstance(doc, dict) or not isinstance(doc.get(key), dict):
            raise ValueError(f'{path}: no "{key}" object (not written by scripts/bench_all.py?)')
    return doc


def render(doc: dict, all_figures: bool = False) -> str:
    """The markdown table and the machine line for one bench_all.py JSON."""
    rows = [HEADER]
    for name, bench in doc['benchmarks'].items():
        figures = [Figure.from_dict(f) for f in bench.get('figures', [])]
        shown = [f for f in figures if all_figures or f.headline]
        rows += [figure_row(name, f) for f in shown]
        for run in bench.get('runs', []):
            if run.get('status') != 'ok':
                rows.append(f'| {name} | not measured: {run.get("name")} {run.get("status")} '
                            f'({_cell(str(run.get("error")))}) | | | | | |')
    for name in doc.get('not_run', []):
        rows.append(f'| {name} | not run | | | | | |')
    return '\n'.join(rows) + '\n\n' + machine_line(doc)


def replace_block(text: str, block: str, where: str = 'README') -> str:
    """``text`` with what lies between the begin and end markers replaced by ``block``."""
    for marker in (BEGIN, END):
        count = text.count(marker)
        if count != 1:
            raise ValueError(f'{where}: marker {marker!r} found {count} times; expected once '
                             f'(put {BEGIN!r} and {END!r} on their own lines around the table)')
    begin = text.index(BEGIN) + len(BEGIN)
    end = text.index(END)
    if end < begin:
        raise ValueError(f'{where}: {END!r} comes before {BEGIN!r}')
    return text[:begin] + '\n' + block + '\n' + text[end:]


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    p.add_argument('json', nargs='?', type=Path, default=ROOT / 'runs' / 'bench' / 'latest.json',
                   help='a bench_all.py JSON (default: runs/bench/latest.json)')
    p.add_argument('--readme', type=Path, help='replace the table between the markers here')
    p.add_argument('--all', action='store_true', help='every figure, not only the headline')
    args = p.parse_args(argv)
    try:
        table = render(load(args.json), args.all)
        if args.readme is None:
            print(table)
            return 0
        try:
            text = args.readme.read_text()
        except OSError as err:
            raise ValueError(f'--readme {args.readme}: {err}') from None
        new = replace_block(text, table, str(args.readme))
    except ValueError as err:
        print(f'perf_table: error: {err}', file=sys.stderr)
        return 2
    tmp = args.readme.with_name(args.readme.name + '.tmp')
    tmp.write_text(new)
    os.replace(tmp, args.readme)
    rows = sum(line.startswith('| ') for line in table.splitlines()) - 1
    print(f'perf_table: wrote the table ({rows} rows) into {args.readme}')
    return 0


if __name__ == '__main__':
    sys.exit(main())
