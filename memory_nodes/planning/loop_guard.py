"""Bounded retries and loop detection for the closed-loop planner (no ROS imports).

After RoboMemory's infinite-loop mitigation: the planner records, for every subgoal attempt,
a signature of the world state it acted on and the outcome. A subgoal that fails more than
``max_retries`` times, or that fails again from a world state it already failed from (the
robot is going round in circles), is not retried as is: the planner must replan or give up.
Replans are bounded too.
"""

from dataclasses import dataclass, field


@dataclass
class LoopGuard:
    """Counts attempts per subgoal and detects repeated failing states."""

    max_retries: int = 2        # retries of one subgoal before replanning
    max_replans: int = 2        # replans of one instruction before giving up
    retries: dict = field(default_factory=dict)
    failed_states: dict = field(default_factory=dict)
    replans: int = 0

    def __post_init__(self):
        if self.max_retries < 0 or self.max_replans < 0:
            raise ValueError(f'max_retries={self.max_retries} and max_replans='
                             f'{self.max_replans} must be >= 0')

    def record_failure(self, subgoal_key, state_signature):
        """Record a failed attempt; return 'retry', 'replan' or 'give_up'."""
        count = self.retries.get(subgoal_key, 0) + 1
        self.retries[subgoal_key] = count
        seen = self.failed_states.setdefault(subgoal_key, set())
        looping = state_signature in seen
        seen.add(state_signature)
        if not looping and count <= self.max_retries:
            return 'retry'
        if self.replans < self.max_replans:
            self.replans += 1
            self.retries.clear()
            self.failed_states.clear()
            return 'replan'
        return 'give_up'

    def loop_detected(self, subgoal_key, state_signature):
        """True when this subgoal already failed from this very state."""
        return state_signature in self.failed_states.get(subgoal_key, set())
