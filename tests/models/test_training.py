"""A short training run lowers the loss and writes a checkpoint with the recorded command."""

import json

import numpy as np

from models.train import main, parse_seeds, train
from tests.models.conftest import fuse_inputs, grown_pair, tiny_config


def train_logged(cfg, episodes, out):
    """Train `cfg` on `episodes` into `out`; -> the network and its loss.json (every loss
    per step, the auxiliary ones included)."""
    text = {e.instruction: np.full(384, 0.05, np.float32) for e in episodes}
    net, _ = train(cfg, episodes, text, out, device='cpu', meta={'seed': 0}, progress=False)
    return net, json.loads((out / 'loss.json').read_text())


def test_short_training_lowers_the_loss(tmp_path, synthetic_episodes):
    cfg = tiny_config()
    text = {e.instruction: np.full(384, 0.05, np.float32) for e in synthetic_episodes}
    net, losses = train(cfg, synthetic_episodes, text, tmp_path / 'run', device='cpu',
                        meta={'seed': 0}, progress=False)
    first, last = np.mean(losses[:10]), np.mean(losses[-10:])
    assert last < 0.7 * first, (first, last)
    assert (tmp_path / 'run' / 'loss.png').stat().st_size > 1000
    doc = json.loads((tmp_path / 'run' / 'config.json').read_text())
    assert doc['meta']['steps'] == 60 and doc['meta']['final_loss'] < first


def test_cli_on_synthetic_data(tmp_path, capsys):
    code = main(['--synthetic', '4', '--out', str(tmp_path / 'cli'), '--steps', '3',
                 '--batch', '2', '--width', '32', '--layers', '1', '--no-progress',
                 '--device', 'cpu'])
    assert code == 0
    doc = json.loads((tmp_path / 'cli' / 'config.json').read_text())
    assert doc['meta']['command'].startswith('memory-train --synthetic 4')
    assert doc['meta']['dataset']['episodes'] == 4 and doc['meta']['git_commit']
    assert 'checkpoint in' in capsys.readouterr().out


def test_init_from_fine_tunes_the_checkpoints_network(tmp_path):
    from safetensors.torch import load_file

    common = ['--synthetic', '4', '--steps', '3', '--batch', '2', '--no-progress',
              '--device', 'cpu']
    assert main([*common, '--out', str(tmp_path / 'a'), '--width', '32', '--layers', '1',
                 '--goal-pointer']) == 0
    # the architecture flags are ignored (the checkpoint's wins); a vanishing learning rate
    # leaves the checkpoint's weights, normaliser included, where they were
    assert main([*common, '--out', str(tmp_path / 'b'), '--width', '48', '--layers', '2',
                 '--lr', '1e-12', '--seed', '3', '--inference-steps', '3',
                 '--write-every', '2', '--pointer-query', 'retrieved',
                 '--init-from', str(tmp_path / 'a')]) == 0
    a = load_file(str(tmp_path / 'a' / 'model.safetensors'))
    b = load_file(str(tmp_path / 'b' / 'model.safetensors'))
    assert a.keys() == b.keys()
    assert max(float((a[k].float() - b[k].float()).abs().max()) for k in a) < 1e-6
    doc = json.loads((tmp_path / 'b' / 'config.json').read_text())
    assert doc['policy']['encoder']['width'] == 32 and doc['policy']['train']['seed'] == 3
    assert doc['policy']['diffusion']['inference_steps'] == 3
    assert doc['policy']['memory']['write_every'] == 2   # no weight depends on it
    # nor on where the pointer's query comes from (same width either way)
    assert doc['policy']['memory']['goal_pointer']
    assert doc['policy']['memory']['pointer_query'] == 'retrieved'
    assert doc['meta']['init_from']['checkpoint'] == str(tmp_path / 'a')
    assert doc['meta']['init_from']['command'].startswith('memory-train --synthetic 4')


