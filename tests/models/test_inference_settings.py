"""models.inference_settings: a checkpoint's replan_every / inference_steps change in its
config.json with a record in meta, the weights untouched; a bad value changes nothing."""

import hashlib
import json

import pytest

from models import load_policy
from models.checkpoint import save_checkpoint
from models.inference_settings import main, set_inference_settings
from tests.models.test_policy import fitted_net


def _digest(path):
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_settings_change_in_the_config_with_a_record_and_the_weights_stay(
        synthetic_episodes, tmp_path):
    folder = save_checkpoint(tmp_path / 'ckpt', fitted_net(synthetic_episodes),
                             {'command': 'memory-train --seed 0', 'seed': 0})
    weights = _digest(folder / 'model.safetensors')
    assert main([str(folder), '--replan-every', '4', '--inference-steps', '3']) == 0
    doc = json.loads((folder / 'config.json').read_text())
    assert doc['policy']['diffusion']['replan_every'] == 4
    assert doc['policy']['diffusion']['inference_steps'] == 3
    assert doc['meta']['command'] == 'memory-train --seed 0'   # the weights' provenance
    [record] = doc['meta']['settings_changed']
    assert record['to'] == {'replan_every': 4, 'inference_steps': 3}
    assert record['from']['replan_every'] == 0
    assert record['command'].startswith('python -m models.inference_settings')
    assert _digest(folder / 'model.safetensors') == weights
    policy = load_policy(folder, 'cpu')
    assert policy.replan_every == 4 and policy.cfg.diffusion.inference_steps == 3
    # the same values again: nothing to record
    assert set_inference_settings(folder, replan_every=4) == {}
    assert len(json.loads((folder / 'config.json').read_text())['meta']
               ['settings_changed']) == 1
    # a value the config refuses names itself and leaves the file as it was
    before = (folder / 'config.json').read_text()
    with pytest.raises(ValueError, match='replan_every'):
        set_inference_settings(folder, replan_every=9)
    assert main([str(folder), '--replan-every', '9']) == 2
    assert (folder / 'config.json').read_text() == before
