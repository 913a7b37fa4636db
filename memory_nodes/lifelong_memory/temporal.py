"""Temporal bank: the event log and its interval, order, last-time and counting queries.

Events come from the spatial bank (appeared, disappeared, reappeared, moved, became_lit, ...),
from the episodic bank (episode_started, subgoal_succeeded, ...) and from any writer
(grasped, released, button_pressed, ...). Consecutive repeats of the same event (same subject,
kind, object and episode within ``merge_window_s``, nothing else about that subject between)
are merged into one row with a ``repeats`` count, so a writer that reports 'grasped' at 10 Hz
does not flood the log; counts add the repeats.

Questions are words: 'red cube moved', 'led lit', 'how many objects went into the bin'. Words
of known entity names pick subjects (or objects), the other words pick event kinds through
their words ('lit' -> became_lit) and a few synonyms ('grabbed' -> grasped); words that are
neither are reported as ignored.
"""

from __future__ import annotations

from dataclasses import dataclass
import heapq
import math
import sqlite3
import threading

from .naming import NameRegistry, words
from .records import Bank, MemoryEntry, MemoryEvent

# question word -> event-kind word
KIND_SYNONYMS = {
    'move': 'moved', 'moving': 'moved', 'moves': 'moved', 'displaced': 'moved',
    'light': 'lit', 'lighted': 'lit', 'lights': 'lit', 'lighting': 'lit', 'lightened': 'lit',
    'press': 'pressed', 'pressing': 'pressed', 'push': 'pressed', 'pushed': 'pressed',
    'grab': 'grasped', 'grabbed': 'grasped', 'grasp': 'grasped', 'pick': 'grasped',
    'picked': 'grasped', 'took': 'grasped', 'taken': 'grasped',
    'release': 'released', 'drop': 'released', 'dropped': 'released', 'put': 'released',
    'placed': 'released', 'place': 'released', 'went': 'released', 'into': 'released',
    'appear': 'appeared', 'showed': 'appeared', 'arrived': 'appeared',
    'disappear': 'disappeared', 'vanished': 'disappeared', 'hidden': 'disappeared',
    'hid': 'disappeared', 'covered': 'disappeared', 'lost': 'disappeared',
    'reappear': 'reappeared', 'fail': 'failed', 'failure': 'failed',
    'succeed': 'succeeded', 'success': 'succeeded', 'successful': 'succeeded',
    'start': 'started', 'began': 'started', 'begin': 'started', 'end': 'ended',
    'finished': 'ended', 'unlit': 'dark', 'off': 'dark',
}

# words that carry no subject and no kind in event questions
FILLER_WORDS = frozenset('up down go going get got order happen happened happening again '
                         'before after ago today yesterday recently event events'.split())

_EVENT_COLUMNS = ('id, t, kind, subject, object, episode_id, has_pos, x, y, z, frame_id, text, '
                  'source, confidence, recorded, repeats')


def event_sentence(subject: str, kind: str, obj: str = '') -> str:
    """The sentence an event is embedded and displayed by: 'red cube moved bin'."""
    kind_words = kind.replace('_', ' ')
    if kind.startswith('became_') and obj == kind[7:]:
        obj = ''
    return ' '.join(p for p in (subject, kind_words, obj) if p)


@dataclass(frozen=True)
class EventQuery:
    """How a question's words were understood."""

    subjects: tuple[str, ...]          # entity names matched (subject or object column)
    kinds: tuple[str, ...]             # event kinds matched
    kind_words: tuple[str, ...]        # the question's kind words
    ignored: tuple[str, ...]           # words that are neither

    @property
    def unknown_subject(self) -> bool:
        """The question names something, but nothing memory knows."""
        return not self.subjects and bool(self.ignored)

    def describe(self) -> str:
        parts = []
        if self.subjects:
            parts.append(f'subjects {list(self.subjects[:5])}')
        if self.kind_words:
            parts.append(f'kinds {list(self.kinds[:5])} for {list(self.kind_words)}')
        if self.ignored:
            parts.append(f'ignored words {list(self.ignored)}')
        return '; '.join(parts) or 'all events'


