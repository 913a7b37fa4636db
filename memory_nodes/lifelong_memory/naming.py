"""Matching the words of a question to the names memory knows ('the red cubes' -> 'red cube').

Names are lower-case word sequences ('red cube', 'led', 'bin'). A question's words split into
entity words (words of some known name) and the rest (event kinds such as 'moved' or 'lit',
and words memory does not know). A name matches when it contains all of the question's entity
words ('cube' matches 'red cube' and 'blue cube'; 'red cube' only the red one); when no name
contains them all, names sharing the most entity words match. Scores are the Jaccard overlap
of the word sets, so 'red cube' prefers the track 'red cube' to 'red cube lid'.
"""

from __future__ import annotations

import re
import threading

STOPWORDS = frozenset(
    'a an the is are was were be been of my your our this that these those it its to do did '
    'does where when what which who how many much last first time times ever please now '
    'currently there here i me you we find found has have had and or with for at by from '
    'object objects thing things item items one ones'.split())
_WORD = re.compile(r'[a-z0-9#-]+')


def singular(word: str) -> str:
    """Crude English singular: boxes -> box, cubes -> cube, glass stays glass."""
    if len(word) > 3 and word.endswith('ies'):
        return word[:-3] + 'y'
    if len(word) > 3 and word.endswith(('xes', 'zes', 'ches', 'shes', 'sses')):
        return word[:-2]
    if len(word) > 2 and word.endswith('s') and not word.endswith(('ss', 'us', 'is')):
        return word[:-1]
    return word


def words(text: str, drop_stopwords: bool = True) -> tuple[str, ...]:
    """Lower-case, singular words of ``text`` in order ('_' separates words too)."""
    out = []
    for w in _WORD.findall(text.lower().replace('_', ' ')):
        if drop_stopwords and w in STOPWORDS:
            continue
        out.append(singular(w))
    return tuple(out)


ARTICLES = frozenset(('the', 'a', 'an', 'my', 'your', 'our', 'this', 'that'))


def clean_name(text: str) -> str:
    """A name as told, tidied: 'The  Coat Pocket' -> 'coat pocket' (words kept as given)."""
    ws = text.strip().lower().split()
    while len(ws) > 1 and ws[0] in ARTICLES:
        ws = ws[1:]
    return ' '.join(ws)


def jaccard(a: set, b: set) -> float:
    return len(a & b) / len(a | b) if a or b else 0.0


class NameRegistry:
    """Names memory knows, with a word index, for resolving questions without a table scan.

    Written by the writer thread, read by any thread: lookups take a short lock.
    """

    def __init__(self):
        self._lock = threading.Lock()
        self._names: dict[str, frozenset] = {}     # name -> its word set
        self._by_word: dict[str, set[str]] = {}    # word -> names containing it

    def __len__(self) -> int:
        return len(self._names)

    def __contains__(self, name: str) -> bool:
        return name in self._names

    def add(self, names) -> None:
        with self._lock:
            for name in names:
                if not name or name in self._names:
                    continue
                ws = frozenset(words(name)) or frozenset([name])
                self._names[name] = ws
                for w in ws:
                    self._by_word.setdefault(w, set()).add(name)

    def discard(self, names) -> None:
        with self._lock:
            for name in names:
                for w in self._names.pop(name, ()):
                    bucket = self._by_word.get(w)
                    if bucket is not None:
                        bucket.discard(name)
                        if not bucket:
                            del self._by_word[w]

    def knows_word(self, word: str) -> bool:
        return word in self._by_word

    def resolve(self, text_words: tuple[str, ...]) -> tuple[list[tuple[str, float]], set]:
        """(names matching the entity words of ``text_words`` best first with scores,
        the entity words found). Empty when none of the words is part of a known name."""
        with self._lock:
            entity = {w for w in text_words if w in self._by_word}
            if not entity:
                return [], entity
            candidates = set().union(*(self._by_word[w] for w in entity))
            scored = [(n, self._names[n]) for n in candidates]
        full = [(n, jaccard(ws, entity)) for n, ws in scored if entity <= ws]
        if not full:  # no name holds every entity word: take those sharing the most
            best = max(len(ws & entity) for _, ws in scored)
            full = [(n, jaccard(ws, entity)) for n, ws in scored if len(ws & entity) == best]
        full.sort(key=lambda item: (-item[1], item[0]))
        return full, entity
