"""The shipped checkpoint: found relative to the package, loads strictly, drives one chunk.

These tests fail (not skip) when the checkpoint is missing: the ROS action-expert node
loads it in its configure step, so a checkout without it is broken.
"""

import json
from pathlib import Path

import numpy as np
import pytest

import models
from models import DEFAULT_CHECKPOINT, load_policy

MAX_BYTES = 20 * 1024 * 1024


def example_obs(policy) -> dict[str, np.ndarray]:
    """An observation shaped as docs/models.md describes (random content)."""
    enc = policy.cfg.encoder
    rng = np.random.default_rng(0)
    obs = {cam: rng.integers(0, 256, (enc.image_size, enc.image_size, 3), dtype=np.uint8)
           for cam in enc.cameras}
    obs['proprio'] = rng.normal(size=enc.proprio_dim).astype(np.float32)
    obs['objects'] = rng.normal(size=(enc.object_slots, enc.object_dim)).astype(np.float32)
    obs['phase'] = np.int8(2)
    return obs


def test_default_checkpoint_is_inside_the_package():
    # its files, size and recorded command: test_every_committed_checkpoint_... below
    package = Path(models.__file__).resolve().parent
    assert DEFAULT_CHECKPOINT.parent == package / 'checkpoints' and DEFAULT_CHECKPOINT.is_dir()


def test_load_policy_gives_a_finite_chunk():
    policy = load_policy(device='cpu', seed=0)
    meta = json.loads((DEFAULT_CHECKPOINT / 'config.json').read_text())['meta']
    instruction = 'Lift the cup that hides the green ball.'
    assert instruction in policy.text_encoder.cache  # trained on: no MiniLM load needed
    policy.reset(instruction)
    obs = example_obs(policy)
    chunk = policy.predict_action_chunk(obs)
    assert chunk.shape == (1, 16, 5) and np.all(np.isfinite(chunk))
    action = policy.select_action(obs)
    assert action.shape == (5,) and np.all(np.isfinite(action))
    assert len(policy.bank) == 1  # the first step is written to the memory bank
    assert meta['dataset']['tasks']


def test_load_policy_refuses_a_missing_folder(tmp_path):
    with pytest.raises(ValueError, match='no such checkpoint folder'):
        load_policy(tmp_path / 'nope')


@pytest.mark.parametrize('folder', sorted(p for p in DEFAULT_CHECKPOINT.parent.iterdir()
                                          if p.is_dir()), ids=lambda p: p.name)
def test_every_committed_checkpoint_loads_and_records_its_training(folder):
    """Every checkpoint in the package (the six-task default, the four-task checkpoints it
    was fine-tuned from, pcmb_recurrent grown from it) is small, says how it was trained and
    drives one chunk."""
    files = {p.name: p.stat().st_size for p in folder.iterdir()}
    assert {'model.safetensors', 'config.json', 'text_cache.json'} <= set(files), files
    assert sum(files.values()) <= MAX_BYTES, files
    meta = json.loads((folder / 'config.json').read_text())['meta']
    assert meta['command'].startswith('memory-train ') and 'seed' in meta
    policy = load_policy(folder, device='cpu', seed=0)
    # each trained task's instructions are cached: no MiniLM load needed to run it
    assert len(policy.text_encoder.cache) >= len(meta['dataset']['tasks']) > 0
    policy.reset(next(iter(policy.text_encoder.cache)))
    chunk = policy.predict_action_chunk(example_obs(policy))
    assert chunk.shape == (1, 16, 5) and np.all(np.isfinite(chunk))
