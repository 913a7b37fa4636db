"""models.record_demos: meta.json describes the whole folder after a recording run."""

import json

from models.record_demos import folder_meta


def test_a_second_recording_run_keeps_the_first_runs_tasks(tmp_path):
    for task, seeds in (('shell_game', (1, 2)), ('count', (1,))):
        (tmp_path / task).mkdir()
        for seed in seeds:
            (tmp_path / task / f'ep_{seed}_memory.npz').write_bytes(b'')
    (tmp_path / 'meta.json').write_text(json.dumps(
        {'tasks': ['shell_game'], 'modes': ['memory'], 'seeds': '1-2',
         'episodes': {'shell_game': 2}}))
    meta = folder_meta(tmp_path, {'tasks': ['count'], 'modes': ['oracle'], 'seeds': '1'})
    assert meta['tasks'] == ['count', 'shell_game']
    assert meta['episodes'] == {'count': 1, 'shell_game': 2}
    assert meta['modes'] == ['memory', 'oracle']
    assert [r['tasks'] for r in meta['recordings']] == [['shell_game'], ['count']]


def test_perception_objects_are_recorded_resumed_and_never_mixed_with_sim_ones(tmp_path):
    """--objects perception: the episode's slots are the graph's (perception-made, ordered
    by the node's slot table: the shell game's cups in their seen order, not the task's);
    --resume skips what is there; a folder holds one kind of objects."""
    import numpy as np
    import pytest

    from models.episodes import load_episode, read_meta
    from models.record_demos import main

    args = ['--out', str(tmp_path), '--tasks', 'shell_game', '--seeds', '1000',
            '--modes', 'memory', '--workers', '1']
    assert main([*args, '--objects', 'perception']) == 0
    path = tmp_path / 'shell_game' / 'ep_1000_memory.npz'
    ep = load_episode(path)
    assert ep.objects.shape[1:] == (10, 10)
    assert main(['--out', str(tmp_path / 'sim'), '--tasks', 'shell_game', '--seeds', '1000',
                 '--modes', 'memory', '--workers', '1']) == 0
    sim_objects = load_episode(tmp_path / 'sim' / 'shell_game' / 'ep_1000_memory.npz').objects
    assert len(sim_objects) == len(ep.objects)  # the same expert episode
    seen = ep.objects[0, :, 0] > 0.5
    assert seen.sum() == (sim_objects[0, :, 0] > 0.5).sum() >= 3
    assert not np.allclose(ep.objects[0, seen], sim_objects[0, :seen.sum()])
    assert read_meta(tmp_path)['recordings'][0]['objects'] == 'perception'
    stamp = path.stat().st_mtime_ns
    assert main([*args, '--objects', 'perception', '--resume']) == 0
    assert path.stat().st_mtime_ns == stamp  # skipped, not recorded again
    with pytest.raises(ValueError, match='--objects sim.*recorded with --objects perception'):
        main([*args, '--objects', 'sim'])


def test_knobs_are_recorded_and_a_seed_clash_with_other_knobs_is_refused(tmp_path):
    """--knob: remember colour recorded with five cubes (a slot for each),
    the run's knobs in meta.json; the same seeds with other knobs, or an unknown knob, are
    refused with what clashes."""
    import pytest

    from models.episodes import load_episode, read_meta
    from models.record_demos import main

    args = ['--out', str(tmp_path), '--tasks', 'remember_color', '--modes', 'memory',
            '--workers', '1']
    assert main([*args, '--seeds', '3000', '--knob', 'num_candidates=5']) == 0
    ep = load_episode(tmp_path / 'remember_color' / 'ep_3000_memory.npz')
    assert ep.objects.shape[1] == 5 + 2  # a slot per cube, the cue cube's and the goal's
    assert read_meta(tmp_path)['recordings'][0]['knobs'] == {'num_candidates': 5}
    with pytest.raises(ValueError, match=r"remember_color seeds 3000-3000 knobs "
                                         r"\{'num_candidates': 5\}"):
        main([*args, '--seeds', '2999-3001'])
    with pytest.raises(ValueError, match='cube_count'):
        main([*args, '--seeds', '3001', '--knob', 'cube_count=5'])
