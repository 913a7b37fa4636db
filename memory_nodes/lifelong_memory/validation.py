"""Input checks: every malformed observation, event, fact or query raises a ValueError that
names the field and the value, before anything touches the store (so a rejected input leaves
the store unchanged)."""

from __future__ import annotations

import json
import math

import numpy as np

from memory_nodes.query_limits import QUERY_KINDS, QueryLimits, validate_query

from .naming import clean_name
from .records import Fact, MemoryEvent, ObjectObservation, Query, QueryKind

MAX_NAME_CHARS = 128           # labels, colours, subjects, predicates, ids
MAX_TEXT_CHARS = 2000          # free text, instructions
MAX_ABS_POSITION_M = 1.0e4     # a robot's world is not larger than 10 km
MAX_EXTENT_M = 100.0           # no object is bigger than 100 m
MAX_VARIANCE_M2 = 1.0e4        # covariance diagonal bound
MAX_ABS_STAMP_S = 1.0e11       # about 3000 years of seconds
_PLAIN = frozenset((float, int, np.float64, np.float32, np.int64, np.int32))


def check_name(field: str, value, allow_empty: bool = False) -> str:
    """A short non-empty printable string; returns it stripped."""
    if not isinstance(value, str):
        raise ValueError(f'{field}={value!r}: expected a string, got {type(value).__name__}')
    text = value.strip()
    if not text and not allow_empty:
        raise ValueError(f'{field}={value!r}: must not be empty')
    if len(text) > MAX_NAME_CHARS:
        raise ValueError(f'{field} has {len(text)} characters ({text[:40]!r}...); '
                         f'the limit is {MAX_NAME_CHARS}')
    if any(ord(c) < 32 for c in text):
        raise ValueError(f'{field}={value!r}: contains control characters')
    return text


def check_text(field: str, value, allow_empty: bool = True) -> str:
    """Free text up to MAX_TEXT_CHARS."""
    if not isinstance(value, str):
        raise ValueError(f'{field}={value!r}: expected a string, got {type(value).__name__}')
    if len(value) > MAX_TEXT_CHARS:
        raise ValueError(f'{field} has {len(value)} characters; the limit is {MAX_TEXT_CHARS}')
    if not value.strip() and not allow_empty:
        raise ValueError(f'{field}={value!r}: must not be empty')
    return value.strip()


def check_number(field: str, value, lo: float = -math.inf, hi: float = math.inf) -> float:
    """A finite real number within [lo, hi]."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        try:
            value = float(value)  # numpy scalars
        except (TypeError, ValueError):
            raise ValueError(f'{field}={value!r}: expected a number') from None
    value = float(value)
    if not math.isfinite(value):
        raise ValueError(f'{field}={value!r}: must be finite')
    if not lo <= value <= hi:
        raise ValueError(f'{field}={value!r}: must be within [{lo}, {hi}]')
    return value


def check_stamp(field: str, value) -> float:
    return check_number(field, value, -MAX_ABS_STAMP_S, MAX_ABS_STAMP_S)


def check_vector(field: str, value, n: int, lo: float, hi: float) -> tuple[float, ...]:
    """A sequence of n finite numbers within [lo, hi]."""
    try:
        items = list(value)
    except TypeError:
        raise ValueError(f'{field}={value!r}: expected {n} numbers') from None
    if len(items) != n:
        raise ValueError(f'{field}={value!r}: expected {n} numbers, got {len(items)}')
    # fast path: plain numbers in range (NaN and inf fail the comparison and go the long way)
    if all(type(v) in _PLAIN and lo <= v <= hi for v in items):
        return tuple(float(v) for v in items)
    return tuple(check_number(f'{field}[{i}]', v, lo, hi) for i, v in enumerate(items))


def check_position(field: str, value) -> tuple[float, float, float]:
    return check_vector(field, value, 3, -MAX_ABS_POSITION_M, MAX_ABS_POSITION_M)


def check_observation(obs: ObjectObservation) -> ObjectObservation:
    """Validate and normalise one observation (names lower-cased and stripped)."""
    if not isinstance(obs, ObjectObservation):
        raise ValueError(f'observation={obs!r}: expected an ObjectObservation')
    cov = check_vector('position_covariance', obs.position_covariance, 9,
                       -MAX_VARIANCE_M2, MAX_VARIANCE_M2)
    for i in (0, 4, 8):
        if cov[i] < 0:
            raise ValueError(f'position_covariance[{i}]={cov[i]!r}: a variance must be >= 0')
    return ObjectObservation(
        stamp=check_stamp('stamp', obs.stamp),
        label=check_name('label', obs.label).lower(),
        position=check_position('position', obs.position),
        color=check_name('color', obs.color, allow_empty=True).lower(),
        track_id=check_name('track_id', obs.track_id, allow_empty=True),
        rgb=check_vector('rgb', obs.rgb, 3, 0.0, 1.0),
        position_covariance=cov,
        extent=check_vector('extent', obs.extent, 3, 0.0, MAX_EXTENT_M),
        visible=bool(obs.visible),
        state=check_name('state', obs.state, allow_empty=True).lower(),
        confidence=check_number('confidence', obs.confidence, 0.0, 1.0),
        num_points=int(check_number('num_points', obs.num_points, 0, 1e9)),
        source=int(check_number('source', obs.source, 0, 255)),
        source_name=check_name('source_name', obs.source_name, allow_empty=True),
        frame_id=check_name('frame_id', obs.frame_id, allow_empty=True) or 'world',
    )


def check_event(event: MemoryEvent) -> MemoryEvent:
    """Validate and normalise one event."""
    if not isinstance(event, MemoryEvent):
        raise ValueError(f'event={event!r}: expected a MemoryEvent')
    position = None if event.position is None else check_position('position', event.position)
    return MemoryEvent(
        stamp=check_stamp('stamp', event.stamp),
        kind=check_name('kind', event.kind).lower().replace(' ', '_'),
        subject=check_name('subject', event.subject).lower(),
        object=check_name('object', event.object, allow_empty=True).lower(),
        episode_id=check_name('episode_id', event.episode_id, allow_empty=True),
        position=position,
        text=check_text('text', event.text),
        source=check_name('source', event.source, allow_empty=True),
        frame_id=check_name('frame_id', event.frame_id, allow_empty=True) or 'world',
        confidence=check_number('confidence', event.confidence, 0.0, 1.0),
    )


def check_observations(observations) -> list[ObjectObservation]:
    """Validate a batch; an error names the observation's index and the field."""
    if not isinstance(observations, (list, tuple)):
        raise ValueError(f'observations={observations!r}: expected a list of '
                         'ObjectObservation')
    out = []
    for i, obs in enumerate(observations):
        if not isinstance(obs, ObjectObservation):
            raise ValueError(f'observations[{i}]={obs!r}: expected an ObjectObservation')
        try:
            out.append(check_observation(obs))
        except ValueError as err:
            raise ValueError(f'observations[{i}].{err}') from None
    return out


