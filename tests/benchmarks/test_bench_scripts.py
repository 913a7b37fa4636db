"""The benchmark scripts really run at their smallest sizes and write figure records with
their same-run baselines; bench_all.py gathers them into one JSON (bench.json + the stable
copy), records a benchmark that fails or runs too long, and its quick mode runs end to end."""

import json
from pathlib import Path
import subprocess
import sys

import pytest

from memory_nodes.benchmarks import Figure, load_figures
from tests.script_loader import load_script

ROOT = Path(__file__).resolve().parents[2]
SCRIPTS = ROOT / 'scripts'


def run(script, *args, timeout=300):
    res = subprocess.run([sys.executable, str(SCRIPTS / script), *map(str, args)], cwd=ROOT,
                         capture_output=True, text=True, timeout=timeout)
    assert res.returncode == 0, res.stdout[-2000:] + res.stderr[-3000:]
    return res


def by_name(figures):
    return {f.name: f for f in figures}


def test_bench_sim_json(tmp_path):
    out = tmp_path / 'sim.json'
    run('bench_sim.py', '--steps', '10', '--tasks', 'shell_game', '--sizes', '32', '--json', out)
    doc = json.loads(out.read_text())
    figs = by_name(load_figures(out))
    plain = figs['shell_game: env control steps/s, no rendering']
    assert plain.baseline_name.startswith('bare mj_step') and plain.value > 0
    assert plain.baseline_value == pytest.approx(doc['tasks']['shell_game']['bare_mj_step'])
    assert plain.ratio == pytest.approx(plain.value / plain.baseline_value)
    rendered = figs['shell_game: env control steps/s, scene + wrist RGB 32x32']
    assert rendered.baseline_value == plain.value and rendered.value > 0
    # (no assertion on which is faster: a few steps on a shared machine are too noisy)
    frame = figs['one 320x240 scene frame']
    assert frame.unit == 'ms' and frame.baseline_name == 'one 128x96 scene frame'
    assert doc['machine']['versions']['mujoco'] and doc['benchmark'] == 'sim'


def test_bench_perception_json(tmp_path):
    out = tmp_path / 'perception.json'
    run('bench_perception.py', '--sizes', '64x48', '--frames', '10', '--configs', 'open3d',
        'numpy', 'open3d-no-voxel', '--json', out)
    doc = json.loads(out.read_text())
    figs = by_name(load_figures(out))
    totals = {c: v['stages_ms']['total'] for c, v in doc['sizes']['64x48'].items()}
    p50 = figs['64x48 preprocessor frame total p50, open3d config']
    assert p50.headline and p50.value == totals['open3d'][0] > 0
    assert p50.baseline_name == 'numpy config, total p50'
    assert p50.baseline_value == totals['numpy'][0]
    p95 = figs['64x48 preprocessor frame total p95, open3d config']
    assert not p95.headline and p95.value >= p50.value
    other = figs['64x48 preprocessor frame total p50, open3d-no-voxel config']
    assert other.baseline_value == p50.value


def test_bench_memory_json_small_sections(tmp_path):
    out = tmp_path / 'memory.json'
    run('bench_memory.py', '--sections', 'ingest,growth', '--ingest-seconds', '1',
        '--growth-hours', '0.003', '--tmp', tmp_path, '--json', out)
    figs = by_name(load_figures(out))
    ingest = figs['ingest, sustained (frames of 10, WAL, synchronous=FULL)']
    assert ingest.value > 0 and ingest.baseline_name == 'one commit per observation'
    assert ingest.target == '>= 2000'
    growth = figs['store growth, 0.003 h of 10 static objects at 30 Hz']
    assert growth.target is None            # the < 10 MB target is for one hour
    assert growth.baseline_value > growth.value >= 0


def test_bench_models_figures_for_cpu_and_cuda_results():
    """The mapping from bench_models' result rows (as its CPU and CUDA runs name them) to
    figures; the CUDA rows cannot be measured on a machine without a GPU."""
    bench_models = load_script('bench_models')
    eager = {'shipped model, batch 1, eager': {'p50_ms': 12.0, 'p95_ms': 15.0},
             'DP-shaped baseline, batch 1, eager': {'p50_ms': 26.3, 'p95_ms': 30.0}}
    cpu = by_name(bench_models.figures(eager, 'cpu', 2, 256))
    assert cpu['one action chunk p50, batch 1 (CPU, 2 threads)'].met is True
    assert by_name(bench_models.figures(eager, 'cpu', 4, 256))[
        'one action chunk p50, batch 1 (CPU, 4 threads)'].target is None
    cuda_rows = {**eager,
                 'shipped model, batch 1, CUDA graph': {'p50_ms': 2.0, 'p95_ms': 2.5},
                 'DP-shaped baseline, batch 1, CUDA graph': {'p50_ms': 2.5, 'p95_ms': 3.0},
                 'shipped model, batch 32, CUDA graph': {'p50_ms': 4.0, 'p95_ms': 5.0,
                                                         'chunks_per_s': 8000.0}}
    cuda = by_name(bench_models.figures(cuda_rows, 'cuda', 2, 32))
    assert cuda['one action chunk p50, batch 1, CUDA graph'].met is True
    throughput = cuda['action chunks per second, batch 32, CUDA graph']
    assert throughput.baseline_value == pytest.approx(500.0) and throughput.ratio == 16.0


