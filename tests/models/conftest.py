"""Shared fixtures of the models tests: a tiny config and a few synthetic episodes."""

import numpy as np
import pytest
import torch

from models.config import PolicyConfig
from models.episodes import Episode
from models.synthetic import record_episode


def tiny_config(**denoiser) -> PolicyConfig:
    """A small network (seconds to train a few steps on the CPU) for the synthetic task."""
    return PolicyConfig(
        encoder=dict(width=32, heads=2, cnn_channels=(8, 16, 16, 32), proprio_dim=5,
                     object_slots=3, object_dim=9, perceptual_tokens=4),
        memory=dict(capacity=8, write_every=4, heads=2),
        denoiser=dict(width=32, layers=2, heads=2, unet_dims=(16, 32, 64),
                      unet_cond_dim=32, **denoiser),
        diffusion=dict(train_timesteps=50, inference_steps=5),
        train=dict(steps=60, batch_episodes=4, queries_per_episode=4, lr=1e-3,
                   warmup_steps=5))


def as_episode(data: dict) -> Episode:
    return Episode(task=data['task'], seed=data['seed'], mode=data['mode'],
                   instruction=data['instruction'], success=data['success'], rgb=data['rgb'],
                   wrist_rgb=data['wrist_rgb'], proprio=data['proprio'],
                   objects=data['objects'], phase=data['phase'].astype(np.int64),
                   action=data['action'])


@pytest.fixture(scope='session')
def synthetic_episodes() -> list[Episode]:
    return [as_episode(record_episode(seed)) for seed in range(6)]


@pytest.fixture(autouse=True)
def _seed_and_threads():
    torch.manual_seed(0)
    torch.set_num_threads(1)  # 2 shared cores: a second thread mostly spins
    yield
