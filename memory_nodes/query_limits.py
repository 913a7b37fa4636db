"""Validation and limits of memory queries arriving over the QueryMemory service (no ROS).

One client must not be able to stall the memory node: ``k``, the text length and the time
window are bounded by configured limits, and every rejection names the field and value.
The node converts the service request to plain values, calls ``validate_query`` and passes
the resulting ``MemoryQuery`` to the lifelong memory library.
"""

from dataclasses import dataclass
import math

# QueryMemory.Request.KIND_* in memory_interfaces/srv/QueryMemory.srv, by number.
QUERY_KINDS = ('where', 'when', 'what_happened', 'how_many', 'similar_to_text')
# kinds whose text names a subject and may therefore not be empty
KINDS_NEEDING_TEXT = ('where', 'when', 'how_many', 'similar_to_text')


@dataclass(frozen=True)
class QueryLimits:
    """Bounds on one query, from the memory node's parameters."""

    default_k: int = 10             # results when the request asks for k = 0
    max_k: int = 100                # most results one request may ask for
    max_text_chars: int = 512       # longest subject / free text
    max_episode_id_chars: int = 128
    max_window_s: float = 30 * 24 * 3600.0  # widest [time_start, time_end] window

    def __post_init__(self):
        if not 0 < self.default_k <= self.max_k:
            raise ValueError(f'default_k={self.default_k} must be in 1..max_k={self.max_k}')
        if self.max_text_chars <= 0 or self.max_window_s <= 0:
            raise ValueError(f'max_text_chars={self.max_text_chars} and max_window_s='
                             f'{self.max_window_s} must be > 0')


@dataclass(frozen=True)
class MemoryQuery:
    """A validated query: kind name, stripped text, k, and an optional time window."""

    kind: str
    text: str
    episode_id: str
    k: int
    time_start: float | None     # None: unbounded below
    time_end: float | None       # None: unbounded above


def validate_query(kind, text, episode_id, k, time_start, time_end, limits=QueryLimits()):
    """Check one request against ``limits``; return a MemoryQuery or raise ValueError.

    ``kind`` is the service's number (0..4) or a name from QUERY_KINDS; times are float
    seconds where 0 means unbounded, as in the service definition.
    """
    if isinstance(kind, str):
        if kind not in QUERY_KINDS:
            raise ValueError(f'kind is {kind!r}; expected one of {list(QUERY_KINDS)}')
        kind_name = kind
    else:
        if not isinstance(kind, int) or not 0 <= kind < len(QUERY_KINDS):
            raise ValueError(f'kind is {kind!r}; expected 0..{len(QUERY_KINDS) - 1} '
                             f'({", ".join(QUERY_KINDS)})')
        kind_name = QUERY_KINDS[kind]
    if not isinstance(text, str):
        raise ValueError(f'text is {type(text).__name__}; expected a string')
    if len(text) > limits.max_text_chars:
        raise ValueError(f'text has {len(text)} characters; the limit is '
                         f'{limits.max_text_chars}')
    stripped = ' '.join(text.split())
    if kind_name in KINDS_NEEDING_TEXT and not stripped:
        raise ValueError(f'text is {text!r}; a {kind_name!r} query needs a subject')
    if any(ord(c) < 32 for c in stripped):
        raise ValueError(f'text {text!r} contains control characters')
    if len(episode_id) > limits.max_episode_id_chars:
        raise ValueError(f'episode_id has {len(episode_id)} characters; the limit is '
                         f'{limits.max_episode_id_chars}')
    if not isinstance(k, int) or k < 0:
        raise ValueError(f'k is {k!r}; expected an integer >= 0 (0 = default)')
    if k > limits.max_k:
        raise ValueError(f'k is {k}; the limit is {limits.max_k}')
    bounds = []
    for name, value in (('time_start', time_start), ('time_end', time_end)):
        if not math.isfinite(value) or value < 0:
            raise ValueError(f'{name} is {value!r}; expected seconds >= 0 (0 = unbounded)')
        bounds.append(None if value == 0 else float(value))
    start, end = bounds
    if start is not None and end is not None:
        if start > end:
            raise ValueError(f'time_start {start} is after time_end {end}')
        if end - start > limits.max_window_s:
            raise ValueError(f'time window is {end - start:.0f} s; the limit is '
                             f'{limits.max_window_s:.0f} s')
    return MemoryQuery(kind=kind_name, text=stripped, episode_id=episode_id,
                       k=k or limits.default_k, time_start=start, time_end=end)
