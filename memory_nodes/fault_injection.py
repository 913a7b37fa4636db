"""Node faults for the main job: SIGKILL one node of the running graph mid-episode, restart it
and measure how the graph got through.

``NodeKiller`` is driven by ``Orchestrator.run_episode``: at the start of an episode it is
told which node dies in it (the main job rotates through ``--kill``), and every loop of the
episode it looks at the episode status; at the trigger (``--kill-at``) it sends SIGKILL to
that node's process, starts a new process of the node (it configures and activates itself,
``autostart``), and waits until the new process is really back:

- memory: it answers a query, and the answer (the events of this episode so far) is
  counted, which shows it reloaded its state from the file;
- the others: an endpoint of theirs with a new GID (a new DDS participant) is on the graph;
  the dead process's endpoints may linger until their lease runs out, so a count of
  endpoints would lie.

While a node is down the wrist camera's pose (/camera/wrist/pose, it moves with the arm) is
kept, so a kill of the executor shows whether the arm stopped (the sim bridge holds the last
end-effector target) or drifted.

Triggers: ``delay`` (the episode enters its delay phase, after the cue), ``act`` (it enters
the act phase, before the planner's first subgoal) and ``motion`` (one second after the
executor announced the episode's first subgoal: the arm is moving).
"""

from dataclasses import asdict, dataclass
import math
import signal
import time

KILLABLE = ('preprocessor', 'memory', 'planner', 'executor', 'action_expert')
KILL_AT = ('delay', 'act', 'motion')
DELAY_PHASE, ACT_PHASE = 1, 2
PHASE_NAMES = {0: 'cue', 1: 'delay', 2: 'act'}
MOTION_AFTER_S = 1.0
# the endpoint that shows that a node's new process is up: (kind, topic)
READY_ENDPOINT = {
    'preprocessor': ('publisher', '/perception/objects'),
    'planner': ('publisher', '/planner/subgoal'),
    'executor': ('subscription', '/planner/subgoal'),
    'action_expert': ('publisher', '/action_expert/chunk'),
}
STILL_WINDOW_S = 1.0  # the arm must not move in the last second before the restart


@dataclass
class KillRecord:
    """What one SIGKILL did: the node, when, how long until its new process was back."""

    node: str
    at: str
    episode_id: str
    phase: int                  # episode phase when the kill was sent
    exit_code: int              # of the killed process (-9)
    back_after_s: float         # SIGKILL -> new process serving (-1: never)
    arm_moved_m: float          # wrist travel from the kill to the restart (nan: no poses)
    arm_moved_last_s_m: float   # of which in the last STILL_WINDOW_S before the restart
    memory_episode_events: int  # memory only: this episode's events it answered with
    note: str = ''

    def as_dict(self):
        return asdict(self)


def path_length(points):
    """Summed distance between consecutive (x, y, z) points (0 for fewer than two)."""
    total = 0.0
    for a, b in zip(points, points[1:]):
        total += math.dist(a, b)
    return total


