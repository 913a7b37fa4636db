"""Consolidation and forgetting: keep the store's growth bounded.

Growth is bounded first by construction (repeated observations of a static object update its
track row; repeated identical events are merged into one row with a count). On top of that,
``consolidate`` (run by LifelongMemory.consolidate, e.g. from a timer) does, in one
transaction:

1. forget spurious tracks: gone for ``forget_gone_after_s`` and seen at most
   ``spurious_max_obs`` times (a false detection), with their history and events;
2. thin old position history: rows older than ``history_keep_s`` keep one per track per
   ``history_bucket_s`` (the last of each bucket), so "where was X at t" stays answerable at
   a coarser time resolution;
3. let old low-value events decay: value = confidence x 0.5^(age / half-life) x
   (1 + ln repeats); events older than ``event_min_age_s`` whose value fell below
   ``event_forget_below`` are deleted, except the kinds in ``protected_kinds`` (episodes,
   subgoals, grasps, moves: what the planner reasons about);
4. drop sentences (and their vectors) that no row uses any more.

Episodes and facts are never forgotten here (superseded facts are history, kept on purpose).
"""

from __future__ import annotations

from dataclasses import dataclass
import math
import sqlite3


@dataclass(frozen=True)
class ForgetConfig:
    """Thresholds of consolidation and forgetting (seconds of stamp time)."""

    spurious_max_obs: int = 3
    forget_gone_after_s: float = 3600.0
    history_keep_s: float = 24 * 3600.0
    history_bucket_s: float = 60.0
    event_half_life_s: float = 7 * 24 * 3600.0
    event_min_age_s: float = 24 * 3600.0
    event_forget_below: float = 0.05
    protected_kinds: tuple = ('moved', 'grasped', 'released', 'button_pressed',
                              'episode_started', 'episode_ended', 'subgoal_started',
                              'subgoal_succeeded', 'subgoal_failed')

    def __post_init__(self):
        for name in ('forget_gone_after_s', 'history_keep_s', 'history_bucket_s',
                     'event_half_life_s', 'event_min_age_s'):
            value = getattr(self, name)
            if not (isinstance(value, (int, float)) and math.isfinite(value) and value > 0):
                raise ValueError(f'{name}={value!r}: must be a finite number > 0')
        if not 0 <= self.event_forget_below < 1:
            raise ValueError(f'event_forget_below={self.event_forget_below!r}: '
                             'expected a number in [0, 1)')


def consolidate(conn: sqlite3.Connection, now: float, cfg: ForgetConfig) -> dict:
    """Run the four steps at stamp time ``now`` inside the caller's transaction; return
    what was removed: {'tracks': [ids], 'positions': n, 'events': n, 'texts': [ids]}."""
    report = {'tracks': [], 'positions': 0, 'events': 0, 'texts': []}
    # 1. spurious tracks
    tracks = [r[0] for r in conn.execute(
        "SELECT id FROM tracks WHERE state = 'gone' AND n_obs <= ? AND last_report < ?",
        (cfg.spurious_max_obs, now - cfg.forget_gone_after_s))]
    freed_texts: set[int] = set()
    for start in range(0, len(tracks), 500):
        chunk = tracks[start:start + 500]
        marks = ','.join('?' * len(chunk))
        freed_texts.update(r[0] for r in conn.execute(
            f'SELECT DISTINCT text_id FROM events WHERE track_id IN ({marks})', chunk))
        report['events'] += conn.execute(
            f'DELETE FROM events WHERE track_id IN ({marks})', chunk).rowcount
        conn.execute(f'DELETE FROM track_positions WHERE track_id IN ({marks})', chunk)
        conn.execute(f'DELETE FROM track_aliases WHERE track_id IN ({marks})', chunk)
        conn.execute(f'DELETE FROM tracks WHERE id IN ({marks})', chunk)
    report['tracks'] = tracks
    # 2. thin old position history to one row per track per bucket
    cutoff = now - cfg.history_keep_s
    report['positions'] = conn.execute(
        'DELETE FROM track_positions WHERE t < ? AND id NOT IN ('
        '  SELECT MAX(id) FROM track_positions WHERE t < ? '
        '  GROUP BY track_id, CAST(t / ? AS INTEGER))',
        (cutoff, cutoff, cfg.history_bucket_s)).rowcount
    # 3. decay of old, unprotected events
    marks = ','.join('?' * len(cfg.protected_kinds)) or "''"
    value = ('COALESCE(confidence, 1.0) * pow(0.5, (? - t) / ?) * (1 + ln(max(repeats, 1)))')
    where = (f'WHERE t < ? AND kind NOT IN ({marks}) AND {value} < ?')
    args = (now - cfg.event_min_age_s, *cfg.protected_kinds, now, cfg.event_half_life_s,
            cfg.event_forget_below)
    freed_texts.update(r[0] for r in conn.execute(
        f'SELECT DISTINCT text_id FROM events {where}', args))
    report['events'] += conn.execute(f'DELETE FROM events {where}', args).rowcount
    # 4. sentences nobody uses any more
    gone = []
    for tid in freed_texts:
        if tid is None:
            continue
        used = conn.execute(
            'SELECT EXISTS(SELECT 1 FROM events WHERE text_id = ?) OR '
            'EXISTS(SELECT 1 FROM facts WHERE text_id = ?) OR '
            'EXISTS(SELECT 1 FROM episodes WHERE text_id = ?)', (tid, tid, tid)).fetchone()[0]
        if not used:
            gone.append(tid)
    conn.executemany('DELETE FROM texts WHERE id = ?', [(t,) for t in gone])
    report['texts'] = gone
    return report
