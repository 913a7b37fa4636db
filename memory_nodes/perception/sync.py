"""Approximate-time pairing of messages from several streams by their stamps.

A small replacement for message_filters' ApproximateTimeSynchronizer (no wheel exists here):
each stream keeps its last ``queue_size`` items; whenever an item arrives, the newest set
with one item per stream whose stamps all lie within ``slop_s`` of the arriving item is
emitted, and everything up to the emitted items is dropped, so every item is used at most
once and a late stream never blocks the others for long.
"""

from collections import deque
import math


class ApproximateTimeSync:
    """Pairs items of the named streams whose stamps agree within ``slop_s`` seconds."""

    def __init__(self, streams, slop_s=0.02, queue_size=5):
        self.streams = tuple(streams)
        if len(self.streams) < 2 or len(set(self.streams)) != len(self.streams):
            raise ValueError(f'streams is {streams!r}; expected >= 2 distinct names')
        if not slop_s >= 0:
            raise ValueError(f'slop_s is {slop_s!r}; expected >= 0 seconds')
        if queue_size < 1:
            raise ValueError(f'queue_size is {queue_size!r}; expected >= 1')
        self.slop_s = float(slop_s)
        self.queues = {name: deque(maxlen=int(queue_size)) for name in self.streams}
        self.dropped = 0  # items that fell out of a full queue unpaired

    def add(self, stream, stamp, item):
        """Add one item; return {stream: item} for a complete set, else None."""
        if stream not in self.queues:
            raise ValueError(f'stream is {stream!r}; expected one of {list(self.streams)}')
        if not math.isfinite(stamp):
            raise ValueError(f'{stream} stamp is {stamp!r}; expected finite seconds')
        queue = self.queues[stream]
        if len(queue) == queue.maxlen:
            self.dropped += 1
        queue.append((stamp, item))
        chosen = {stream: (stamp, item)}
        for other in self.streams:
            if other == stream:
                continue
            best = min(self.queues[other], key=lambda entry: abs(entry[0] - stamp),
                       default=None)
            if best is None or abs(best[0] - stamp) > self.slop_s:
                return None
            chosen[other] = best
        for name, (chosen_stamp, _) in chosen.items():
            queue = self.queues[name]
            while queue and queue[0][0] <= chosen_stamp:
                queue.popleft()
        return {name: entry[1] for name, entry in chosen.items()}

    def clear(self):
        for queue in self.queues.values():
            queue.clear()
