"""Semantic bank: a knowledge graph of subject-predicate-object facts with confidence and
time, updated by conflict-aware reconsolidation.

- The same fact told again confirms it: ``last_confirmed`` moves on and the confidence rises
  (noisy-or of the two confidences).
- For a single-valued predicate (the default: 'in', 'color', 'owner', ...) a fact with another
  object contradicts the current one. The newer one (by stamp) wins: the older row stays,
  pointing at its successor (``superseded_by``, ``superseded_at``) and the change is written
  to ``fact_changes``; nothing is overwritten. Late news (a contradicting fact older than the
  current one) is kept as already superseded.
- Multi-valued predicates (``SemanticConfig.multi_valued``: 'near', 'has', ...) keep every
  object.

Text search over facts, events and episodes goes through their sentences in ``texts``; see
memory.py for the embedding and index side.
"""

from __future__ import annotations

from dataclasses import dataclass
import sqlite3

from .records import Bank, Fact, MemoryEntry

LOCATIVE_PREDICATES = ('in', 'on', 'under', 'at', 'inside', 'is_in', 'is_on', 'located_at',
                       'location', 'kept_in', 'stored_in', 'left_in', 'left_on')

_FACT_COLUMNS = ('id, subject, predicate, object, t, confidence, last_confirmed, source, '
                 'episode_id, superseded_by, superseded_at, recorded')


@dataclass(frozen=True)
class SemanticConfig:
    """Which predicates may hold several objects at once."""

    multi_valued: tuple = ('near', 'has', 'contains', 'is_a', 'part_of', 'next_to', 'likes',
                           'can', 'used_for')


def fact_sentence(subject: str, predicate: str, obj: str) -> str:
    """'red cube in drawer' for ('red cube', 'in', 'drawer')."""
    return f'{subject} {predicate.replace("_", " ")} {obj}'


class SemanticBank:
    """Writes and reads the ``facts`` and ``fact_changes`` tables."""

    def __init__(self, config: SemanticConfig = SemanticConfig()):
        self.config = config
        self.changes = 0

    # ------------------------------------------------------------------ writer side
    def tell(self, conn: sqlite3.Connection, fact: Fact, recorded: float, intern_text) -> int:
        """Store a validated fact with reconsolidation; return the row id that now holds it."""
        current = conn.execute(
            f'SELECT {_FACT_COLUMNS} FROM facts WHERE subject = ? AND predicate = ? '
            'AND superseded_by IS NULL', (fact.subject, fact.predicate)).fetchall()
        for row in current:
            if row[3] == fact.object:  # the same fact again: confirm it
                conf = 1 - (1 - row[5]) * (1 - fact.confidence)
                conn.execute('UPDATE facts SET confidence = ?, last_confirmed = ?, '
                             'recorded = ? WHERE id = ?',
                             (conf, max(row[6], fact.stamp), recorded, row[0]))
                return row[0]
        text_id = intern_text(conn, fact_sentence(fact.subject, fact.predicate, fact.object))
        functional = fact.predicate not in self.config.multi_valued
        newer = [r for r in current if r[4] > fact.stamp] if functional else []
        superseded_by = min(newer, key=lambda r: r[4])[0] if newer else None
        cur = conn.execute(
            'INSERT INTO facts (subject, predicate, object, t, confidence, last_confirmed, '
            'source, episode_id, superseded_by, superseded_at, text_id, recorded) '
            'VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)',
            (fact.subject, fact.predicate, fact.object, fact.stamp, fact.confidence,
             fact.stamp, fact.source, fact.episode_id, superseded_by,
             min(r[4] for r in newer) if newer else None, text_id, recorded))
        new_id = cur.lastrowid
        if superseded_by is not None:   # late news: history only
            self._log_change(conn, fact.stamp, fact, new_id, fact.object, superseded_by,
                             min(newer, key=lambda r: r[4])[3], recorded, late=True)
            return new_id
        if functional:
            for row in current:          # older contradicting facts step aside
                conn.execute('UPDATE facts SET superseded_by = ?, superseded_at = ? '
                             'WHERE id = ?', (new_id, fact.stamp, row[0]))
                self._log_change(conn, fact.stamp, fact, row[0], row[3], new_id,
                                 fact.object, recorded)
        return new_id

    def _log_change(self, conn, t, fact, old_id, old_object, new_id, new_object, recorded,
                    late: bool = False) -> None:
        conn.execute('INSERT INTO fact_changes (t, subject, predicate, old_fact, new_fact, '
                     'old_object, new_object, recorded) VALUES (?, ?, ?, ?, ?, ?, ?, ?)',
                     (t, fact.subject, fact.predicate, old_id, new_id, old_object, new_object,
                      recorded))
        self.changes += 1

    # ------------------------------------------------------------------ reader side
    @staticmethod
    def fact(row) -> Fact:
        return Fact(subject=row[1], predicate=row[2], object=row[3], stamp=row[4],
                    confidence=row[5], last_confirmed=row[6], source=row[7] or '',
                    episode_id=row[8] or '', superseded_by=row[9], superseded_at=row[10],
                    row_id=row[0])

    def facts(self, conn: sqlite3.Connection, subject: str | None = None,
              predicate: str | None = None, current_only: bool = True,
              names: list[str] | None = None, limit: int = 100) -> list[Fact]:
        """Facts about ``subject`` (or any of ``names``), newest first."""
        conds, args = [], []
        subjects = list(names or []) + ([subject] if subject else [])
        if subjects:
            conds.append(f'subject IN ({",".join("?" * len(subjects))})')
            args += subjects
        if predicate:
            conds.append('predicate = ?')
            args.append(predicate)
        if current_only:
            conds.append('superseded_by IS NULL')
        where = ' AND '.join(conds) or '1'
        rows = conn.execute(f'SELECT {_FACT_COLUMNS} FROM facts WHERE {where} '
                            'ORDER BY t DESC LIMIT ?', (*args, limit)).fetchall()
        return [self.fact(r) for r in rows]

    def history(self, conn: sqlite3.Connection, subject: str, predicate: str) -> list[dict]:
        """Logged changes of (subject, predicate), oldest first."""
        rows = conn.execute('SELECT t, old_object, new_object, old_fact, new_fact FROM '
                            'fact_changes WHERE subject = ? AND predicate = ? ORDER BY t, id',
                            (subject, predicate)).fetchall()
        return [dict(zip(('t', 'old_object', 'new_object', 'old_fact', 'new_fact'), r))
                for r in rows]

    def by_text_ids(self, conn: sqlite3.Connection, text_ids) -> dict[int, list[MemoryEntry]]:
        out = {}
        for tid in text_ids:
            rows = conn.execute(f'SELECT {_FACT_COLUMNS} FROM facts WHERE text_id = ? '
                                'ORDER BY superseded_by IS NOT NULL, t DESC LIMIT 2',
                                (int(tid),)).fetchall()
            if rows:
                out[int(tid)] = [self.entry(self.fact(r)) for r in rows]
        return out

    @staticmethod
    def entry(f: Fact, score: float = 1.0) -> MemoryEntry:
        text = fact_sentence(f.subject, f.predicate, f.object)
        if f.superseded_by is not None:
            text += f' (superseded at t={f.superseded_at:.2f} s)'
            score *= 0.5
        return MemoryEntry(bank=Bank.SEMANTIC, entry_id=f.row_id, stamp=f.stamp,
                           recorded=f.last_confirmed, episode_id=f.episode_id,
                           confidence=f.confidence, score=score, kind=f.predicate,
                           subject=f.subject, object=f.object, text=text, source=f.source)