class TemporalBank:
    """Writes and reads the ``events`` table."""

    def __init__(self, entities: NameRegistry, merge_window_s: float = 1.0):
        if not (isinstance(merge_window_s, (int, float)) and merge_window_s >= 0):
            raise ValueError(f'merge_window_s={merge_window_s!r}: expected a number >= 0')
        self.entities = entities
        self.merge_window_s = merge_window_s
        self._kinds: dict[str, frozenset] = {}          # kind -> its words
        self._kinds_lock = threading.Lock()
        self._last: dict[str, tuple] = {}               # subject -> (key, row id, t)
        self.rows = 0

    # ------------------------------------------------------------------ writer side
    def load(self, conn: sqlite3.Connection) -> None:
        """Rebuild the caches from the database (start, after a rollback)."""
        self._last.clear()
        kinds = [r[0] for r in conn.execute('SELECT DISTINCT kind FROM events')]
        with self._kinds_lock:
            self._kinds = {k: frozenset(words(k, drop_stopwords=False)) for k in kinds}
        self.rows = conn.execute('SELECT COUNT(*) FROM events').fetchone()[0]
        subjects = [r[0] for r in conn.execute('SELECT DISTINCT subject FROM events')]
        objects = [r[0] for r in conn.execute('SELECT DISTINCT object FROM events')]
        self.entities.add(subjects + objects)

    def forget_cache(self) -> None:
        self._last.clear()

    def log(self, conn: sqlite3.Connection, events: list[tuple[MemoryEvent, int | None]],
            recorded: float, intern_text) -> list[int]:
        """Insert validated events (with the track each is about, or None); return row ids.
        ``intern_text(conn, sentence)`` returns the id of the sentence's row in ``texts``."""
        ids = []
        for event, track_id in events:
            key = (event.kind, event.object, event.episode_id)
            last = self._last.get(event.subject)
            if last is not None and last[0] == key and \
                    0 <= event.stamp - last[2] <= self.merge_window_s:
                conn.execute('UPDATE events SET repeats = repeats + 1, recorded = ? '
                             'WHERE id = ?', (recorded, last[1]))
                self._last[event.subject] = (key, last[1], event.stamp)
                ids.append(last[1])
                continue
            sentence = event_sentence(event.subject, event.kind, event.object)
            text_id = intern_text(conn, sentence)
            pos = event.position
            cur = conn.execute(
                'INSERT INTO events (t, kind, subject, object, episode_id, has_pos, x, y, z, '
                'frame_id, text, source, confidence, track_id, text_id, recorded) '
                'VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)',
                (event.stamp, event.kind, event.subject, event.object, event.episode_id,
                 pos is not None, *(pos or (None, None, None)), event.frame_id,
                 event.text or sentence, event.source, event.confidence, track_id, text_id,
                 recorded))
            self._last[event.subject] = (key, cur.lastrowid, event.stamp)
            ids.append(cur.lastrowid)
            self.rows += 1
            if event.kind not in self._kinds:
                with self._kinds_lock:
                    self._kinds = {**self._kinds,
                                   event.kind: frozenset(words(event.kind, False))}
            self.entities.add([event.subject, event.object])
        return ids

    # ------------------------------------------------------------------ reader side
    def understand(self, text: str) -> EventQuery:
        """Split a question into subject names and event kinds."""
        ws = words(text)
        names, entity_words = self.entities.resolve(ws)
        kinds = self._kinds
        kind_vocab = set().union(*kinds.values()) if kinds else set()
        kind_words, ignored = [], []
        for w in ws:
            if w in entity_words or w in FILLER_WORDS:
                continue
            k = KIND_SYNONYMS.get(w, w)
            if k in kind_vocab:
                kind_words.append(k)
            elif w in kind_vocab:
                kind_words.append(w)
            else:
                ignored.append(w)
        wanted = set(kind_words)
        matched = tuple(sorted(k for k, ws_ in kinds.items() if wanted <= ws_)) \
            if wanted else ()
        return EventQuery(tuple(n for n, _ in names), matched, tuple(kind_words),
                          tuple(ignored))

    @staticmethod
    def _where(episode_id: str, t0: float, t1: float) -> tuple[str, list]:
        sql, args = '', []
        if episode_id:
            sql += ' AND episode_id = ?'
            args.append(episode_id)
        if t0:
            sql += ' AND t >= ?'
            args.append(t0)
        if t1:
            sql += ' AND t <= ?'
            args.append(t1)
        return sql, args

    def search(self, conn: sqlite3.Connection, eq: EventQuery | None, episode_id: str = '',
               t0: float = 0.0, t1: float = 0.0, k: int = 10, newest_first: bool = True
               ) -> list[MemoryEntry]:
        """Events matching ``eq`` (None: all) in the window, newest or oldest first.

        Each (subject, kind) pair is one index range scan with its own LIMIT (the indexes
        are (subject, kind, t) and (object, kind, t)); the pairs are merged by time."""
        extra, args = self._where(episode_id, t0, t1)
        order = 'DESC' if newest_first else 'ASC'
        scans: list[tuple[str, list]] = []
        subjects = eq.subjects if eq else ()
        kinds = eq.kinds if eq else ()
        if eq and ((eq.kind_words and not kinds) or eq.unknown_subject):
            return []                              # a kind or a thing memory never saw
        if subjects:
            if len(subjects) * max(1, len(kinds)) > 64:
                subjects = subjects[:64 // max(1, len(kinds))]
            for column in ('subject', 'object'):
                for name in subjects:
                    for kind in kinds or (None,):
                        cond = f'{column} = ?' + (' AND kind = ?' if kind else '')
                        scans.append((cond, [name] + ([kind] if kind else [])))
        elif kinds:
            scans = [('kind = ?', [kind]) for kind in kinds]
        else:
            scans = [('1', [])]
        streams = []
        for cond, cargs in scans:
            rows = conn.execute(
                f'SELECT {_EVENT_COLUMNS} FROM events WHERE {cond}{extra} '
                f'ORDER BY t {order}, id {order} LIMIT ?', (*cargs, *args, k)).fetchall()
            streams.append(rows)
        sign = -1 if newest_first else 1
        seen, out = set(), []
        for row in heapq.merge(*streams, key=lambda r: (sign * r[1], sign * r[0])):
            if row[0] in seen:
                continue
            seen.add(row[0])
            out.append(self.entry(row))
            if len(out) >= k:
                break
        return out

    def count(self, conn: sqlite3.Connection, eq: EventQuery, episode_id: str = '',
              t0: float = 0.0, t1: float = 0.0) -> int:
        """How many times matching events happened (merged repeats included)."""
        if (eq.kind_words and not eq.kinds) or eq.unknown_subject:
            return 0
        extra, args = self._where(episode_id, t0, t1)
        conds, cargs = [], []
        if eq.subjects:
            marks = ','.join('?' * len(eq.subjects))
            conds.append(f'(subject IN ({marks}) OR object IN ({marks}))')
            cargs += [*eq.subjects, *eq.subjects]
        if eq.kinds:
            conds.append(f'kind IN ({",".join("?" * len(eq.kinds))})')
            cargs += list(eq.kinds)
        where = ' AND '.join(conds) or '1'
        n = conn.execute(f'SELECT SUM(repeats) FROM events WHERE {where}{extra}',
                         (*cargs, *args)).fetchone()[0]
        return int(n or 0)

    def by_text_ids(self, conn: sqlite3.Connection, text_ids, per_text: int = 2
                    ) -> dict[int, list[MemoryEntry]]:
        """Latest events whose sentence is each of ``text_ids``."""
        out = {}
        for tid in text_ids:
            rows = conn.execute(f'SELECT {_EVENT_COLUMNS} FROM events WHERE text_id = ? '
                                'ORDER BY t DESC LIMIT ?', (int(tid), per_text)).fetchall()
            if rows:
                out[int(tid)] = [self.entry(r) for r in rows]
        return out

    @staticmethod
    def entry(r, score: float = 1.0) -> MemoryEntry:
        has_pos = bool(r[6])
        text = r[11]
        if r[15] > 1:
            text += f' (x{r[15]})'
        return MemoryEntry(
            bank=Bank.TEMPORAL, entry_id=r[0], stamp=r[1], recorded=r[14] or 0.0,
            episode_id=r[5], confidence=r[13] if r[13] is not None else 1.0, score=score,
            kind=r[2], subject=r[3], object=r[4], text=text, frame_id=r[10] or '',
            has_position=has_pos, position=tuple(r[7:10]) if has_pos else (0.0, 0.0, 0.0),
            source=r[12] or '')


def decayed_value(confidence: float, age_s: float, half_life_s: float, repeats: int) -> float:
    """Value of an old entry for forgetting: confidence halved every ``half_life_s``,
    raised by the log of how often it was repeated."""
    return confidence * 0.5 ** (max(age_s, 0.0) / half_life_s) * (1 + math.log(max(repeats, 1)))
