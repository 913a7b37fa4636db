"""Malformed input gets a ValueError naming the field and value, and the store is unchanged."""

import math

import pytest

from memory_nodes.lifelong_memory import (
    Fact,
    LifelongMemory,
    MemoryConfig,
    MemoryEvent,
    ObjectObservation,
    Query,
    QueryKind,
    StoreConfig,
)
from tests.lifelong_memory.conftest import see


def snapshot(mem):
    s = mem.stats()
    return {k: s[k] for k in ('spatial_tracks', 'temporal_events', 'episodes',
                              'semantic_facts', 'texts', 'track_positions')}


@pytest.mark.parametrize('bad, message', [
    (dict(position=(math.nan, 0, 0)), r'observations\[1\]\.position\[0\]=nan: must be finite'),
    (dict(position=(0, math.inf, 0)), r'position\[1\]=inf: must be finite'),
    (dict(position=(0, 0, 1e9)), r'position\[2\]=1000000000.0: must be within'),
    (dict(position=(0, 0)), r'position=\(0, 0\): expected 3 numbers, got 2'),
    (dict(label=''), r"label='': must not be empty"),
    (dict(label='   '), r"label='   ': must not be empty"),
    (dict(label='x' * 300), r'label has 300 characters'),
    (dict(extent=(1e6, 0.1, 0.1)), r'extent\[0\]=1000000.0: must be within \[0.0, 100.0\]'),
    (dict(extent=(-0.1, 0.1, 0.1)), r'extent\[0\]=-0.1'),
    (dict(confidence=1.5), r'confidence=1.5'),
    (dict(stamp=math.nan), r'stamp=nan'),
    (dict(rgb=(2.0, 0, 0)), r'rgb\[0\]=2.0'),
    (dict(position_covariance=(-1.0,) + (0.0,) * 8), r'position_covariance\[0\]=-1.0'),
    (dict(label=7), r'label=7: expected a string'),
])
def test_bad_observations_are_refused_and_nothing_is_stored(mem, bad, message):
    mem.ingest([see(0.0, 'cube', (0, 0, 0.8), 'red')]).result()
    before = snapshot(mem)
    good = see(1.0, 'ball', (0.5, 0, 0.8), 'blue')
    fields = dict(stamp=1.0, label='cup', position=(0.2, 0, 0.8))
    fields.update(bad)
    with pytest.raises(ValueError, match=message):
        mem.ingest([good, ObjectObservation(**fields)])
    mem.flush()
    assert snapshot(mem) == before          # not even the good observation of the batch
    assert mem.stats()['inputs_rejected'] == 1


def test_bad_events_facts_and_batches(mem):
    before = snapshot(mem)
    with pytest.raises(ValueError, match=r"kind='': must not be empty"):
        mem.log_event(MemoryEvent(1.0, '', 'red cube'))
    with pytest.raises(ValueError, match=r'position\[0\]=nan'):
        mem.log_event(MemoryEvent(1.0, 'moved', 'red cube', position=(math.nan, 0, 0)))
    with pytest.raises(ValueError, match=r"subject='': must not be empty"):
        mem.tell(Fact('', 'in', 'drawer', 1.0))
    with pytest.raises(ValueError, match=r'confidence=-0.5'):
        mem.tell(Fact('keys', 'in', 'drawer', 1.0, confidence=-0.5))
    with pytest.raises(ValueError, match=r'observations=.*expected a list'):
        mem.ingest(see(0, 'cube', (0, 0, 0)))
    with pytest.raises(ValueError, match=r'observations\[0\]=.*expected an ObjectObservation'):
        mem.ingest([{'label': 'cube'}])
    with pytest.raises(ValueError, match=r'summary: not JSON-serialisable'):
        mem.end_episode('e', 'success', 1.0, {'x': math.nan})
    mem.flush()
    assert snapshot(mem) == before


@pytest.mark.parametrize('query, message', [
    (Query(kind=9, text='x'), 'kind is 9'),
    (Query(kind='teleport', text='x'), "kind is 'teleport'"),
    (Query(kind=QueryKind.WHERE, text=''), "a 'where' query needs a subject"),
    (Query(kind=QueryKind.WHERE, text='x', k=10**6), 'k is 1000000; the limit is 100'),
    (Query(kind=QueryKind.WHEN, text='x', time_start=5.0, time_end=1.0),
     'time_start 5.0 is after time_end 1.0'),
    (Query(kind=QueryKind.WHEN, text='x', time_end=math.nan), 'time_end is nan'),
    (Query(kind=QueryKind.WHEN, text='x', time_end='soon'), "time_end='soon'"),
])
def test_bad_queries_name_the_field(mem, query, message):
    with pytest.raises(ValueError, match=message):
        mem.query(query)


def test_bad_configs_name_the_field():
    with pytest.raises(ValueError, match="embedding='sometimes'"):
        MemoryConfig(embedding='sometimes')
    with pytest.raises(ValueError, match='max_batch_delay_s=0.5'):
        StoreConfig(max_batch_delay_s=0.5)
    with pytest.raises(ValueError, match="synchronous='MAYBE'"):
        StoreConfig(synchronous='MAYBE')
    with pytest.raises(ValueError, match='folder .* does not exist'):
        LifelongMemory('/nonexistent/folder/x.db')
