"""The pointed position given to the denoiser (MemoryConfig.point_residual): the config
refuses what it cannot work with; the point token is the pointer's weighted position in
action units; a gate of 1 puts the chunk exactly on the pointed object; training reaches
the new weights; growing it onto a trained checkpoint leaves the checkpoint's chunks and the
policy runs it."""

import json

import numpy as np
import pytest
import torch

from models.config import PolicyConfig
from models.episodes import SequenceBatcher, dataset_arrays
from models.goal_pointer import POSITION
from models.network import MemoryDiffusionNet
from tests.models.conftest import fuse_inputs, grown_pair, run_policy, tiny_config


def point_config(**changes) -> PolicyConfig:
    """tiny_config with the goal pointer, the point residual and clean-action targets;
    `changes` = {section: {field: value}} on top."""
    doc = tiny_config().to_dict()
    doc['memory'].update(goal_pointer=True, point_residual=True)
    doc['diffusion'].update(prediction_type='sample')
    for section, values in changes.items():
        doc[section].update(values)
    return PolicyConfig.from_dict(doc)


def point_net(episodes) -> MemoryDiffusionNet:
    net = MemoryDiffusionNet(point_config())
    net.normalizer.fit(dataset_arrays(episodes, 3))
    return net.eval()


def fused(net, objects):
    """The conditioning tokens of one step seeing `objects` (B, K, D_OBJ), random memory."""
    p, c, now, bank, _ = fuse_inputs(net, batch=objects.shape[0])
    with torch.no_grad():
        return net.fuse(p, c, now, bank, objects)


def forced_pointer(net, slot):
    """Make `net`'s pointer put all its weight on `slot` (returns the original forward)."""
    original = net.pointer.forward

    def forced(cond, objects, visible, stored=None):
        token, logits = original(cond, objects, visible, stored)
        forced_logits = torch.full_like(logits, -30.0)
        forced_logits[:, slot] = 30.0
        return token, forced_logits.masked_fill(~visible, -1e4)
    net.pointer.forward = forced
    return original


def scene(batch=2, k=3, d_obj=9):
    """Visible slots at distinct places inside the synthetic task's action range."""
    objects = torch.zeros(batch, k, d_obj)
    objects[..., 0] = 1.0
    objects[..., 1] = torch.tensor([0.45, 0.50, 0.55])
    objects[..., 2] = torch.tensor([-0.05, 0.0, 0.05])
    objects[..., 3] = 0.05
    return objects


def test_config_refuses_a_point_residual_it_cannot_use():
    with pytest.raises(ValueError, match='point_residual.*goal pointer'):
        point_config(memory={'goal_pointer': False})
    with pytest.raises(ValueError, match="transformer denoiser.*'unet'"):
        point_config(denoiser={'kind': 'unet'})
    with pytest.raises(ValueError, match="prediction_type='sample'.*'epsilon'"):
        point_config(diffusion={'prediction_type': 'epsilon'})


def test_point_token_is_the_pointed_slots_position_in_action_units(synthetic_episodes):
    net = point_net(synthetic_episodes)
    assert net.cond_tokens == net.memory_tokens + 1
    objects = scene()
    for slot in range(3):
        original = forced_pointer(net, slot)
        try:
            point = fused(net, objects)[:, -1]
        finally:
            net.pointer.forward = original
        want = net.action_units(objects[:, slot, POSITION])
        assert torch.allclose(point[:, :3], want, atol=1e-5)
        assert torch.allclose(point[:, 3], torch.ones(2))
        assert float(point[:, 4:].abs().max()) == 0.0
    hidden = objects.clone()
    hidden[..., 0] = 0.0   # nothing visible: nothing pointed at, an all-zero token
    assert float(fused(net, hidden)[:, -1].abs().max()) == 0.0


def test_a_gate_of_one_puts_the_chunk_on_the_pointed_object(synthetic_episodes):
    net = point_net(synthetic_episodes)
    objects = scene()
    with torch.no_grad():   # the denoiser's own output at zero (it is zero-initialised)
        net.denoiser.point.gate.bias.fill_(1.0)
    original = forced_pointer(net, 2)
    try:
        cond = fused(net, objects)
    finally:
        net.pointer.forward = original
    chunk = net.sample_actions(cond, torch.randn(2, 16, 5))
    want = objects[:, 2, POSITION].unsqueeze(1).expand(-1, 16, -1)
    assert torch.allclose(chunk[..., :3], want, atol=1e-5), chunk[0, 0]
    with torch.no_grad():
        net.denoiser.point.gate.bias.fill_(0.0)
    moved = net.sample_actions(cond, torch.randn(2, 16, 5))
    assert float((moved[..., :3] - want).abs().max()) > 0.01   # the gate did it


def test_training_reaches_the_point_weights(synthetic_episodes):
    net = point_net(synthetic_episodes).train()
    text = {e.instruction: np.full(384, 0.05, np.float32) for e in synthetic_episodes}
    cfg = net.cfg
    batcher = SequenceBatcher(synthetic_episodes, text, cfg.encoder.cameras,
                              cfg.encoder.object_slots, cfg.diffusion.horizon,
                              cfg.memory.write_every, 4, seed=0)
    loss, logs = net.compute_loss(batcher.sample(2))
    loss.backward()
    # zero-initialised: the gate's weights get a gradient through the pointed position,
    # the token projection's through the (zero-initialised) output layer once it moves
    assert float(net.denoiser.point.gate.weight.grad.abs().sum()) > 0.0
    assert float(net.denoiser.point.gate.bias.grad.abs().sum()) > 0.0
    assert np.isfinite(logs['loss'])


def test_point_residual_grows_onto_a_checkpoint_and_the_policy_runs_it(tmp_path):
    a, b = grown_pair(tmp_path, '--point-residual', '--goal-pointer',
                      '--pointer-loss-weight', '1')
    assert not a.cfg.memory.point_residual and b.cfg.memory.point_residual
    torch.manual_seed(0)
    inputs = fuse_inputs(a)
    with torch.no_grad():
        before, after = a.fuse(*inputs), b.fuse(*inputs)
    assert after.shape[1] == before.shape[1] + 1
    assert torch.allclose(before, after[:, :-1], atol=1e-5)
    noise = torch.randn(2, 16, 5)
    # new weights start at zero: the grown checkpoint predicts the same chunks
    assert torch.allclose(a.sample_actions(before, noise), b.sample_actions(after, noise),
                          atol=1e-4)
    run_policy(b)
    doc = json.loads((tmp_path / 'b' / 'config.json').read_text())
    assert '--point-residual' in doc['meta']['command']