def test_reinit_starts_the_named_parameters_afresh_and_keeps_the_rest(tmp_path):
    import pytest
    from safetensors.torch import load_file

    common = ['--synthetic', '4', '--steps', '3', '--batch', '2', '--no-progress',
              '--device', 'cpu', '--width', '32', '--layers', '1']
    assert main([*common, '--out', str(tmp_path / 'a')]) == 0
    assert main([*common, '--out', str(tmp_path / 'b'), '--lr', '1e-12', '--seed', '5',
                 '--reinit', 'denoiser.', '--init-from', str(tmp_path / 'a')]) == 0
    a = load_file(str(tmp_path / 'a' / 'model.safetensors'))
    b = load_file(str(tmp_path / 'b' / 'model.safetensors'))
    moved = {k for k in a if float((a[k].float() - b[k].float()).abs().max()) > 1e-6}
    # the denoiser's randomly initialised weights are new (its zero-initialised ones stay
    # zero); nothing else moved, normaliser included
    assert moved and all(k.startswith('denoiser.') for k in moved)
    assert 'denoiser.pos' in moved
    doc = json.loads((tmp_path / 'b' / 'config.json').read_text())
    assert '--reinit denoiser.' in doc['meta']['command']
    for bad, match in (('decoder.', "'decoder.': names no parameters"),
                       ('normalizer.', 'the normaliser is statistics')):
        with pytest.raises(ValueError, match=match):
            main([*common, '--out', str(tmp_path / 'c'), '--reinit', bad,
                  '--init-from', str(tmp_path / 'a')])
    with pytest.raises(SystemExit):   # argparse: needs --init-from
        main([*common, '--out', str(tmp_path / 'c'), '--reinit', 'denoiser.'])


def test_recurrent_memory_grows_a_checkpoint_without_changing_what_it_does(tmp_path):
    import torch

    a, b = grown_pair(tmp_path, '--recurrent-memory')
    assert not a.cfg.memory.recurrent and b.cfg.memory.recurrent
    assert b.retrieval.recurrent is not None and a.retrieval.recurrent is None
    # the grown summary's output starts at zero: the same conditioning tokens as before
    torch.manual_seed(0)
    p, c, now, bank, _ = fuse_inputs(a)
    with torch.no_grad():
        assert torch.allclose(a.fuse(p, c, now, bank), b.fuse(p, c, now, bank), atol=1e-5)
    common = ['--synthetic', '4', '--steps', '3', '--batch', '2', '--no-progress',
              '--device', 'cpu', '--width', '32', '--layers', '1']
    # a fresh network gets the summary from the flag too
    assert main([*common, '--out', str(tmp_path / 'c'), '--recurrent-memory']) == 0
    assert json.loads((tmp_path / 'c' / 'config.json').read_text())['policy']['memory'][
        'recurrent']


def test_lr_scales_give_named_parameters_their_own_learning_rate():
    import pytest
    from torch import nn

    from models.train import param_groups

    net = nn.ModuleDict({'a': nn.Linear(2, 2), 'ab': nn.Linear(2, 2), 'c': nn.Linear(2, 2)})
    groups = param_groups(net, 1e-3, {'a': 10.0, 'ab': 2.0})
    by_lr = {g['lr']: len(g['params']) for g in groups}
    assert by_lr == {1e-3: 2, 1e-2: 2, 2e-3: 2}   # 'ab.*' takes its longest prefix
    with pytest.raises(ValueError, match="'nope'"):
        param_groups(net, 1e-3, {'nope': 2.0})


def test_parse_seeds():
    assert parse_seeds('0-3,7') == {0, 1, 2, 3, 7}
    assert parse_seeds('') is None


def test_goal_point_is_where_the_gripper_first_closes_in_the_act_phase(synthetic_episodes):
    from models.episodes import goal_point

    ep = synthetic_episodes[0]
    act = np.flatnonzero(ep.phase >= 2)
    closes = [t for t in act if ep.action[t, 4] > 0.5]
    assert closes, 'the synthetic expert closes its gripper in the act phase'
    np.testing.assert_allclose(goal_point(ep), ep.action[closes[0], :3])


def test_batches_carry_each_sampled_episodes_own_goal(synthetic_episodes):
    from models.episodes import SequenceBatcher, goal_point

    text = {e.instruction: np.full(384, 0.05, np.float32) for e in synthetic_episodes}
    batcher = SequenceBatcher(synthetic_episodes, text, ('rgb',), object_slots=3, horizon=8,
                              write_every=4, queries=2, seed=0)
    goals = {tuple(goal_point(ep)) for ep in synthetic_episodes}
    assert len(goals) > 1  # the cups differ: a batch mixing episodes mixes goals
    rows = [tuple(row) for row in batcher.sample(12)['goal'].flatten(0, 1).numpy()]
    assert set(rows) <= goals and len(set(rows)) > 1


