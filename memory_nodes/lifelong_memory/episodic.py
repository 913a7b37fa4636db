"""Episodic bank: whole episodes (instruction, subgoals, outcome, duration, key frames,
trajectory summary) kept in the store, so they outlive the process.

Starting, ending and every subgoal status change also go into the event log
(``episode_started``, ``subgoal_succeeded``, ...), so the temporal bank can order and count
them. "What happened the last time I was asked to do this" is ``last_like(instruction)``:
the most recent episode whose instruction has the same words, else the most similar one.
"""

from __future__ import annotations

import json
import sqlite3
import threading

from .naming import jaccard, words
from .records import Bank, Episode, MemoryEntry, MemoryEvent

SUBGOAL_STATUSES = ('started', 'succeeded', 'failed')
OUTCOMES = ('success', 'failure', 'aborted', 'timeout')

_EPISODE_COLUMNS = ('id, episode_id, instruction, started, ended, outcome, subgoals, '
                    'key_frames, trajectory, recorded')


class EpisodicBank:
    """Writes and reads the ``episodes`` table; keeps a word index of the instructions so
    that "episodes like this instruction" touches only episodes sharing a word with it."""

    def __init__(self):
        self._lock = threading.Lock()
        self._words: dict[int, tuple[frozenset, float]] = {}   # row id -> (words, started)
        self._by_word: dict[str, set[int]] = {}

    def load(self, conn: sqlite3.Connection) -> None:
        """(Re)build the word index from the database."""
        with self._lock:
            self._words.clear()
            self._by_word.clear()
        for row_id, instruction, started in conn.execute(
                'SELECT id, instruction, started FROM episodes'):
            self._index(row_id, instruction or '', started)

    def _index(self, row_id: int, instruction: str, started: float) -> None:
        ws = frozenset(words(instruction))
        with self._lock:
            self._words[row_id] = (ws, started)
            for w in ws:
                self._by_word.setdefault(w, set()).add(row_id)

    # ------------------------------------------------------------------ writer side
    def start(self, conn: sqlite3.Connection, episode_id: str, instruction: str, stamp: float,
              recorded: float, text_id: int) -> tuple[int, MemoryEvent]:
        if conn.execute('SELECT 1 FROM episodes WHERE episode_id = ?',
                        (episode_id,)).fetchone():
            raise ValueError(f'episode_id={episode_id!r}: this episode was already started')
        cur = conn.execute(
            'INSERT INTO episodes (episode_id, instruction, started, subgoals, key_frames, '
            'trajectory, text_id, recorded) VALUES (?, ?, ?, ?, ?, ?, ?, ?)',
            (episode_id, instruction, stamp, '[]', '[]', '{}', text_id, recorded))
        self._index(cur.lastrowid, instruction, stamp)
        return cur.lastrowid, MemoryEvent(
            stamp=stamp, kind='episode_started', subject='episode', object=episode_id,
            episode_id=episode_id, text=f'episode {episode_id} started: {instruction}',
            source='episodic')

    def _row(self, conn, episode_id: str):
        row = conn.execute(f'SELECT {_EPISODE_COLUMNS} FROM episodes WHERE episode_id = ?',
                           (episode_id,)).fetchone()
        if row is None:
            raise ValueError(f'episode_id={episode_id!r}: no such episode (start it first)')
        return row

    def subgoal(self, conn: sqlite3.Connection, episode_id: str, name: str, status: str,
                stamp: float, recorded: float) -> MemoryEvent:
        row = self._row(conn, episode_id)
        subgoals = json.loads(row[6])
        subgoals.append({'t': stamp, 'name': name, 'status': status})
        conn.execute('UPDATE episodes SET subgoals = ?, recorded = ? WHERE id = ?',
                     (json.dumps(subgoals), recorded, row[0]))
        return MemoryEvent(stamp=stamp, kind=f'subgoal_{status}', subject=name,
                           episode_id=episode_id, text=f'subgoal {name} {status}',
                           source='episodic')

    def end(self, conn: sqlite3.Connection, episode_id: str, outcome: str, stamp: float,
            summary: dict, recorded: float) -> MemoryEvent:
        row = self._row(conn, episode_id)
        if row[4] is not None:
            raise ValueError(f'episode_id={episode_id!r}: this episode already ended '
                             f'at t={row[4]}')
        if stamp < row[3]:
            raise ValueError(f'stamp={stamp}: before the episode started (t={row[3]})')
        summary = dict(summary)
        key_frames = summary.pop('key_frames', [])
        conn.execute('UPDATE episodes SET ended = ?, outcome = ?, key_frames = ?, '
                     'trajectory = ?, recorded = ? WHERE id = ?',
                     (stamp, outcome, json.dumps(key_frames), json.dumps(summary), recorded,
                      row[0]))
        return MemoryEvent(stamp=stamp, kind='episode_ended', subject='episode',
                           object=episode_id, episode_id=episode_id,
                           text=f'episode {episode_id} ended: {outcome} after '
                                f'{stamp - row[3]:.1f} s', source='episodic')

    # ------------------------------------------------------------------ reader side
    @staticmethod
    def episode(row) -> Episode:
        return Episode(episode_id=row[1], instruction=row[2], started=row[3], ended=row[4],
                       outcome=row[5], subgoals=json.loads(row[6]),
                       key_frames=json.loads(row[7]), trajectory_summary=json.loads(row[8]),
                       row_id=row[0])

    def get(self, conn: sqlite3.Connection, episode_id: str) -> Episode | None:
        row = conn.execute(f'SELECT {_EPISODE_COLUMNS} FROM episodes WHERE episode_id = ?',
                           (episode_id,)).fetchone()
        return None if row is None else self.episode(row)

    def recent(self, conn: sqlite3.Connection, n: int = 10) -> list[Episode]:
        rows = conn.execute(f'SELECT {_EPISODE_COLUMNS} FROM episodes ORDER BY started DESC '
                            'LIMIT ?', (n,)).fetchall()
        return [self.episode(r) for r in rows]

    def like(self, conn: sqlite3.Connection, instruction: str, k: int = 5
             ) -> list[tuple[Episode, float]]:
        """Episodes whose instruction shares words with ``instruction``, best first
        (Jaccard of the word sets; ties: the most recent)."""
        wanted = set(words(instruction))
        if not wanted:
            return []
        with self._lock:
            ids = set().union(*(self._by_word.get(w, ()) for w in wanted))
            scored = [(i, jaccard(wanted, self._words[i][0]), self._words[i][1]) for i in ids]
        scored.sort(key=lambda item: (-item[1], -item[2]))
        out = []
        for row_id, score, _ in scored[:k]:
            row = conn.execute(f'SELECT {_EPISODE_COLUMNS} FROM episodes WHERE id = ?',
                               (row_id,)).fetchone()
            if row is not None:   # None: written by a batch that was rolled back
                out.append((self.episode(row), score))
        return out

    def last_like(self, conn: sqlite3.Connection, instruction: str) -> Episode | None:
        """The most recent finished-or-running episode with the best-matching instruction."""
        best = self.like(conn, instruction, k=1)
        return best[0][0] if best else None

    def by_text_ids(self, conn: sqlite3.Connection, text_ids) -> dict[int, list[MemoryEntry]]:
        out = {}
        for tid in text_ids:
            rows = conn.execute(f'SELECT {_EPISODE_COLUMNS} FROM episodes WHERE text_id = ? '
                                'ORDER BY started DESC LIMIT 2', (int(tid),)).fetchall()
            if rows:
                out[int(tid)] = [self.entry(self.episode(r)) for r in rows]
        return out

    @staticmethod
    def entry(ep: Episode, score: float = 1.0) -> MemoryEntry:
        outcome = ep.outcome or 'running'
        done = [s['name'] for s in ep.subgoals if s['status'] == 'succeeded']
        failed = [s['name'] for s in ep.subgoals if s['status'] == 'failed']
        text = f'episode {ep.episode_id} "{ep.instruction}": {outcome}'
        if ep.duration is not None:
            text += f' in {ep.duration:.1f} s'
        if done:
            text += f'; done: {", ".join(done)}'
        if failed:
            text += f'; failed: {", ".join(failed)}'
        return MemoryEntry(bank=Bank.EPISODIC, entry_id=ep.row_id, stamp=ep.started,
                           recorded=ep.ended if ep.ended is not None else ep.started,
                           episode_id=ep.episode_id, score=score, kind=outcome,
                           subject=ep.episode_id, object=ep.instruction[:128], text=text,
                           source='episodic')
