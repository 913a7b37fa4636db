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