def check_fact(fact: Fact) -> Fact:
    """Validate and normalise one fact (names through clean_name, predicate snake_case)."""
    if not isinstance(fact, Fact):
        raise ValueError(f'fact={fact!r}: expected a Fact')
    predicate = '_'.join(check_name('predicate', fact.predicate).lower().split())
    return Fact(subject=clean_name(check_name('subject', fact.subject)),
                predicate=predicate,
                object=clean_name(check_name('object', fact.object)),
                stamp=check_stamp('stamp', fact.stamp),
                confidence=check_number('confidence', fact.confidence, 0.0, 1.0),
                source=check_name('source', fact.source, allow_empty=True),
                episode_id=check_name('episode_id', fact.episode_id, allow_empty=True))


def check_choice(field: str, value, choices) -> str:
    """One of ``choices`` (case-insensitive)."""
    text = check_name(field, value).lower()
    if text not in choices:
        raise ValueError(f'{field}={value!r}: expected one of {list(choices)}')
    return text


def check_json_dict(field: str, value) -> dict:
    """A dict that JSON can hold (episode summaries)."""
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise ValueError(f'{field}={value!r}: expected a dict')
    try:
        text = json.dumps(value, allow_nan=False)
    except (TypeError, ValueError) as err:
        raise ValueError(f'{field}: not JSON-serialisable ({err})') from None
    if len(text) > 100 * MAX_TEXT_CHARS:
        raise ValueError(f'{field} is {len(text)} characters as JSON; the limit is '
                         f'{100 * MAX_TEXT_CHARS}')
    return json.loads(text)


def check_query(query: Query, limits: QueryLimits | None = None) -> Query:
    """Validate a query with the service's validator (memory_nodes.query_limits), so the
    ROS node and the library refuse the same requests with the same messages."""
    if not isinstance(query, Query):
        raise ValueError(f'query={query!r}: expected a Query')
    kind = query.kind
    if isinstance(kind, QueryKind):
        kind = int(kind)
    episode_id = query.episode_id
    if not isinstance(episode_id, str):
        raise ValueError(f'episode_id={episode_id!r}: expected a string')
    for name in ('time_start', 'time_end'):
        value = getattr(query, name)
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise ValueError(f'{name}={value!r}: expected seconds (a number)')
    valid = validate_query(kind, query.text, episode_id, query.k, float(query.time_start),
                           float(query.time_end), limits or QueryLimits())
    return Query(kind=QueryKind(QUERY_KINDS.index(valid.kind)), text=valid.text,
                 episode_id=valid.episode_id, k=valid.k, time_start=valid.time_start or 0.0,
                 time_end=valid.time_end or 0.0)
