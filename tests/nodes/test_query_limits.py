"""QueryMemory requests are validated and bounded before they reach the memory."""

import math

import pytest

from memory_nodes.query_limits import QueryLimits, validate_query


def test_valid_request_is_normalised():
    q = validate_query(0, '  where is   the red cube ', 'ep-1', 0, 0.0, 12.5)
    assert q.kind == 'where' and q.text == 'where is the red cube'
    assert q.k == QueryLimits().default_k
    assert q.time_start is None and q.time_end == 12.5
    assert validate_query('what_happened', '', '', 5, 1.0, 2.0).k == 5


@pytest.mark.parametrize('args, message', [
    ((7, 'x', '', 1, 0, 0), 'kind is 7'),
    (('teleport', 'x', '', 1, 0, 0), "kind is 'teleport'"),
    ((0, '', '', 1, 0, 0), "a 'where' query needs a subject"),
    ((0, 'x' * 600, '', 1, 0, 0), 'text has 600 characters'),
    ((0, 'a\x00b', '', 1, 0, 0), 'control characters'),
    ((0, 'x', '', 101, 0, 0), 'k is 101; the limit is 100'),
    ((0, 'x', '', -1, 0, 0), 'k is -1'),
    ((0, 'x', '', 1, math.nan, 0), 'time_start is nan'),
    ((0, 'x', '', 1, 0, math.inf), 'time_end is inf'),
    ((0, 'x', '', 1, 5.0, 4.0), 'time_start 5.0 is after time_end 4.0'),
    ((0, 'x', '', 1, 1.0, 1e9), 'time window is'),
    ((0, 'x', 'e' * 200, 1, 0, 0), 'episode_id has 200 characters'),
])
def test_bad_requests_are_refused_naming_the_field(args, message):
    with pytest.raises(ValueError, match=message):
        validate_query(*args)


def test_limits_validate_themselves():
    with pytest.raises(ValueError, match='default_k=0'):
        QueryLimits(default_k=0)
    tight = QueryLimits(default_k=2, max_k=3)
    with pytest.raises(ValueError, match='k is 4; the limit is 3'):
        validate_query(0, 'x', '', 4, 0, 0, tight)
