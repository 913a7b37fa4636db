"""The main job drives a memory task through the node graph (separate OS processes)."""

import json
import subprocess
import sys

import pytest

pytest.importorskip('rclpy')
pytestmark = pytest.mark.ros


def test_main_job_runs_an_episode_through_the_graph(tmp_path):
    out = tmp_path / 'run'
    result = subprocess.run(
        [sys.executable, '-m', 'memory_nodes.main_job', '--tasks', 'count', '--episodes', '1',
         '--real-time-factor', '4', '--out', str(out)],
        capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    assert '| count |' in result.stdout
    results = json.loads((out / 'results.json').read_text())
    (row,) = results['rows']
    assert row['task'] == 'count'
    assert row['scripted_expert']['episodes'] == 1
    assert row['scripted_expert']['successes'] == 1
    stage = results['latency']['camera -> object observations']
    assert stage['n'] > 10 and 0 < stage['p50_ms'] < 1000
    for node in ('sim_bridge', 'preprocessor', 'executor'):
        assert (out / 'scripted_expert' / f'{node}.log').is_file()


def test_main_job_refuses_variants_it_cannot_run(tmp_path):
    result = subprocess.run(
        [sys.executable, '-m', 'memory_nodes.main_job', '--variants', 'full_stack',
         '--out', str(tmp_path)], capture_output=True, text=True, timeout=120)
    assert result.returncode == 2
    assert "variants ['full_stack'] cannot run yet" in result.stderr
