"""scripts/perf_table.py: a bench_all.py JSON rendered as the README's table, written between
the markers of a copy of the real README with everything outside left byte for byte."""

import json
from pathlib import Path
import subprocess
import sys

import pytest

from memory_nodes.benchmarks import Figure
from tests.script_loader import load_script

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = ROOT / 'scripts' / 'perf_table.py'
perf_table = load_script('perf_table')


def fixture_doc():
    """A small bench_all.py document: two benchmarks measured, one failed, one not run."""
    memory = [Figure('ingest, sustained', 33170.4, 'obs/s', 'one commit per observation',
                     6950.0, '>= 2000'),
              Figure('WHERE query p99', 0.168, 'ms', 'full scan, p99', 409.0, '<= 5'),
              Figure('WHERE query p50', 0.061, 'ms', 'full scan, p50', 99.3, headline=False),
              Figure('four-bank recall p50', 39.0, 'ms', 'slowest bank | semantic', 31.6,
                     'ratio <= 1.3'),
              Figure('recall@10', 0.74, '', target='>= 0.95')]
    models = [Figure('one action chunk p50', 12.0, 'ms', 'DP-shaped U-Net p50', 26.3, '<= 25')]
    return {
        'schema': 1, 'mode': 'full', 'wall_s': 3600.0, 'not_run': ['sim'],
        'machine': {'cpu': 'AMD EPYC', 'cores_logical': 2, 'ram_gb': 23.5, 'gpu': None,
                    'os': 'Linux-6.18', 'python': '3.11.7',
                    'versions': {'torch': '2.13.0+cpu', 'rclpy': '9.1.2', 'mujoco': '4.0.0'},
                    'git_commit': 'abcdef1234567890abcdef1234567890abcdef12', 'git_dirty': False,
                    'date': '2026-12-01T18:55:49+00:00', 'loadavg': [0.4, 0.5, 0.6]},
        'benchmarks': {
            'memory': {'status': 'ok', 'figures': [f.to_dict() for f in memory],
                       'runs': [{'name': 'memory', 'status': 'ok', 'error': None}]},
            'models': {'status': 'ok', 'figures': [f.to_dict() for f in models],
                       'runs': [{'name': 'models', 'status': 'ok', 'error': None}]},
            'graph': {'status': 'failed', 'figures': [],
                      'runs': [{'name': 'graph', 'status': 'failed',
                                'error': 'exit status 1; see graph.log'}]},
        },
    }


def run_script(*args):
    return subprocess.run([sys.executable, str(SCRIPT), *map(str, args)], capture_output=True,
                          text=True, timeout=60)


def test_table_rows_baselines_targets_and_machine_line():
    table = perf_table.render(fixture_doc())
    lines = table.splitlines()
    assert lines[0] == ('| benchmark | figure | value | baseline (same run) | ratio | target '
                        '| met |')
    assert ('| memory | ingest, sustained | 33,170 obs/s | one commit per observation: 6,950 '
            'obs/s | 4.77 | >= 2000 obs/s | yes |') in lines
    assert ('| memory | WHERE query p99 | 0.168 ms | full scan, p99: 409 ms | 0.000411 | <= 5 ms'
            ' | yes |') in lines
    # a '|' inside a name is escaped; a ratio target is shown as such; a missed one stands out
    assert ('| memory | four-bank recall p50 | 39 ms | slowest bank \\| semantic: 31.6 ms | '
            '1.23 | ratio <= 1.3 | yes |') in lines
    assert '| memory | recall@10 | 0.74 |  |  | >= 0.95 | **no** |' in lines
    assert not any('WHERE query p50' in line for line in lines)      # not a headline figure
    assert '| graph | not measured: graph failed (exit status 1; see graph.log) | | | | | |' \
        in lines
    assert '| sim | not run | | | | | |' in lines
    assert lines[-1].startswith('Measured by `scripts/bench_all.py` on 2026-12-01 (took 60 min)'
                                ': AMD EPYC, 2 cores, 23.5 GB RAM, GPU none;')
    assert 'commit abcdef1234;' in lines[-1] and 'mujoco 4.0.0' in lines[-1]
    assert any('WHERE query p50' in line for line in perf_table.render(fixture_doc(), True)
               .splitlines())


def readme_copy(tmp_path):
    """The real README with its table between the markers made stale (markers put under
    '## Benchmarks' first if it has none)."""
    text = (ROOT / 'README.md').read_text()
    if perf_table.BEGIN not in text:
        heading = '## Benchmarks\n'
        assert heading in text
        head, tail = text.split(heading, 1)
        text = head + heading + '\n' + perf_table.BEGIN + '\n' + perf_table.END + '\n' + tail
    head, rest = text.split(perf_table.BEGIN, 1)
    tail = rest.split(perf_table.END, 1)[1]
    path = tmp_path / 'README.md'
    path.write_text(head + perf_table.BEGIN + '\n| stale | table |\n' + perf_table.END + tail)
    return path, head, tail


def test_readme_block_replaced_and_everything_else_untouched(tmp_path):
    path, before, after = readme_copy(tmp_path)
    bench = tmp_path / 'bench.json'
    bench.write_text(json.dumps(fixture_doc()))
    res = run_script(bench, '--readme', path)
    assert res.returncode == 0, res.stderr
    text = path.read_text()
    begin = text.index(perf_table.BEGIN)
    end = text.index(perf_table.END) + len(perf_table.END)
    assert text[:begin] == before                  # byte for byte
    assert text[end:] == after
    inside = text[begin + len(perf_table.BEGIN):text.index(perf_table.END)]
    assert inside == '\n' + perf_table.render(fixture_doc()) + '\n'
    assert '| stale | table |' not in text
    assert run_script(bench, '--readme', path).returncode == 0
    assert path.read_text() == text               # a second run changes nothing


@pytest.mark.parametrize('markers, message', [
    ('', "perf-table:begin -->' found 0 times"),
    ('{b}\n{e}\n{b}\n{e}\n', 'found 2 times'),
    ('{e}\n| x |\n{b}\n', 'comes before'),
])
def test_bad_markers_are_a_clear_error_and_leave_the_file(tmp_path, markers, message):
    path = tmp_path / 'README.md'
    original = '# Title\n\n' + markers.format(b=perf_table.BEGIN, e=perf_table.END) + 'end\n'
    path.write_text(original)
    bench = tmp_path / 'bench.json'
    bench.write_text(json.dumps(fixture_doc()))
    res = run_script(bench, '--readme', path)
    assert res.returncode == 2
    assert message in res.stderr and str(path) in res.stderr
    assert path.read_text() == original


def test_bad_json_is_a_clear_error(tmp_path):
    doc = fixture_doc()
    doc['benchmarks']['models']['figures'][0]['met'] = False   # 12 ms <= 25 ms: met
    bench = tmp_path / 'bench.json'
    bench.write_text(json.dumps(doc))
    res = run_script(bench)
    assert res.returncode == 2
    assert 'one action chunk p50' in res.stderr and 'met False does not follow' in res.stderr
    bench.write_text('{"figures": []}')
    res = run_script(bench)
    assert res.returncode == 2 and 'no "machine" object' in res.stderr
    res = run_script(tmp_path / 'missing.json')
    assert res.returncode == 2 and 'missing.json' in res.stderr
