"""Shared checks of the bad-input tests: deliver a drawn message to a node's real callback
and judge what the node did with it.

``deliver`` finds the subscription the node really created for a topic (``node.subscriptions``)
and calls its bound callback with the message, as the executor would; ``judge`` then reads
the node's ``InputGuard``: a rejection must be a ValueError whose log line (source and error)
names one of the fields the drawn ``Case`` lists, and a certainly-bad message must have been
rejected (counted). ``hammer`` runs a hypothesis property inside a test that built its node
once, with the folder's settings profile.
"""

from hypothesis import HealthCheck, given, settings

settings.register_profile(
    'bad_input', deadline=None, derandomize=True, database=None, print_blob=True,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow,
                           HealthCheck.data_too_large, HealthCheck.large_base_example])
PROFILE = settings.get_profile('bad_input')


def hammer(strategy, body, max_examples):
    """Run ``body(case)`` for at most ``max_examples`` cases drawn from ``strategy``; return
    how many ran (hypothesis stops early when a strategy has fewer distinct examples)."""
    runs = []

    @settings(PROFILE, max_examples=max_examples)
    @given(strategy)
    def prop(case):
        runs.append(1)
        body(case)
    prop()
    return len(runs)


def subscription(node, topic):
    """The subscription ``node`` created on ``topic`` (its real callback is ``.callback``)."""
    for sub in node.subscriptions:
        if sub.topic_name == topic:
            return sub
    raise AssertionError(f'{node.get_name()} has no subscription on {topic}; it has '
                         f'{sorted(s.topic_name for s in node.subscriptions)}')


def service(node, name):
    for srv in node.services:
        if srv.srv_name == name:
            return srv
    raise AssertionError(f'{node.get_name()} has no service {name}')


def names_a_field(text, fields):
    text = text.lower()
    return any(field.lower() in text for field in fields)


def judge(guard, before, case, must_reject=None):
    """Check the guard after one delivery; return whether the message was rejected."""
    rejected = guard.total_rejected > before
    must = case.must_reject if must_reject is None else must_reject
    if rejected:
        source, error = guard.last_rejection
        line = f'{source}: {type(error).__name__}: {error}'
        assert isinstance(error, ValueError), f'{case}: unnamed rejection {line}'
        assert names_a_field(line, case.fields), (
            f'{case}: the rejection does not name any of {case.fields}: {line}')
    assert rejected or not must, f'{case} was accepted'
    return rejected


def deliver(node, topic, case, must_reject=None):
    """Call the real callback of ``node``'s subscription on ``topic``; judge the outcome."""
    guard = node.guard
    before = guard.total_rejected
    subscription(node, topic).callback(case.msg)
    return judge(guard, before, case, must_reject)
