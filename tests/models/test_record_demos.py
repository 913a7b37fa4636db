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
