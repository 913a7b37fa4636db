"""PolicyInputRecorder: one .npz per episode of what the action-expert node's policy saw and
answered, written when the episode changes or ends, read back by load_policy_inputs."""

import numpy as np

from memory_nodes.policy_inputs import PolicyInputRecorder, load_policy_inputs


def _obs(k):
    return {'rgb': np.full((8, 8, 3), k, np.uint8), 'proprio': np.arange(11, dtype=np.float32) + k,
            'objects': np.full((3, 10), k, np.float32), 'phase': np.int64(k % 3)}


def test_recorder_writes_one_file_per_episode_and_ignores_late_steps(tmp_path):
    rec = PolicyInputRecorder(tmp_path / 'rec')
    for k in range(4):
        rec.add('shell_game-1/memory', k, 0.1 * k, _obs(k), np.full((16, 5), k), 20.0 + k)
    rec.add('ep b', 0, 5.0, _obs(9), np.zeros((16, 5)), 1.0)  # a new episode writes the old
    assert [p.name for p in rec.written] == ['shell_game-1_memory.npz']
    first = load_policy_inputs(rec.written[0])
    assert first['episode_id'] == 'shell_game-1/memory'
    assert list(first['step']) == [0, 1, 2, 3]
    np.testing.assert_allclose(first['stamp'], [0.0, 0.1, 0.2, 0.3])
    assert first['image'].shape == (4, 8, 8, 3) and first['image'].dtype == np.uint8
    np.testing.assert_array_equal(first['proprio'][2], np.arange(11) + 2)
    assert first['objects'].shape == (4, 3, 10) and first['chunk'].shape == (4, 16, 5)
    np.testing.assert_array_equal(first['phase'], [0, 1, 2, 0])
    rec.add('shell_game-1/memory', 4, 0.4, _obs(4), np.zeros((16, 5)), 1.0)  # late: ignored
    second = rec.flush()
    assert second.name == 'ep_b.npz' and rec.flush() is None  # nothing left to write
    assert len(load_policy_inputs(second)['step']) == 1
    assert list(load_policy_inputs(rec.written[0])['step']) == [0, 1, 2, 3]  # not overwritten
    assert (second.stat().st_mode & 0o777) == 0o600


def test_a_failed_write_loses_that_episode_only(tmp_path):
    folder = tmp_path / 'rec'
    rec = PolicyInputRecorder(folder)
    rec.add('a', 0, 0.0, _obs(0), np.zeros((16, 5)), 1.0)
    (folder / 'a.npz').mkdir()  # where episode 'a' goes: its write fails (root too)
    rec.add('b', 0, 1.0, _obs(1), np.zeros((16, 5)), 1.0)
    assert len(rec.failed) == 1 and rec.failed[0].startswith('a: ')
    rec.add('a', 1, 0.1, _obs(1), np.zeros((16, 5)), 1.0)  # a late step of 'a': ignored
    path = rec.flush()
    assert path.name == 'b.npz' and len(load_policy_inputs(path)['step']) == 1
    assert rec.flush() is None
