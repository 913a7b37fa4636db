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


def grown_pair(tmp_path, grow_flag: str, *flags: str):
    """Train a tiny checkpoint on synthetic data (3 steps, with `flags`), then grow it with
    `grow_flag` at a vanishing learning rate -> (checkpoint, grown checkpoint) networks."""
    from models.checkpoint import load_checkpoint
    from models.train import main

    common = ['--synthetic', '4', '--steps', '3', '--batch', '2', '--no-progress',
              '--device', 'cpu', '--width', '32', '--layers', '1', *flags]
    assert main([*common, '--out', str(tmp_path / 'a')]) == 0
    assert main([*common, '--out', str(tmp_path / 'b'), '--lr', '1e-12', grow_flag,
                 '--init-from', str(tmp_path / 'a')]) == 0
    return load_checkpoint(tmp_path / 'a')[0], load_checkpoint(tmp_path / 'b')[0]


def fuse_inputs(net, batch: int = 2, entries: int = 5) -> tuple:
    """Random inputs of `net.fuse` with a full bank and visible object slots:
    (perceptual, cognitive, now, bank, objects)."""
    d, n_p = net.cfg.encoder.width, net.cfg.encoder.perceptual_tokens
    k, d_obj = net.cfg.encoder.object_slots, net.cfg.encoder.object_dim
    objects = torch.rand(batch, k, d_obj)
    objects[..., 0] = 1.0
    bank = (torch.randn(batch, entries, n_p, d), torch.randn(batch, entries, d),
            torch.arange(float(entries)).expand(batch, entries),
            torch.ones(batch, entries, dtype=torch.bool))
    return (torch.randn(batch, n_p, d), torch.randn(batch, d),
            torch.full((batch,), entries + 4.0), bank, objects)


def run_policy(net, steps: int = 6):
    """Run `net` as a MemoryDiffusionPolicy for `steps` steps of the synthetic cups task
    (every action finite) -> the policy."""
    from models.policy import MemoryDiffusionPolicy
    from models.synthetic import SyntheticCupsEnv

    env = SyntheticCupsEnv(seed=0)
    policy = MemoryDiffusionPolicy(net, device='cpu', seed=0)
    policy.reset(text_embedding=np.zeros((1, 384), np.float32))
    obs = env.reset()
    for _ in range(steps):
        action = policy.select_action(obs)
        assert np.all(np.isfinite(action)), action
        obs, _, _ = env.step(action)
    return policy


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
