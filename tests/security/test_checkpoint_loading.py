"""Checkpoints load only as safetensors + JSON: a pickle in the folder is refused without
being unpickled, and a truncated safetensors file or a corrupted config.json is refused with
a message naming the file, through the loader, the policy loader and the action expert
node's configure (which fails cleanly and leaves the node unconfigured). A source-level scan
checks that no module of the project calls torch.load / pickle.load / np.load with pickles."""

import json
from pathlib import Path
import pickle
import re
import shutil

import pytest

torch = pytest.importorskip('torch')

from models.checkpoint import CheckpointError, load_checkpoint  # noqa: E402
from tests.nodes.action_expert_checkpoint import save_tiny_node_checkpoint  # noqa: E402

ROOT = Path(__file__).resolve().parents[2]


class Boobytrap:
    """Unpickling this writes a marker file: proof that a pickle was loaded."""

    def __init__(self, marker):
        self.marker = str(marker)

    def __reduce__(self):
        return (Path.write_text, (Path(self.marker), 'unpickled!'))


@pytest.fixture(scope='module')
def good(tmp_path_factory):
    return save_tiny_node_checkpoint(tmp_path_factory.mktemp('ckpt') / 'good')


def _copy(good, tmp_path, name='ckpt'):
    folder = tmp_path / name
    shutil.copytree(good, folder)
    return folder


