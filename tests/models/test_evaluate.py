"""memory-eval end to end on the synthetic task (closed loop, three variants, Wilson CIs),
its refusal of training seeds, and one demonstration recorded from the MuJoCo suite."""

import json

import numpy as np
import pytest

from models.checkpoint import save_checkpoint
from models.episodes import dataset_arrays, load_episode
from models.evaluate import evaluate, markdown_table
from models.network import MemoryDiffusionNet
from models.record_demos import record_one
from models.synthetic import INSTRUCTIONS, TASK_NAME
from tests.models.conftest import tiny_config


@pytest.fixture
def checkpoint(tmp_path, synthetic_episodes):
    net = MemoryDiffusionNet(tiny_config())
    net.normalizer.fit(dataset_arrays(synthetic_episodes, 3))
    folder = save_checkpoint(tmp_path / 'ckpt', net.eval(),
                             {'dataset': {'train_seeds': '0-5', 'seeds': '0-5'}})
    cache = {text: np.full(384, 0.05).tolist() for text in INSTRUCTIONS}
    (folder / 'text_cache.json').write_text(json.dumps(cache))
    return folder


def test_evaluate_runs_every_variant_closed_loop(checkpoint):
    results = evaluate(checkpoint, [TASK_NAME], [100, 101], batch=2, device='cpu',
                       progress=False)
    row = results['tasks'][TASK_NAME]
    for variant in ('memory', 'memory_off', 'oracle'):
        assert 0.0 <= row[variant] <= 1.0
        lo, hi = row[f'{variant}_ci95']
        assert lo <= row[variant] <= hi
    assert row['chance'] == pytest.approx(1 / 3)
    table = markdown_table(results)
    assert table.splitlines()[0] == '| task | memory | memory_off | oracle | chance ceiling |'
    assert f'| {TASK_NAME} |' in table and '33 %' in table


def test_evaluate_refuses_training_seeds(checkpoint):
    with pytest.raises(ValueError, match='trained on'):
        evaluate(checkpoint, [TASK_NAME], [4, 100], batch=2, device='cpu', progress=False)


def test_record_one_writes_a_loadable_expert_episode(tmp_path):
    task, seed, mode, ok, steps = record_one('remember_color', 7, 'oracle', str(tmp_path))
    assert ok and steps > 40
    episode = load_episode(tmp_path / 'remember_color' / 'ep_7_oracle.npz')
    assert episode.rgb.shape == (steps, 64, 64, 3) and episode.action.shape == (steps, 5)
    assert episode.objects.shape[1:] == (5, 10) and set(np.unique(episode.phase)) == {0, 1, 2}