def test_goal_loss_trains_a_goal_head_that_round_trips(tmp_path, synthetic_episodes):
    import torch

    from models.checkpoint import load_checkpoint

    cfg = tiny_config()
    cfg.train.goal_loss_weight = 1.0
    cfg.train.steps = 40
    net, logged = train_logged(cfg, synthetic_episodes, tmp_path / 'goal')
    goal = logged['goal_loss']
    assert len(goal) == 40 and np.mean(goal[-10:]) < np.mean(goal[:10])
    loaded, _ = load_checkpoint(tmp_path / 'goal', 'cpu')
    assert loaded.goal_head is not None
    for a, b in zip(net.goal_head.parameters(), loaded.goal_head.parameters()):
        assert torch.equal(a, b)
    # off by default: no head, so older checkpoints load unchanged
    from models.network import MemoryDiffusionNet
    assert MemoryDiffusionNet(tiny_config()).goal_head is None


def test_goal_slot_is_the_grasped_cup(synthetic_episodes):
    from models.episodes import goal_point, goal_slot

    for ep in synthetic_episodes:
        slot = goal_slot(ep)
        act = np.flatnonzero(ep.phase >= 2)
        closes = next(t for t in act if ep.action[t, 4] > 0.5)
        xy = ep.objects[closes, :, 1:3]
        assert slot == int(np.argmin(np.linalg.norm(xy - goal_point(ep)[:2], axis=1)))
    far = synthetic_episodes[0]
    moved = type(far)(**{**far.__dict__, 'action': far.action.copy()})
    moved.action[:, :2] += 1.0  # the gripper closes a metre away from every cup
    assert goal_slot(moved) == -1


def test_pointer_loss_teaches_the_pointer_the_grasped_slot(tmp_path, synthetic_episodes):
    """The goal pointer's cross-entropy falls in a short run, the pointer token is part of
    the checkpoint, and a pointer loss without a pointer is refused by name."""
    import pytest

    from models.checkpoint import load_checkpoint
    from models.config import PolicyConfig

    cfg = tiny_config()
    cfg.memory.goal_pointer = True
    cfg.train.pointer_loss_weight = 1.0
    cfg.train.steps = 60
    net, logged = train_logged(cfg, synthetic_episodes, tmp_path / 'ptr')
    pointer = logged['pointer_loss']
    assert len(pointer) == 60 and np.mean(pointer[-10:]) < 0.8 * np.mean(pointer[:10])
    loaded, _ = load_checkpoint(tmp_path / 'ptr', 'cpu')
    assert loaded.pointer is not None and loaded.cond_tokens == net.cond_tokens
    bad = tiny_config().to_dict()
    bad['train']['pointer_loss_weight'] = 1.0
    with pytest.raises(ValueError, match='train.pointer_loss_weight=1.0: needs memory.goal'):
        PolicyConfig.from_dict(bad)


def test_fine_tune_refuses_actions_the_checkpoint_cannot_produce_unless_widened(
        tmp_path, synthetic_episodes):
    """Sampling clips normalised actions to [-1, 1]: demonstrations outside the checkpoint's
    action range are refused by name, or with widen_action_range covered by a wider one."""
    import dataclasses

    import pytest
    import torch

    from models.checkpoint import load_checkpoint
    from models.train import fine_tune_config

    common = ['--synthetic', '4', '--steps', '3', '--batch', '2', '--no-progress',
              '--device', 'cpu', '--width', '32', '--layers', '1']
    assert main([*common, '--out', str(tmp_path / 'a')]) == 0
    shifted = [dataclasses.replace(e, action=e.action + np.array([0.5, 0, 0, 0, 0],
                                                                 np.float32))
               for e in synthetic_episodes]
    with pytest.raises(ValueError, match='dimension 0.*--widen-action-range'):
        fine_tune_config(tmp_path / 'a', shifted, {})
    _, net, _ = fine_tune_config(tmp_path / 'a', shifted, {}, widen_action_range=True)
    top = max(float(e.action[:, 0].max()) for e in shifted)
    assert float(net.normalizer.action_max[0]) == pytest.approx(top)
    checkpoint_range = load_checkpoint(tmp_path / 'a')[0].normalizer
    lo, hi = checkpoint_range.action_min, checkpoint_range.action_max
    inside = [dataclasses.replace(e, action=np.clip(e.action, lo.numpy(), hi.numpy()))
              for e in synthetic_episodes]
    _, same, _ = fine_tune_config(tmp_path / 'a', inside, {})  # inside: kept
    assert torch.equal(same.normalizer.action_max, hi)
