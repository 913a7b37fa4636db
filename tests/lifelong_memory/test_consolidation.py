"""Consolidation and forgetting keep growth bounded without losing what the planner uses;
the parallel four-bank recall answers from every bank."""

import numpy as np
import pytest

from memory_nodes.lifelong_memory import Bank, Fact, MemoryEvent, Query, QueryKind
from tests.lifelong_memory.conftest import play, see, ticks

DAY = 24 * 3600.0


def test_forgetting_spurious_tracks_old_history_and_decayed_events(mem):
    # a real object seen for a while, and a false detection seen twice
    play(mem, [(t, [see(t, 'cube', (0.3, 0, 0.8), 'red')]) for t in ticks(0, 2)])
    play(mem, [(t, [see(t, 'ghost', (1.0, 1.0, 0.8))]) for t in (2.0, 2.1)])
    # the cube moves every 10 s for a day and a half: position history and events pile up
    x = 0.3
    for i in range(1, 13000, 1000):
        x = 0.9 - x
        t = 10.0 * i
        play(mem, [(t + j / 10, [see(t + j / 10, 'cube', (x, 0, 0.8), 'red')])
                   for j in range(3)])
    old_noise = [MemoryEvent(100.0 + i, 'flickered', f'lamp {i}', confidence=0.2)
                 for i in range(20)]
    for e in old_noise:
        mem.log_event(e)
    mem.log_event(MemoryEvent(50.0, 'grasped', 'red cube', confidence=0.2))
    mem.flush()
    before = mem.stats()
    assert before['spatial_tracks'] == 2
    now = 40 * DAY
    report = mem.consolidate(now=now).result()
    after = mem.stats()
    assert after['spatial_tracks'] == 1 and len(report['tracks']) == 1
    assert mem.query(Query(kind=QueryKind.WHERE, text='ghost')).count == 0
    assert report['positions'] > 0
    assert after['track_positions'] < before['track_positions']
    # old low-value events are gone, protected kinds stay
    assert mem.query(Query(kind=QueryKind.HOW_MANY, text='lamp flickered')).count == 0
    assert mem.query(Query(kind=QueryKind.WHEN, text='red cube grasped')).count == 1
    assert mem.query(Query(kind=QueryKind.WHEN, text='red cube moved')).count > 5
    assert after['texts'] < before['texts']          # their sentences went too
    # nothing recent is touched by a second pass
    again = mem.consolidate(now=now).result()
    assert again['tracks'] == [] and again['events'] == 0


def test_recall_asks_the_four_banks_in_parallel(mem):
    play(mem, [(t, [see(t, 'cube', (0.3, 0, 0.8), 'red')]) for t in ticks(0, 1)])
    mem.log_event(MemoryEvent(2.0, 'grasped', 'red cube')).result()
    mem.start_episode('e1', 'put the red cube in the bin', 3.0).result()
    mem.tell(Fact('red cube', 'belongs_in', 'toy box', 4.0)).result()
    res = mem.recall('red cube', k=5)
    assert 'spatial: 1' in res.message and 'episodic: 1' in res.message
    banks = {e.bank for e in res.results}
    assert {Bank.SPATIAL, Bank.TEMPORAL, Bank.EPISODIC, Bank.SEMANTIC} <= banks
    serial = mem.recall('red cube', k=5, parallel=False)
    key = [(e.bank, e.entry_id) for e in serial.results]
    assert sorted(key) == sorted((e.bank, e.entry_id) for e in res.results)


def test_occupancy_map_from_clouds(mem):
    rng = np.random.default_rng(0)
    table = np.column_stack([rng.uniform(0, 1, 5000), rng.uniform(0, 1, 5000),
                             np.full(5000, 0.74)])
    touched = mem.ingest_cloud(table, 1.0).result()
    size = mem.stats()['voxels']
    assert size == touched and 300 <= size <= 441      # 20 x 20 cells of 5 cm, one layer
    mem.ingest_cloud(table, 2.0).result()              # the same scene again: no new rows
    assert mem.stats()['voxels'] == size
    near = mem.occupied((0.5, 0.5, 0.74), 0.1)
    assert near and near[0]['distance'] <= 0.05 and near[0]['last_seen'] == 2.0
    assert mem.occupied((0.5, 0.5, 1.5), 0.1) == []    # nothing above the table
    with pytest.raises(ValueError, match=r'points\[3\]=\[nan, 0.0, 0.0\]: must be finite'):
        bad = np.zeros((5, 3))
        bad[3, 0] = np.nan
        mem.ingest_cloud(bad, 3.0)
    with pytest.raises(ValueError, match=r'points shape=\(4, 2\)'):
        mem.ingest_cloud(np.zeros((4, 2)), 3.0)
