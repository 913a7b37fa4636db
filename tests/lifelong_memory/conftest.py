"""Scripted observation streams for the lifelong memory tests."""

import pytest

from memory_nodes.lifelong_memory import LifelongMemory, ObjectObservation


def see(t, label, pos, color='', visible=True, state='', track_id='', extent=(0.05,) * 3):
    """One observation as the preprocessor would send it."""
    return ObjectObservation(stamp=t, label=label, color=color, position=tuple(pos),
                             visible=visible, state=state, track_id=track_id, extent=extent,
                             position_covariance=(1e-5, 0, 0, 0, 1e-5, 0, 0, 0, 1e-5))


def play(mem, frames, episode_id=''):
    """Ingest frames [(t, [observations])] one batch per frame; wait until durable."""
    futures = [mem.ingest(obs, episode_id) for _, obs in frames]
    for f in futures:
        f.result(timeout=30)


def ticks(t0, t1, hz=10.0):
    n = int(round((t1 - t0) * hz))
    return [t0 + i / hz for i in range(n)]


@pytest.fixture
def mem():
    m = LifelongMemory(':memory:')
    yield m
    m.close()
