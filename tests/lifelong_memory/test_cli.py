"""The `memory` CLI over a memory file: query (kind guessed or named), stats, export."""

import json
import subprocess
import sys

import pytest

from memory_nodes.lifelong_memory import Fact, LifelongMemory, MemoryEvent
from memory_nodes.lifelong_memory.cli import guess_kind, main
from tests.lifelong_memory.conftest import play, see, ticks


@pytest.fixture
def db(tmp_path):
    path = str(tmp_path / 'robot.db')
    with LifelongMemory(path) as mem:
        play(mem, [(t, [see(t, 'cube', (0.3, 0, 0.8), 'red')]) for t in ticks(0, 1)], 'e1')
        play(mem, [(t, [see(t, 'cube', (0.6, 0.2, 0.8), 'red')]) for t in ticks(5, 6)], 'e1')
        mem.log_event(MemoryEvent(2.0, 'grasped', 'red cube', episode_id='e1'))
        mem.tell(Fact('keys', 'in', 'drawer', 1.0))
    return path


def test_query_where_and_when(db, capsys):
    assert main(['query', 'where is the red cube', '--db', db]) == 0
    out = capsys.readouterr().out
    assert out.startswith('where:') and 'red cube is at (0.60, 0.20, 0.80)' in out
    assert main(['query', 'when did the red cube move', '--db', db, '--json']) == 0
    res = json.loads(capsys.readouterr().out)
    assert res['kind'] == 'when' and res['results'][0]['stamp'] == 5.0
    assert main(['query', 'red cube', '--kind', 'how_many', '--db', db]) == 0
    assert 'count: 1' in capsys.readouterr().out


def test_stats_and_export(db, capsys, tmp_path):
    assert main(['stats', '--db', db, '--json']) == 0
    stats = json.loads(capsys.readouterr().out)
    assert stats['spatial_tracks'] == 1 and stats['semantic_facts'] == 1
    assert stats['temporal_events'] >= 3
    out = tmp_path / 'dump.jsonl'
    assert main(['export', '--db', db, '--out', str(out)]) == 0
    rows = [json.loads(line) for line in out.read_text().splitlines()]
    tables = {r['table'] for r in rows}
    assert {'tracks', 'events', 'facts', 'texts'} <= tables
    track = next(r for r in rows if r['table'] == 'tracks')
    assert track['name'] == 'red cube' and len(track['cov']) == 9


def test_errors_are_one_line_and_exit_2(tmp_path, capsys, db):
    assert main(['stats', '--db', str(tmp_path / 'missing.db')]) == 2
    assert 'no such memory file' in capsys.readouterr().err
    assert main(['query', 'where', '--db', db, '--k', '100000']) == 2
    assert 'k is 100000' in capsys.readouterr().err


def test_kind_guessing():
    assert guess_kind('Where was the cup') == 0 and guess_kind('how many leds lit') == 3
    assert guess_kind('what happened in episode 3') == 2 and guess_kind('When did it move') == 1
    assert guess_kind('keys') == 4


def test_runs_as_a_program_beside_a_writer(db):
    with LifelongMemory(db) as writer:      # a node holding the file open for writing
        writer.log_event(MemoryEvent(9.0, 'released', 'red cube', 'bin')).result()
        proc = subprocess.run([sys.executable, '-m', 'memory_nodes.lifelong_memory.cli',
                               'query', 'what happened to the red cube', '--db', db],
                              capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert 'red cube released' in proc.stdout.splitlines()[-1]
