"""The figure record every benchmark writes (memory_nodes.benchmarks): derived ratio and met,
bad fields named in the error, records read back from JSON checked, machine description."""

import json
import math

import pytest

from memory_nodes.benchmarks import Figure, load_figures, machine_info, parse_target, write_json


def test_ratio_and_met_follow_value_baseline_and_target():
    fig = Figure('chunk p50', 12.0, 'ms', 'U-Net p50', 24.0, '<= 25')
    assert fig.ratio == pytest.approx(0.5)
    assert fig.met is True
    assert Figure('chunk p50', 30.0, 'ms', 'U-Net p50', 24.0, '<= 25').met is False
    assert Figure('ingest', 1999.0, 'obs/s', target='>= 2000').met is False
    assert Figure('dropped', 0, 'chunks', target='== 0').met is True
    # a target on the ratio compares value / baseline, not the value
    combined = Figure('recall p50', 39.0, 'ms', 'slowest bank', 31.6, 'ratio <= 1.3')
    assert combined.met is True and combined.ratio == pytest.approx(39.0 / 31.6)
    assert Figure('recall p50', 42.0, 'ms', 'slowest bank', 31.6, 'ratio <= 1.3').met is False
    # no baseline, zero baseline, no target
    assert Figure('max', 183.0, 'ms').ratio is None
    assert Figure('skipped', 3, 'frames', 'previous', 0).ratio is None
    assert Figure('max', 183.0, 'ms').met is None


def test_record_has_every_field_and_survives_json():
    fig = Figure('WHERE p99', 0.168, 'ms', 'full scan p99', 409.0, '<= 5', headline=False)
    record = json.loads(json.dumps(fig.to_dict()))
    assert set(record) == {'name', 'value', 'unit', 'baseline_name', 'baseline_value',
                           'ratio', 'target', 'met', 'headline'}
    assert Figure.from_dict(record) == fig
    bare = Figure('max', 1.0).to_dict()
    assert bare['baseline_name'] is None and bare['ratio'] is None and bare['met'] is None


@pytest.mark.parametrize('kwargs, field', [
    (dict(name='', value=1.0), 'name'),
    (dict(name='x', value=math.nan), 'value'),
    (dict(name='x', value=math.inf), 'value'),
    (dict(name='x', value='12'), 'value'),
    (dict(name='x', value=True), 'value'),
    (dict(name='x', value=1.0, baseline_name='base'), 'baseline_value'),
    (dict(name='x', value=1.0, baseline_value=2.0), 'baseline_name'),
    (dict(name='x', value=1.0, baseline_name='base', baseline_value=math.nan),
     'baseline_value'),
    (dict(name='x', value=1.0, target='at most 25'), 'target'),
    (dict(name='x', value=1.0, target='=< 25'), 'target'),
    (dict(name='x', value=1.0, target='ratio <= 1.3'), 'no baseline'),
    (dict(name='x', value=1.0, unit=None), 'unit'),
    (dict(name='x', value=1.0, headline='yes'), 'headline'),
])
def test_bad_fields_are_named(kwargs, field):
    with pytest.raises(ValueError, match=field):
        Figure(**kwargs)


def test_targets_parse():
    assert parse_target('<= 25') == (False, '<=', 25.0)
    assert parse_target('ratio<1.3') == (True, '<', 1.3)
    assert parse_target('>= 2e3') == (False, '>=', 2000.0)
    with pytest.raises(ValueError, match='expected'):
        parse_target('25')


def test_read_back_records_are_checked(tmp_path):
    good = Figure('ingest', 33170.0, 'obs/s', 'one commit each', 6950.0, '>= 2000').to_dict()
    for change, message in (({'ratio': 1.0}, 'ratio'), ({'met': False}, 'met'),
                            ({'value': None}, 'value')):
        with pytest.raises(ValueError, match=message):
            Figure.from_dict({**good, **change})
    missing = dict(good)
    del missing['unit']
    with pytest.raises(ValueError, match='lacks unit'):
        Figure.from_dict(missing)
    path = tmp_path / 'bench.json'
    write_json(path, {'figures': [good], 'raw': {'empty_percentile': math.nan}})
    assert json.loads(path.read_text())['raw']['empty_percentile'] is None  # strict JSON
    assert [f.name for f in load_figures(path)] == ['ingest']
    path.write_text('{"results": {}}')
    with pytest.raises(ValueError, match='no "figures" list'):
        load_figures(path)


def test_machine_info_describes_this_machine():
    info = machine_info()
    assert info['cpu'] and info['cores_logical'] >= 1 and info['ram_gb'] > 0
    assert info['python'].count('.') == 2 and info['os']
    assert set(info['versions']) >= {'torch', 'rclpy', 'mujoco'}
    assert info['versions']['mujoco']  # installed in the venv
    assert info['gpu'] is None or isinstance(info['gpu'], str)
    assert info['git_commit'] is None or len(info['git_commit']) == 40
    assert info['date'].endswith('+00:00')
    json.dumps(info)
