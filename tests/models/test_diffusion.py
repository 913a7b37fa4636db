"""Noise schedules and samplers: the fixed-coefficient DDIM loop equals diffusers' DDIM."""

import pytest
import torch

from models.config import DiffusionConfig
from models.diffusion import ActionDiffusion


def toy_denoiser(x, t):
    """Any deterministic function of (x, t) will do to compare two samplers."""
    return torch.tanh(0.7 * x + 0.01 * t.view(-1, 1, 1).float())


@pytest.mark.parametrize('prediction_type', ['epsilon', 'sample'])
def test_fast_ddim_matches_diffusers(prediction_type):
    diff = ActionDiffusion(DiffusionConfig(prediction_type=prediction_type))
    noise = torch.randn(3, 16, 5)
    slow = diff.sample(toy_denoiser, noise)
    fast = diff.sample_ddim_fast(toy_denoiser, noise)
    assert torch.allclose(slow, fast, atol=1e-5)
    assert float(fast.abs().max()) <= 1.0 + 1e-5  # x0 is clipped to the normalised range


def test_dpm_solver_samples_and_fast_loop_refuses_it():
    diff = ActionDiffusion(DiffusionConfig(scheduler='dpm', inference_steps=8))
    out = diff.sample(toy_denoiser, torch.randn(2, 16, 5))
    assert out.shape == (2, 16, 5) and bool(torch.isfinite(out).all())
    with pytest.raises(ValueError, match='DDIM only'):
        diff.sample_ddim_fast(toy_denoiser, torch.randn(2, 16, 5))


def test_training_targets():
    diff = ActionDiffusion(DiffusionConfig())
    actions = torch.rand(4, 16, 5) * 2 - 1
    noisy, t, target = diff.noisy_targets(actions)
    assert noisy.shape == actions.shape and target.shape == actions.shape
    assert t.shape == (4,) and int(t.min()) >= 0 and int(t.max()) < 100
    # the noisy sample is the DDPM mixture of the clean actions and the target noise
    a = diff.train_scheduler.alphas_cumprod[t].view(-1, 1, 1)
    assert torch.allclose(noisy, a.sqrt() * actions + (1 - a).sqrt() * target, atol=1e-5)


def test_inference_steps_can_be_set_at_deployment():
    """net.set_inference_steps(n): n denoiser calls per chunk from then on, same weights;
    a bad n is refused by name."""
    from models.network import MemoryDiffusionNet
    from tests.models.conftest import tiny_config

    net = MemoryDiffusionNet(tiny_config()).eval()
    before = {k: v.clone() for k, v in net.state_dict().items()}
    calls = []
    step = net.denoiser.step
    net.denoiser.step = lambda *a: calls.append(1) or step(*a)
    cond = torch.randn(2, net.cond_tokens, 32)
    for n, fast in ((5, True), (3, True), (2, False)):
        calls.clear()
        net.set_inference_steps(n)
        chunk = net.sample_actions(cond, fast=fast)
        assert len(calls) == n and net.cfg.diffusion.inference_steps == n
        assert chunk.shape == (2, 16, 5) and torch.isfinite(chunk).all()
    assert all(torch.equal(v, net.state_dict()[k]) for k, v in before.items())
    with pytest.raises(ValueError, match='inference_steps'):
        net.set_inference_steps(0)
