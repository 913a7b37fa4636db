"""A tiny untrained checkpoint with the input sizes the action expert node builds (11
proprio values, 6 object slots of 10 features), for tests that start the node on it; it plans every
policy step (one chunk per scene image)."""

import torch


def save_tiny_node_checkpoint(folder):
    """Build, normalise (random statistics) and save the tiny network; return its folder."""
    from models.checkpoint import save_checkpoint
    from models.config import PolicyConfig
    from models.network import MemoryDiffusionNet

    cfg = PolicyConfig(
        encoder=dict(width=32, heads=2, cnn_channels=(8, 16, 16, 32), proprio_dim=11,
                     object_slots=6, object_dim=10, perceptual_tokens=4),
        memory=dict(capacity=8, write_every=4, heads=2),
        denoiser=dict(width=32, layers=2, heads=2, unet_dims=(16, 32, 64), unet_cond_dim=32),
        diffusion=dict(train_timesteps=50, inference_steps=5, replan_every=1))
    torch.manual_seed(0)
    net = MemoryDiffusionNet(cfg)
    n = 64
    net.normalizer.fit({'action': torch.rand(n, 5), 'proprio': torch.rand(n, 11),
                        'objects': torch.rand(n, 10)})
    return save_checkpoint(folder, net, {'command': 'test fixture (untrained)', 'seed': 0})
