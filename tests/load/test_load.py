"""The load test, short: scripts/load_test.py for 2 simulated minutes of the whole graph
(action expert included) at 640x480, 30 Hz camera and 10 Hz scene clouds (real processes,
MuJoCo, SQLite). Slow: about 9 wall minutes on 2 cores (the 30-minute run is docs/load.md's
command)."""

import json
import os
from pathlib import Path
import subprocess
import sys

import pytest

pytest.importorskip('rclpy')
pytest.importorskip('memory_interfaces.msg')
pytest.importorskip('psutil')
pytest.importorskip('matplotlib')

ROOT = Path(__file__).resolve().parents[2]
SIM_MINUTES = 2.0
RSS_BOUND_MB_PER_H = 3000.0  # generous: a short run still carries start-up growth


@pytest.mark.slow
def test_short_load_run(tmp_path):
    argv = [sys.executable, 'scripts/load_test.py', '--sim-minutes', str(SIM_MINUTES),
            '--sample-s', '5', '--out', str(tmp_path),
            '--rss-limit-mb-per-h', str(RSS_BOUND_MB_PER_H)]
    env = dict(os.environ, PYTHONUNBUFFERED='1')
    done = subprocess.run(argv, cwd=ROOT, env=env, capture_output=True, text=True,
                          timeout=2400)
    runs = sorted(tmp_path.iterdir())
    assert len(runs) == 1, done.stdout[-3000:] + done.stderr[-3000:]
    run = runs[0]
    result = json.loads((run / 'load.json').read_text())
    for png in ('rss.png', 'store.png'):
        assert (run / png).stat().st_size > 10_000, png
    assert result['sim_minutes'] >= SIM_MINUTES
    assert result['checks']['no_node_crashed'], result['exit_codes']
    assert result['checks']['alone_on_ros_domain'], result['foreign_nodes_at_end']
    reliable = result['figures']['reliable']
    for topic, r in reliable.items():
        assert r['ok'], f'{topic}: sent {r["sent"]}, taken {r["received"]}'
    assert reliable['/perception/objects']['sent'] > 100
    assert reliable['/sim/ee_target']['sent'] > 0 and reliable['/memory/events']['sent'] > 0
    for node, growth in result['figures']['rss_mb'].items():
        assert growth['slope_per_hour'] is not None and \
            growth['slope_per_hour'] < RSS_BOUND_MB_PER_H, (node, growth)
    # the rates asked for: 30 frames and at most 10 clouds per simulated second
    sim_s = result['sim_minutes'] * 60
    perception, control = result['figures']['perception'], result['figures']['control']
    assert control['bridge_frames'] >= 25 * sim_s * 0.9
    assert 0 < perception['clouds_published'] <= 10 * sim_s + 5
    assert perception['clouds_ingested'] >= 0.8 * perception['clouds_published']
    assert control['executor_cycles'] > 0 and control['executor_missed_cycles'] is not None
    # the action expert runs by default: its chunks reach the executor, none dropped late
    assert reliable['/action_expert/chunk']['sent'] > 100
    assert control['action_expert']['chunks'] > 100
    samples = result['samples']
    assert len(samples) >= 10 and samples[-1]['memory_stats']['temporal_events'] > 0
    assert done.returncode == (0 if result['ok'] else 1), done.stdout[-3000:]