def _bad_folders(good, tmp_path):
    """{what: (folder, text the error must contain)} for every way a folder is refused."""
    marker = tmp_path / 'UNPICKLED'
    cases = {}
    beside = _copy(good, tmp_path, 'pickle_beside')
    (beside / 'model.pt').write_bytes(pickle.dumps(Boobytrap(marker)))
    cases['pickle beside the safetensors'] = (beside, "holds 'model.pt'")
    instead = _copy(good, tmp_path, 'pickle_instead')
    (instead / 'model.safetensors').unlink()
    (instead / 'weights.pkl').write_bytes(pickle.dumps(Boobytrap(marker)))
    cases['pickle instead of the safetensors'] = (instead, "holds 'weights.pkl'")
    disguised = _copy(good, tmp_path, 'pickle_disguised')
    (disguised / 'model.safetensors').write_bytes(pickle.dumps(Boobytrap(marker)))
    cases['pickle named model.safetensors'] = (
        disguised, f"{str(disguised / 'model.safetensors')!r} are not a readable safetensors")
    truncated = _copy(good, tmp_path, 'truncated')
    data = (truncated / 'model.safetensors').read_bytes()
    (truncated / 'model.safetensors').write_bytes(data[:len(data) // 2])
    cases['truncated safetensors'] = (
        truncated, f"{str(truncated / 'model.safetensors')!r} are not a readable safetensors")
    corrupt = _copy(good, tmp_path, 'corrupt_json')
    text = (corrupt / 'config.json').read_text()
    (corrupt / 'config.json').write_text(text[:len(text) // 3])
    cases['truncated config.json'] = (
        corrupt, f"{str(corrupt / 'config.json')!r} is unreadable or not valid JSON")
    no_policy = _copy(good, tmp_path, 'no_policy')
    (no_policy / 'config.json').write_text(json.dumps({'meta': {}}))
    cases['config.json without policy'] = (no_policy, 'no "policy" section')
    bad_cache = _copy(good, tmp_path, 'bad_cache')
    (bad_cache / 'text_cache.json').write_text('{"lift the cup": [0.1, ')
    cases['truncated text_cache.json'] = (
        bad_cache, f"{str(bad_cache / 'text_cache.json')!r} is unreadable or not valid JSON")
    return cases, marker


def test_loaders_refuse_pickles_and_broken_files_naming_the_file(good, tmp_path):
    import models
    load_checkpoint(good)          # the good one loads
    models.load_policy(good, 'cpu')
    cases, marker = _bad_folders(good, tmp_path)
    for what, (folder, message) in cases.items():
        if what != 'truncated text_cache.json':   # the cache is the policy loader's file
            with pytest.raises(CheckpointError) as info:
                load_checkpoint(folder)
            assert message in str(info.value), (what, str(info.value))
        with pytest.raises(ValueError) as info:
            models.load_policy(folder, 'cpu')
        assert message in str(info.value), (what, str(info.value))
    assert not marker.exists(), 'a pickle was unpickled'
    assert 'pickle formats can run code' in str(
        pytest.raises(CheckpointError, load_checkpoint, cases[
            'pickle beside the safetensors'][0]).value)


@pytest.mark.ros
def test_action_expert_node_fails_configure_cleanly(good, tmp_path, context, capfd):
    pytest.importorskip('rclpy')
    from rclpy.parameter import Parameter

    from memory_nodes.action_expert_node import ActionExpertNode
    from memory_nodes.ros_common import TransitionCallbackReturn
    cases, marker = _bad_folders(good, tmp_path)
    cases['NUL in the parameter'] = ('ckpt\x00', "checkpoint='ckpt\\x00'")
    cases['no such folder'] = (str(tmp_path / 'missing'), 'no such checkpoint folder')
    for what in ('pickle beside the safetensors', 'truncated safetensors',
                 'truncated config.json', 'NUL in the parameter', 'no such folder'):
        folder, message = cases[what]
        node = ActionExpertNode(context=context, parameter_overrides=[
            Parameter('checkpoint', value=str(folder)), Parameter('device', value='cpu')])
        try:
            assert node.trigger_configure() == TransitionCallbackReturn.FAILURE, what
            assert node._state_machine.current_state[1] == 'unconfigured', what
            assert node.policy is None
        finally:
            node.destroy_node()
        err = capfd.readouterr().err
        assert 'configure failed' in err and message in err, (what, err[-800:])
    assert not marker.exists(), 'a pickle was unpickled'


# -- source scan -------------------------------------------------------------------------------
UNSAFE = [
    (re.compile(r'\btorch\.load\s*\('), 'torch.load'),
    (re.compile(r'\b(c?[pP]ickle|dill|joblib|cloudpickle)\.loads?\s*\('), 'pickle-style load'),
    (re.compile(r'\bpickle\.Unpickler\b'), 'pickle.Unpickler'),
    (re.compile(r'allow_pickle\s*=\s*True'), 'allow_pickle=True'),
    (re.compile(r'weights_only\s*=\s*False'), 'weights_only=False'),
    (re.compile(r'\byaml\.(load|unsafe_load|full_load)\s*\('), 'yaml.load (not safe_load)'),
]
NP_LOAD = re.compile(r'\b(np|numpy)\.load\s*\(([^()]|\([^()]*\))*\)', re.S)


def _project_sources():
    for folder in ('memory_nodes', 'models', 'sim', 'scripts', 'launch'):
        yield from sorted((ROOT / folder).rglob('*.py'))
    yield ROOT / 'setup.py'


def test_no_module_loads_pickles():
    found = []
    for path in _project_sources():
        text = path.read_text()
        rel = path.relative_to(ROOT)
        for pattern, what in UNSAFE:
            for m in pattern.finditer(text):
                found.append(f'{rel}:{text.count(chr(10), 0, m.start()) + 1}: {what}')
        for m in NP_LOAD.finditer(text):
            if 'allow_pickle=False' not in m.group(0).replace(' ', ''):
                found.append(f'{rel}:{text.count(chr(10), 0, m.start()) + 1}: np.load without '
                             'allow_pickle=False')
    assert not found, 'unsafe loads:\n' + '\n'.join(found)


def test_the_scan_finds_what_it_looks_for():
    bad = ('x = torch.load(p)\ny = pickle.loads(b)\nz = np.load(f)\n'
           'w = np.load(f, allow_pickle=True)\nok = np.load(f, allow_pickle=False)\n')
    hits = [what for pattern, what in UNSAFE if pattern.search(bad)]
    assert hits == ['torch.load', 'pickle-style load', 'allow_pickle=True']
    unsafe_np = [m.group(0) for m in NP_LOAD.finditer(bad)
                 if 'allow_pickle=False' not in m.group(0).replace(' ', '')]
    assert unsafe_np == ['np.load(f)', 'np.load(f, allow_pickle=True)']