class NodeKiller:
    """Kills the node chosen for an episode at its trigger and restarts it (see module)."""

    def __init__(self, orchestrator, stack, at='delay', ready_timeout_s=120.0, down_s=0.0):
        if at not in KILL_AT:
            raise ValueError(f'kill at {at!r}: expected one of {KILL_AT}')
        if not 0.0 <= down_s <= 60.0:
            raise ValueError(f'down_s={down_s!r}: expected 0..60 seconds')
        # how long the node stays dead before its restart (0: restarted at once). A still
        # arm can only be seen when the outage outlasts the step the arm was converging on
        # plus STILL_WINDOW_S; a restart within about a second measures the convergence.
        self.down_s = float(down_s)
        self.orchestrator = orchestrator
        self.stack = stack
        self.at = at
        self.ready_timeout_s = ready_timeout_s
        self.target = None
        self.episode_id = ''
        self.records = []
        self._moving_since = None

    def arm(self, node):
        """The node to kill in the next episode (None: no fault in it)."""
        if node is not None and node not in self.stack.processes:
            raise ValueError(f'cannot kill {node!r}: it is not running in this variant '
                             f'(running: {sorted(self.stack.processes)})')
        self.target = node
        self.records = []
        self._moving_since = None

    def step(self, status, episode_id):
        """Called every loop of the episode; kills when the trigger is reached."""
        if self.target is None or status is None or status.episode_id != episode_id:
            return
        self.episode_id = episode_id
        phase = int(status.phase)
        fire = ((self.at == 'delay' and phase == DELAY_PHASE)
                or (self.at == 'act' and phase == ACT_PHASE))
        if self.at == 'motion':
            active = self.orchestrator.active_subgoal
            if active is not None and active.plan_id.startswith(episode_id):
                now = time.monotonic()
                self._moving_since = self._moving_since or now
                fire = now - self._moving_since >= MOTION_AFTER_S
        if fire:
            node, self.target = self.target, None
            self.records.append(self.kill(node, phase))

    # -- one kill --------------------------------------------------------------------------
    def _gids(self, node):
        kind, topic = READY_ENDPOINT[node]
        graph = self.orchestrator.node
        infos = (graph.get_publishers_info_by_topic(topic) if kind == 'publisher'
                 else graph.get_subscriptions_info_by_topic(topic))
        return {tuple(info.endpoint_gid) for info in infos}

    def _wait_back(self, node, before, t_kill):
        """Seconds from the kill until the new process serves; -1 on timeout."""
        o = self.orchestrator
        events = 0
        if node == 'memory':
            from memory_nodes.main_job import wait_for_memory_answer
            try:
                wait_for_memory_answer(o, timeout_s=self.ready_timeout_s)
            except RuntimeError:
                return -1.0, 0
            back = time.monotonic() - t_kill
            events = o.count_episode_events(self.episode_id)
            return back, events
        while time.monotonic() - t_kill < self.ready_timeout_s:
            o.spin_for(0.1)
            if self._gids(node) - before:
                return time.monotonic() - t_kill, events
        return -1.0, events

    def kill(self, node, phase):
        o = self.orchestrator
        before = self._gids(node) if node in READY_ENDPOINT else set()
        t_kill = time.monotonic()
        code = self.stack.kill(node, signal.SIGKILL)
        print(f'[main_job] fault: killed the {node} node (exit {code}) in the '
              f'{PHASE_NAMES.get(phase, phase)} phase (--kill-at {self.at}); restarting it',
              flush=True)
        while time.monotonic() - t_kill < self.down_s:
            o.spin_for(0.05)
        # the arm is judged while no process of the node exists, kill to restart: once the
        # new process runs it may act (the executor drives the arm again) well before this
        # process sees its endpoints on the graph (discovery took 2.6 s on a quiet machine,
        # and the new executor had moved the arm 21 cm in that time)
        t_restart = time.monotonic()
        self.stack.start(node)
        back, events = self._wait_back(node, before, t_kill)
        poses = o.wrist_between(t_kill, t_restart)
        last = [p for t, p in poses if t >= t_restart - STILL_WINDOW_S]
        moved = path_length([p for _, p in poses]) if poses else math.nan
        moved_last = path_length(last) if poses else math.nan
        note = ('' if back >= 0 else
                f'the new {node} process was not back within {self.ready_timeout_s:.0f} s')
        record = KillRecord(node, self.at, self.episode_id, phase, int(code), round(back, 2),
                            moved, moved_last, events, note)
        print(f'[main_job] fault: {node} back after {back:.1f} s; arm moved '
              f'{1e3 * moved:.1f} mm from the kill to the restart '
              f'({1e3 * moved_last:.1f} mm in its last {STILL_WINDOW_S:.0f} s)'
              + (f'; memory answered with {events} events of this episode'
                 if node == 'memory' else '') + (f'; {note}' if note else ''), flush=True)
        return record
