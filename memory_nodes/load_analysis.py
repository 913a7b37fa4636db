"""The figures of a load test (scripts/load_test.py), from its samples and the node logs.

No ROS here, so the arithmetic tests on synthetic samples:

- ``growth_slope``: least-squares slope of a quantity over the second half of a run, per
  simulated hour (start-up growth, imports and caches filling, is left out);
- ``reliable_loss``: messages each subscriber of a reliable topic took against what all of
  the topic's publishers sent, from every node's ``TopicCounts`` line
  (``memory_nodes.ros_common``); a node without a line (it crashed or was killed) counts as
  unknown, which fails the check;
- ``control_misses``: executor cycles skipped and sim-bridge steps that overran their
  period, from the same lines.
"""

import math

import numpy as np

SECONDS_PER_HOUR = 3600.0


def growth_slope(times_s, values, from_fraction=0.5):
    """Slope of ``values`` per hour of ``times_s`` (least squares) over the samples whose
    time is at least ``from_fraction`` of the way from the first to the last; None with
    fewer than 3 such samples or no spread in time."""
    t = np.asarray(times_s, dtype=float)
    v = np.asarray(values, dtype=float)
    if t.shape != v.shape or t.ndim != 1:
        raise ValueError(f'times and values must be 1-d of one length, got {t.shape} and '
                         f'{v.shape}')
    if not 0.0 <= from_fraction < 1.0:
        raise ValueError(f'from_fraction is {from_fraction}; expected in [0, 1)')
    keep = np.isfinite(t) & np.isfinite(v)
    t, v = t[keep], v[keep]
    if t.size < 3:
        return None
    start = t.min() + from_fraction * (t.max() - t.min())
    t, v = t[t >= start], v[t >= start]
    if t.size < 3 or np.ptp(t) <= 0:
        return None
    slope = np.polyfit(t, v, 1)[0]
    return float(slope * SECONDS_PER_HOUR)


def growth_report(times_s, series, limit_per_hour, from_fraction=0.5):
    """{name: {'slope_per_hour', 'first', 'last', 'max', 'flagged'}} for each series of
    ``series`` ({name: values}); flagged when the slope is above ``limit_per_hour``."""
    report = {}
    for name, values in series.items():
        slope = growth_slope(times_s, values, from_fraction)
        finite = [x for x in values if x is not None and math.isfinite(x)]
        report[name] = {
            'slope_per_hour': slope,
            'first': finite[0] if finite else None,
            'last': finite[-1] if finite else None,
            'max': max(finite) if finite else None,
            'flagged': slope is not None and slope > limit_per_hour,
        }
    return report


def reliable_loss(counts, subscribers):
    """Per reliable topic: what its publishers sent and each subscriber took.

    ``counts``: {node: TopicCounts snapshot ({'sent', 'received', 'counters'}) or None when
    the node left no counts line}; ``subscribers``: {topic: [nodes that subscribe]}.
    Returns {topic: {'sent': int, 'publishers': {node: n}, 'received': {node: n or None},
    'lost': {node: n or None}, 'ok': bool}}: a subscriber without counts is None (unknown,
    not ok); a topic nobody published on is ok with sent 0 only if every subscriber took 0.
    """
    report = {}
    for topic, nodes in subscribers.items():
        publishers = {node: c['sent'][topic] for node, c in counts.items()
                      if c is not None and topic in c.get('sent', {})}
        sent = sum(publishers.values())
        received, lost = {}, {}
        for node in nodes:
            c = counts.get(node)
            if c is None:
                received[node] = lost[node] = None
                continue
            got = int(c.get('received', {}).get(topic, 0))
            received[node], lost[node] = got, sent - got
        unknown_publisher = any(c is None for c in counts.values())
        ok = (not unknown_publisher and all(v == 0 for v in lost.values()))
        report[topic] = {'sent': sent, 'publishers': publishers, 'received': received,
                         'lost': lost, 'ok': ok}
    return report


def control_misses(counts):
    """Executor cycles and skipped control periods, sim-bridge steps and overruns."""
    def counter(node, name):
        c = counts.get(node)
        return None if c is None else int(c.get('counters', {}).get(name, 0))

    return {
        'executor_cycles': counter('executor', 'cycles'),
        'executor_missed_cycles': counter('executor', 'missed_cycles'),
        'bridge_steps': counter('sim_bridge', 'ticks'),
        'bridge_overrun_steps': counter('sim_bridge', 'overrun_ticks'),
        'bridge_frames': counter('sim_bridge', 'frames'),
    }