def test_bench_models_baseline_has_neither_bank_nor_pointer():
    """The Diffusion-Policy-shaped baseline is built from the shipped config (here one with
    a goal pointer reading the bank and the bank's recurrent summary) without the memory
    bank, its summary and the pointer."""
    from models.config import PolicyConfig

    bench_models = load_script('bench_models')
    cfg = PolicyConfig(memory=dict(goal_pointer=True, pointer_query='retrieved',
                                   recurrent=True),
                       train=dict(pointer_loss_weight=1.0))
    base = bench_models.baseline_config(cfg, 1_000_000)
    assert not base.memory.enabled and not base.memory.goal_pointer
    assert not base.memory.recurrent
    assert base.denoiser.kind == 'unet' and base.train.pointer_loss_weight == 0.0


def bench_all(tmp_path, *args, timeout=300):
    return subprocess.run([sys.executable, str(SCRIPTS / 'bench_all.py'), '--out', tmp_path,
                           '--quiet', *args], cwd=ROOT, capture_output=True, text=True,
                          timeout=timeout)


def test_bench_all_quick_one_benchmark(tmp_path):
    res = bench_all(tmp_path, '--quick', '--only', 'sim')
    assert res.returncode == 0, res.stdout + res.stderr
    latest = json.loads((tmp_path / 'latest-quick.json').read_text())
    run_dir = Path(latest['run_dir'])
    assert json.loads((run_dir / 'bench.json').read_text()) == latest
    assert latest['mode'] == 'quick' and list(latest['benchmarks']) == ['sim']
    assert latest['not_run'] == ['memory', 'models', 'graph', 'perception']
    assert latest['machine']['cores_logical'] >= 1
    sim = latest['benchmarks']['sim']
    assert sim['status'] == 'ok' and sim['runs'][0]['returncode'] == 0
    assert [Figure.from_dict(f).name for f in sim['figures']][0] == \
        'shell_game: env control steps/s, no rendering'
    assert 'control step = 0.1 s simulated' in (run_dir / 'sim.log').read_text()
    assert not (tmp_path / 'latest.json').exists()      # a quick run is not the full one
    table = subprocess.run([sys.executable, str(SCRIPTS / 'perf_table.py'),
                            tmp_path / 'latest-quick.json'], capture_output=True, text=True)
    assert '| sim | shell_game: env control steps/s, no rendering |' in table.stdout
    assert '| graph | not run |' in table.stdout


def test_bench_all_records_a_benchmark_that_runs_too_long(tmp_path):
    res = bench_all(tmp_path, '--only', 'sim', '--timeout-s', '1')
    assert res.returncode == 1
    doc = json.loads((tmp_path / 'latest.json').read_text())
    record = doc['benchmarks']['sim']['runs'][0]
    assert record['status'] == 'timeout' and 'timeout-s 1' in record['error']
    assert doc['benchmarks']['sim']['status'] == 'failed'
    assert doc['benchmarks']['sim']['figures'] == []
    assert 'failed: sim' in res.stdout


def test_bench_all_rejects_unknown_names(tmp_path):
    res = bench_all(tmp_path, '--skip', 'simulation')
    assert res.returncode == 2 and "--skip 'simulation': not a benchmark" in res.stderr
    res = bench_all(tmp_path, '--only', 'sim', '--skip', 'sim')
    assert res.returncode == 2 and 'leave no benchmark' in res.stderr
    assert not any(tmp_path.iterdir())


@pytest.mark.slow
def test_bench_all_quick_end_to_end(tmp_path):
    """Every benchmark at its quick sizes, the whole graph included (a few minutes)."""
    res = bench_all(tmp_path, '--quick', '--timeout-s', '900', timeout=3600)
    assert res.returncode == 0, res.stdout[-5000:] + res.stderr[-3000:]
    doc = json.loads((tmp_path / 'latest-quick.json').read_text())
    assert set(doc['benchmarks']) == {'memory', 'models', 'graph', 'perception', 'sim'}
    for name, bench in doc['benchmarks'].items():
        assert bench['status'] == 'ok', (name, bench['runs'])
        figures = [Figure.from_dict(f) for f in bench['figures']]
        assert figures and any(f.baseline_value is not None for f in figures), name
    table = subprocess.run([sys.executable, str(SCRIPTS / 'perf_table.py'),
                            tmp_path / 'latest-quick.json'], capture_output=True, text=True)
    assert table.returncode == 0 and '| graph | camera image -> action chunk p95 |' in \
        table.stdout
