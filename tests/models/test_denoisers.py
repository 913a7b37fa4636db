"""The three denoisers: output shapes, conditioning actually reaches the output, gradients."""

import pytest
import torch

from models.config import DenoiserConfig
from models.denoisers import build_denoiser

KINDS = ['transformer_adaln', 'transformer_xattn', 'unet']


def perturb(module):
    """Zero-initialised output layers make a fresh net ignore its inputs; wake them up."""
    with torch.no_grad():
        for p in module.parameters():
            p.add_(0.05 * torch.randn_like(p))


@pytest.mark.parametrize('kind', KINDS)
def test_shapes_and_conditioning(kind):
    cfg = DenoiserConfig(kind=kind, width=32, layers=2, heads=2, unet_dims=(16, 32, 64),
                         unet_cond_dim=32)
    net = build_denoiser(cfg, action_dim=5, horizon=16, cond_tokens=5, cond_width=32)
    perturb(net)
    x, t = torch.randn(3, 16, 5), torch.tensor([0, 10, 99])
    cond = torch.randn(3, 5, 32)
    out = net(x, t, cond)
    assert out.shape == (3, 16, 5)
    other = net(x, t, cond + torch.randn_like(cond))
    assert float((out - other).detach().abs().max()) > 1e-4, 'memory tokens must change the output'
    out.pow(2).mean().backward()
    grads = [p.grad for p in net.parameters() if p.requires_grad]
    assert all(g is not None and bool(torch.isfinite(g).all()) for g in grads)
