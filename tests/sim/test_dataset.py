"""The episode file format: a round trip keeps every field; broken episodes are refused."""

import numpy as np
import pytest

from sim.dataset import (
    OBJECT_DIM,
    PROPRIO_DIM,
    EpisodeData,
    list_episodes,
    load_episode,
    save_episode,
    write_meta,
)


def make_episode(t=7, k=3, size=16):
    rng = np.random.default_rng(0)
    return EpisodeData(
        task='shell_game', seed=4, mode='memory', instruction='Lift the cup.', success=True,
        rgb=rng.integers(0, 255, (t, size, size, 3), dtype=np.uint8),
        wrist_rgb=rng.integers(0, 255, (t, size, size, 3), dtype=np.uint8),
        proprio=rng.normal(size=(t, PROPRIO_DIM)).astype(np.float32),
        objects=rng.normal(size=(t, k, OBJECT_DIM)).astype(np.float32),
        object_names=['cup0', 'cup1', 'goal'],
        action=rng.normal(size=(t, 5)).astype(np.float32),
        phase=np.array([0, 0, 1, 1, 2, 2, 2], np.int8),
        gt_positions=rng.normal(size=(t, k, 3)).astype(np.float32),
        hidden={'ball_cup': 1, 'swaps': [[0, 1]]})


def test_round_trip_keeps_every_field(tmp_path):
    ep = make_episode()
    path = save_episode(tmp_path / 'shell_game' / 'ep_4_memory.npz', ep)
    back = load_episode(path)
    for name in ('rgb', 'wrist_rgb', 'proprio', 'objects', 'action', 'phase', 'gt_positions'):
        np.testing.assert_array_equal(getattr(back, name), getattr(ep, name))
        assert getattr(back, name).dtype == getattr(ep, name).dtype
    assert (back.task, back.seed, back.mode, back.success) == ('shell_game', 4, 'memory', True)
    assert back.hidden == ep.hidden and back.object_names == ep.object_names
    with np.load(path, allow_pickle=False) as npz:  # plain arrays only
        assert set(npz.files) >= {'rgb', 'hidden'}
    write_meta(tmp_path, {'tasks': ['shell_game']})
    assert list_episodes(tmp_path) == [path]
    assert list_episodes(tmp_path, mode='oracle') == []


def test_bad_episode_names_the_field(tmp_path):
    ep = make_episode()
    ep.proprio = ep.proprio[:, :4]
    with pytest.raises(ValueError, match='proprio'):
        save_episode(tmp_path / 'x.npz', ep)
    ep = make_episode()
    ep.mode = 'cheat'
    with pytest.raises(ValueError, match='mode'):
        save_episode(tmp_path / 'x.npz', ep)
    ep = make_episode()
    ep.phase = ep.phase[:3]
    with pytest.raises(ValueError, match='phase'):
        save_episode(tmp_path / 'x.npz', ep)
