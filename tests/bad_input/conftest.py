"""Fixtures of the bad-input tests: how many examples a property runs (every test runs in
the default selection with a modest number and, marked slow, with ten times as many)."""

import pytest


@pytest.fixture(params=[pytest.param(1, id='quick'),
                        pytest.param(10, id='many', marks=pytest.mark.slow)])
def scale(request):
    """Multiplier of each property's max_examples (10 in the slow variant)."""
    return request.param
