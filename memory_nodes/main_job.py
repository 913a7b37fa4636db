"""The main job: MuJoCo memory tasks run through the ROS 2 node graph, with a results table.

Starts the graph described by config/stack.yaml + config/params.yaml (profile ``sim``) with
``memory_nodes.runner`` (one OS process per node by default, or composed in one process),
then plays episodes of the memory-task suite through the sim bridge's StartEpisode service
and reads each outcome from its EpisodeStatus. It prints a success table per task and
variant with 95 % Wilson intervals beside the task's chance ceiling, the per-stage latency
measured on the live topics, and where it saved the run's files.

Variants (``--variants``) are sets of parameter overrides of the same graph. What each
runs today is stated in VARIANTS; the ones the node graph cannot run yet are refused by
name rather than faked.

    python -m memory_nodes.main_job                     # embedded defaults
    python -m memory_nodes.main_job --tasks shell_game count --episodes 5 --mode composed
"""

import argparse
from collections import deque
from dataclasses import dataclass, field
import json
import os
from pathlib import Path
import signal
import sys
import threading
import time

import numpy as np

from memory_nodes.fault_injection import KILL_AT, KILLABLE, NodeKiller
from memory_nodes.file_safety import private_dir, private_file, write_private_text
from memory_nodes.perception.sim_inputs import MAIN_JOB_MIN_OBJECT_PIXELS, TASK_IMAGE_SIZE
from memory_nodes.runner import StackProcesses
from memory_nodes.stack_description import load_stack
import sim
from sim.evaluation import wilson_interval

# variant -> (nodes it needs, parameter overrides per node, what it measures)
GRAPH = ('sim_bridge', 'preprocessor', 'memory', 'planner', 'executor')
SIM_TIME = {'use_sim_time': True}
VARIANTS = {
    'full_stack': (
        GRAPH,
        {'planner': {'use_lifelong_memory': True, **SIM_TIME}, 'memory': dict(SIM_TIME),
         'executor': dict(SIM_TIME)},
        'perception -> lifelong memory -> planner (asks memory for the hidden variable) -> '
        'executor (motion primitives at the planned points) -> MuJoCo',
    ),
    'no_lifelong_memory': (
        GRAPH,
        {'planner': {'use_lifelong_memory': False, **SIM_TIME}, 'memory': dict(SIM_TIME),
         'executor': dict(SIM_TIME)},
        'the same graph, but the planner does not ask memory: it must guess the hidden '
        'variable among what it sees (the ablation; expect the chance ceiling)',
    ),
    'action_expert': (
        (*GRAPH, 'action_expert'),
        {'planner': {'use_lifelong_memory': True, **SIM_TIME}, 'memory': dict(SIM_TIME),
         'executor': {'primitive_actions': [''], **SIM_TIME},
         'action_expert': {'use_memory_bank': True, **SIM_TIME}},
        'the planner still asks memory and sends subgoals, but the arm follows the diffusion '
        'action expert (the shipped checkpoint or --checkpoint, with its perceptual-cognitive '
        'memory bank) instead of motion primitives',
    ),
    'action_expert_no_bank': (
        (*GRAPH, 'action_expert'),
        {'planner': {'use_lifelong_memory': True, **SIM_TIME}, 'memory': dict(SIM_TIME),
         'executor': {'primitive_actions': [''], **SIM_TIME},
         'action_expert': {'use_memory_bank': False, **SIM_TIME}},
        'as action_expert, with the memory bank cleared every step (the same network)',
    ),
    'scripted_expert': (
        ('sim_bridge', 'preprocessor', 'executor'),
        {'sim_bridge': {'policy': 'expert'}},
        'the scripted expert with privileged state acts inside the bridge while the '
        'perception front end runs on the live camera streams: an upper bound on motor '
        'skill and a check of the data path, not a memory result',
    ),
}
DEFAULT_TASKS = ('shell_game', 'remember_color', 'button_sequence', 'count',
                 'moved_while_watched', 'put_back', 'where_did_i_leave_it')
AE_MAX_RTF = 1.0  # fastest simulation the action-expert variants run at
DEFAULT_VARIANTS = ('full_stack', 'no_lifelong_memory', 'action_expert',
                    'action_expert_no_bank')


@dataclass
class EpisodeOutcome:
    task: str
    seed: int
    variant: str
    state: str
    success: bool
    steps: int
    wall_s: float
    message: str = ''   # the bridge's reason why the episode ended
    faults: list = field(default_factory=list)  # KillRecord dicts of the injected faults


@dataclass
class LatencyLog:
    """Wall-clock arrival of each sim stamp on /clock, and of the outputs that used it."""

    clock_wall: dict = field(default_factory=dict)   # sim stamp (ns) -> wall time
    stages: dict = field(default_factory=dict)       # stage -> [latency ms]

    def output(self, stage, stamp_ns, wall):
        start = self.clock_wall.get(stamp_ns)
        if start is not None:
            self.stages.setdefault(stage, []).append((wall - start) * 1e3)


class Orchestrator:
    """The main job's own rclpy node: starts episodes, watches their status and outputs."""

    def __init__(self, context_args=None, frames_dir=None):
        from geometry_msgs.msg import PoseStamped
        import rclpy
        from rosgraph_msgs.msg import Clock

        from memory_interfaces.msg import (
            ActionChunk,
            EpisodeStatus,
            ObjectObservationArray,
            Subgoal,
        )
        from memory_interfaces.srv import StartEpisode
        from memory_nodes.ros_common import LATCHED_QOS, RELIABLE_QOS, SENSOR_QOS

        self.rclpy = rclpy
        self.EpisodeStatus = EpisodeStatus
        self.StartEpisode = StartEpisode
        rclpy.init(args=context_args)
        self.node = rclpy.create_node('main_job')
        self.status = None
        self.chunks_received = 0
        self.latency = LatencyLog()
        self._lock = threading.Lock()
        self.node.create_subscription(EpisodeStatus, '/sim/episode_status', self._on_status,
                                      LATCHED_QOS)
        self.node.create_subscription(Clock, '/clock', self._on_clock, SENSOR_QOS)
        self.node.create_subscription(ObjectObservationArray, '/perception/objects',
                                      self._on_objects, RELIABLE_QOS)
        self.node.create_subscription(ActionChunk, '/action_expert/chunk', self._on_chunk,
                                      RELIABLE_QOS)
        self.frames_dir = frames_dir
        self.frames = []
        if frames_dir is not None:
            from sensor_msgs.msg import Image
            self.node.create_subscription(Image, '/camera/scene/color/image_raw',
                                          self._on_image, SENSOR_QOS)
        self.start_client = self.node.create_client(StartEpisode, '/sim/start_episode')
        # for fault injection: where the arm is (the wrist camera moves with it), and the
        # subgoal the executor runs
        self.wrist = deque(maxlen=2000)  # (monotonic time, (x, y, z))
        self.active_subgoal = None
        self.node.create_subscription(PoseStamped, '/camera/wrist/pose', self._on_wrist,
                                      SENSOR_QOS)
        self.node.create_subscription(Subgoal, '/executor/active_subgoal', self._on_active,
                                      LATCHED_QOS)

    def _on_wrist(self, msg):
        p = msg.pose.position
        self.wrist.append((time.monotonic(), (p.x, p.y, p.z)))

    def _on_active(self, msg):
        self.active_subgoal = msg

    def wrist_between(self, t0, t1):
        """[(time, (x, y, z))] of the wrist camera's poses received in [t0, t1]."""
        return [(t, p) for t, p in list(self.wrist) if t0 <= t <= t1]

    def count_episode_events(self, episode_id, timeout_s=10.0):
        """How many events of this episode the memory node answers with (-1: no answer)."""
        from memory_interfaces.srv import QueryMemory

        client = self.node.create_client(QueryMemory, '/memory/query')
        try:
            if not client.wait_for_service(timeout_sec=timeout_s):
                return -1
            future = client.call_async(QueryMemory.Request(
                kind=QueryMemory.Request.KIND_WHAT_HAPPENED, episode_id=episode_id, k=100))
            t0 = time.monotonic()
            while not future.done() and time.monotonic() - t0 < timeout_s:
                self.rclpy.spin_once(self.node, timeout_sec=0.05)
            reply = future.result() if future.done() else None
            return len(reply.results) if reply is not None and reply.success else -1
        finally:
            self.node.destroy_client(client)

    @staticmethod
    def _ns(stamp):
        return stamp.sec * 1_000_000_000 + stamp.nanosec

    def _on_clock(self, msg):
        self.latency.clock_wall[self._ns(msg.clock)] = time.monotonic()

    def _on_objects(self, msg):
        self.latency.output('camera -> object observations', self._ns(msg.header.stamp),
                            time.monotonic())

    def _on_image(self, msg):
        from memory_nodes.perception.images import decode_color
        try:
            self.frames.append(decode_color(msg))
        except ValueError:
            pass  # the nodes count malformed images; the recording just skips them

    def save_frames(self, name):
        """The scene camera's frames since the last call, as an animated GIF."""
        frames, self.frames = self.frames, []
        if self.frames_dir is None or not frames:
            return None
        import imageio.v2 as imageio
        shape = frames[0].shape
        kept = [f for f in frames if f.shape == shape]
        if len(kept) < len(frames):   # another graph on this ROS domain publishes there too
            print(f'[main_job] {name}: left {len(frames) - len(kept)} scene frames of another '
                  f'size than {shape} out of the GIF (is another graph on ROS_DOMAIN_ID '
                  f"{os.environ.get('ROS_DOMAIN_ID', '0')}?)", flush=True)
            frames = kept
        path = Path(self.frames_dir) / f'{name}.gif'
        private_file(path)   # owner-only (0o600, folders 0o700) before imageio writes it
        imageio.mimsave(path, frames[::2], duration=0.2, loop=0)
        return path

    def _on_chunk(self, msg):
        self.chunks_received += 1
        self.latency.output('camera -> action chunk', self._ns(msg.observation_stamp),
                            time.monotonic())
        self.latency.stages.setdefault('action expert inference', []).append(
            float(msg.inference_ms))

    def _on_status(self, msg):
        with self._lock:
            self.status = msg

    def spin_for(self, seconds):
        end = time.monotonic() + seconds
        while time.monotonic() < end:
            self.rclpy.spin_once(self.node, timeout_sec=0.05)

    def wait_for_bridge(self, timeout_s=120.0):
        if not self.start_client.wait_for_service(timeout_sec=timeout_s):
            raise RuntimeError(f'the sim bridge did not offer /sim/start_episode within '
                               f'{timeout_s:.0f} s (see the node logs)')

    def wait_for_graph(self, nodes, timeout_s=180.0):
        """Wait until every node of the variant shows its endpoints on the graph, so that no
        episode starts before its observers are listening (a missed cue is a lost memory)."""
        from memory_interfaces.srv import QueryMemory

        node = self.node
        checks = {
            'preprocessor': lambda: node.count_publishers('/perception/objects') > 0,
            'planner': lambda: node.count_publishers('/planner/subgoal') > 0,
            'executor': lambda: node.count_subscribers('/planner/subgoal') > 0,
            'action_expert': lambda: node.count_publishers('/action_expert/chunk') > 0,
        }
        memory_client = None
        if 'memory' in nodes:
            memory_client = node.create_client(QueryMemory, '/memory/query')
            checks['memory'] = memory_client.service_is_ready
        t0 = time.monotonic()
        missing = [n for n in nodes if n in checks]
        while missing:
            if time.monotonic() - t0 > timeout_s:
                raise RuntimeError(f'nodes {missing} did not come up within {timeout_s:.0f} s '
                                   '(see the node logs)')
            self.rclpy.spin_once(node, timeout_sec=0.1)
            missing = [n for n in missing if not checks[n]()]
        if memory_client is not None:
            node.destroy_client(memory_client)

    def wait_for_links(self, nodes, timeout_s=60.0):
        """Wait until data flows along the links the first episode's cue depends on, beyond
        endpoints on the graph: DDS matches each publisher with each subscriber on its own
        schedule. Measured on a loaded two-core machine: the memory and planner received the
        preprocessor's object lists 2.5 s after the endpoints showed, and a shell game whose
        ball is visible for 1 s had no cue in memory. Checks, on the bridge's idle episode:
        the memory holds a sighting of it (bridge -> preprocessor -> memory) and the action
        expert has sent a chunk (bridge -> action expert -> here). Returns the seconds waited;
        prints a warning and goes on after ``timeout_s``."""
        t0 = time.monotonic()
        missing = []
        if 'memory' in nodes and 'preprocessor' in nodes:
            missing.append('preprocessor -> memory')
        if 'action_expert' in nodes:
            missing.append('sim -> action expert')
        while missing and time.monotonic() - t0 < timeout_s:
            self.spin_for(0.2)
            if 'sim -> action expert' in missing and self.chunks_received > 0:
                missing.remove('sim -> action expert')
            if 'preprocessor -> memory' in missing and self._memory_has_sightings():
                missing.remove('preprocessor -> memory')
        if missing:
            print(f'[main_job] warning: no data seen on {missing} within {timeout_s:.0f} s; '
                  'starting the episodes anyway (see the node logs)', flush=True)
        return time.monotonic() - t0

    def _memory_has_sightings(self):
        """Whether the memory recorded an object of the bridge's current episode."""
        from memory_interfaces.msg import MemoryEntry
        from memory_interfaces.srv import QueryMemory

        with self._lock:
            episode_id = self.status.episode_id if self.status is not None else ''
        if not episode_id:
            return False
        client = self.node.create_client(QueryMemory, '/memory/query')
        try:
            if not client.wait_for_service(timeout_sec=1.0):
                return False
            future = client.call_async(QueryMemory.Request(
                kind=QueryMemory.Request.KIND_WHAT_HAPPENED, episode_id=episode_id, k=100))
            t0 = time.monotonic()
            while not future.done() and time.monotonic() - t0 < 5.0:
                self.rclpy.spin_once(self.node, timeout_sec=0.05)
            reply = future.result() if future.done() else None
            return reply is not None and reply.success and any(
                r.bank == MemoryEntry.BANK_SPATIAL or r.has_position for r in reply.results)
        finally:
            self.node.destroy_client(client)

    def run_episode(self, task, seed, variant, wall_limit_s, on_phase=None, knobs=None,
                    faults=None):
        """Play one episode to its end (or the wall-clock limit); ``faults``, a NodeKiller
        armed for this episode, is stepped every loop."""
        request = self.StartEpisode.Request(task=task, seed=int(seed), mode='memory')
        request.knob_names = list(knobs or {})
        request.knob_values = [float(v) for v in (knobs or {}).values()]
        future = self.start_client.call_async(request)
        self.frames = []
        t0 = time.monotonic()
        while not future.done():
            self.rclpy.spin_once(self.node, timeout_sec=0.05)
            if time.monotonic() - t0 > 60:
                raise RuntimeError(f'StartEpisode({task}, {seed}) got no answer in 60 s')
        reply = future.result()
        if not reply.success:
            raise RuntimeError(f'StartEpisode({task}, {seed}) refused: {reply.message}')
        episode_id = reply.episode_id
        ended = {self.EpisodeStatus.STATE_SUCCEEDED: 'succeeded',
                 self.EpisodeStatus.STATE_FAILED: 'failed',
                 self.EpisodeStatus.STATE_TIMED_OUT: 'timed out'}
        phase = None
        while time.monotonic() - t0 < wall_limit_s:
            self.rclpy.spin_once(self.node, timeout_sec=0.05)
            with self._lock:
                status = self.status
            if (on_phase is not None and status is not None
                    and status.episode_id == episode_id and status.phase != phase):
                phase = status.phase
                on_phase(phase)
            if faults is not None:
                faults.step(status, episode_id)
            kills = [r.as_dict() for r in faults.records] if faults is not None else []
            if status is not None and status.episode_id == episode_id \
                    and status.state in ended:
                return EpisodeOutcome(task, seed, variant, ended[status.state],
                                      status.state == self.EpisodeStatus.STATE_SUCCEEDED,
                                      int(status.step), time.monotonic() - t0,
                                      status.message, kills)
        return EpisodeOutcome(task, seed, variant, 'wall-clock limit', False, -1,
                              time.monotonic() - t0,
                              f'no end status from the bridge within {wall_limit_s:.0f} s',
                              kills)

    def close(self):
        self.node.destroy_node()
        self.rclpy.try_shutdown()


# -- where_did_i_leave_it across episodes and a memory restart ------------------------------

WHERE_TASK = 'where_did_i_leave_it'
# choice indices of its 'stage' knob (sim/knobs.py)
STAGE_FULL, STAGE_PLACE, STAGE_PROBE = 0.0, 1.0, 2.0
# Closed drawers show only their knobs to the scene camera: 4-5 px each at 128x96, under
# the main job's minimum of 5 px; 8-10 px at 192x144 (memory_nodes/perception/sim_inputs.py)
WHERE_IMAGE_SIZE = TASK_IMAGE_SIZE[WHERE_TASK]
DEFAULT_UNRELATED = ('count', 'shell_game')


def episode_wall_limit(task, seed, real_time_factor, **knobs):
    """Wall-clock bound of one episode: its simulated time limit, twice, plus a minute."""
    steps = sim.make_env(task, seed, render=False, **knobs).max_steps
    return 60.0 + 2.0 * steps * 0.1 / max(real_time_factor, 0.5)


def wait_for_memory_answer(orchestrator, timeout_s=60.0):
    """Block until the memory node answers a real query (a restarted node is up)."""
    from memory_interfaces.srv import QueryMemory

    node = orchestrator.node
    client = node.create_client(QueryMemory, '/memory/query')
    try:
        t0 = time.monotonic()
        while time.monotonic() - t0 < timeout_s:
            if client.wait_for_service(timeout_sec=1.0):
                future = client.call_async(QueryMemory.Request(
                    kind=QueryMemory.Request.KIND_WHEN, text='episode started', k=1))
                t1 = time.monotonic()
                while not future.done() and time.monotonic() - t1 < 5.0:
                    orchestrator.rclpy.spin_once(node, timeout_sec=0.05)
                if future.done() and future.result().success:
                    return time.monotonic() - t0
            orchestrator.spin_for(0.2)
        raise RuntimeError(f'the memory node did not answer within {timeout_s:.0f} s')
    finally:
        node.destroy_client(client)


def run_where_trial(orchestrator, stack, seed, variant, unrelated, real_time_factor,
                    restart_memory=True):
    """One where_did_i_leave_it trial across episodes (docs/sim.md): the place episode (the
    planner only watches; the lifelong memory records where the item goes), the unrelated
    episodes, a restart of the memory node (a new process on the same memory file), then
    the probe episode of the same seed, which the bridge scores (right drawer first).

    Returns (probe outcome, [outcomes of the place and unrelated episodes])."""
    others = []
    limit = episode_wall_limit(WHERE_TASK, seed, real_time_factor)
    place = orchestrator.run_episode(WHERE_TASK, seed, variant, limit,
                                     knobs={'stage': STAGE_PLACE})
    place.task = f'{WHERE_TASK}/place'
    others.append(place)
    print(f'[main_job] {variant} {WHERE_TASK} seed {seed} place: {place.state}', flush=True)
    for i, task in enumerate(unrelated):
        useed = seed + 7919 * (i + 1)
        outcome = orchestrator.run_episode(task, useed, variant,
                                           episode_wall_limit(task, useed, real_time_factor))
        outcome.task = f'{task} (between place and probe)'
        others.append(outcome)
        print(f'[main_job] {variant} unrelated {task} seed {useed}: {outcome.state}',
              flush=True)
    if restart_memory:
        code = stack.kill('memory', signal.SIGINT)
        stack.start('memory')
        waited = wait_for_memory_answer(orchestrator)
        print(f'[main_job] memory node restarted (old process exit code {code}; the new one '
              f'answered after {waited:.1f} s)', flush=True)
    probe = orchestrator.run_episode(WHERE_TASK, seed, variant, limit,
                                     knobs={'stage': STAGE_PROBE})
    return probe, others


def checkpoint_tasks(folder):
    """The set of tasks a checkpoint was trained on (its config.json's meta), or None."""
    try:
        meta = json.loads((Path(folder) / 'config.json').read_text()).get('meta', {})
    except (OSError, ValueError):
        return None
    tasks = meta.get('dataset', {}).get('tasks')
    return set(tasks) if tasks else None


def summarise(outcomes, tasks, variants):
    """Rows of the success table: task, chance ceiling, then k/n and CI per variant."""
    rows = []
    for task in tasks:
        row = {'task': task, 'chance': float(sim.TASKS[task](0).chance)}
        for variant in variants:
            mine = [o for o in outcomes if o.task == task and o.variant == variant]
            k, n = sum(o.success for o in mine), len(mine)
            lo, hi = wilson_interval(k, n) if n else (0.0, 0.0)
            row[variant] = {'successes': k, 'episodes': n, 'rate': k / n if n else 0.0,
                            'ci95': [lo, hi]}
        rows.append(row)
    return rows


def format_table(rows, variants):
    header = ['task', *variants, 'chance ceiling']
    lines = ['| ' + ' | '.join(header) + ' |', '|' + ' --- |' * len(header)]
    for row in rows:
        cells = [row['task']]
        for variant in variants:
            cell = row[variant]
            lo, hi = cell['ci95']
            if not cell['episodes']:
                cells.append('not run (checkpoint not trained on it)')
                continue
            cells.append(f'{cell["successes"]}/{cell["episodes"]} = {100 * cell["rate"]:.0f} % '
                         f'[{100 * lo:.0f}, {100 * hi:.0f}]')
        cells.append(f'{100 * row["chance"]:.1f} %')
        lines.append('| ' + ' | '.join(cells) + ' |')
    return '\n'.join(lines)


def latency_summary(latency):
    summary = {}
    for stage, values in latency.stages.items():
        arr = np.asarray(values)
        summary[stage] = {'n': int(arr.size), 'p50_ms': float(np.percentile(arr, 50)),
                          'p95_ms': float(np.percentile(arr, 95)),
                          'max_ms': float(arr.max())}
    return summary


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--tasks', nargs='+', default=list(DEFAULT_TASKS),
                        choices=sorted(sim.TASKS), metavar='TASK')
    parser.add_argument('--episodes', type=int, default=2, help='episodes per task and variant')
    parser.add_argument('--seed', type=int, default=5000, help='first seed (held out)')
    parser.add_argument('--variants', nargs='+', default=list(DEFAULT_VARIANTS),
                        metavar='VARIANT', help=f'of {sorted(VARIANTS)}')
    parser.add_argument('--real-time-factor', type=float, default=2.0,
                        help='simulated seconds per wall second (0: as fast as possible)')
    parser.add_argument('--kill-memory-in-delay', action='store_true',
                        help='fault injection: SIGKILL the memory node when each episode '
                        'enters its delay phase and start it again on the same file (the '
                        'same as --kill memory --kill-at delay)')
    parser.add_argument('--kill', nargs='+', default=[], choices=KILLABLE, metavar='NODE',
                        help='fault injection: SIGKILL a node in every episode and restart '
                        'it; episode i of a task kills the (i mod n)-th of these nodes '
                        f'(of {list(KILLABLE)}; docs/faults.md)')
    parser.add_argument('--kill-at', choices=KILL_AT, default=None,
                        help='when --kill strikes: delay (the delay phase begins), act (the '
                        'act phase begins) or motion (1 s after the executor took the '
                        'first subgoal); default delay')
    parser.add_argument('--kill-down-s', type=float, default=0.0,
                        help='seconds a killed node stays dead before it is restarted '
                        '(default 0: at once)')
    parser.add_argument('--where-unrelated', nargs='*', default=list(DEFAULT_UNRELATED),
                        choices=sorted(sim.TASKS), metavar='TASK',
                        help=f'{WHERE_TASK} runs as a trial across episodes: place, these '
                        'unrelated episodes, a memory-node restart, then the probe '
                        f'(default: {" ".join(DEFAULT_UNRELATED)})')
    parser.add_argument('--record-policy-inputs', action='store_true',
                        help='the action-expert variants write what the policy saw and '
                        'answered per episode to <out>/<variant>/policy_inputs/ '
                        '(memory_nodes/policy_inputs.py)')
    parser.add_argument('--checkpoint', default=None,
                        help='checkpoint folder the action-expert variants load (default: '
                        'the shipped models.DEFAULT_CHECKPOINT); its training tasks decide '
                        'which tasks they play')
    parser.add_argument('--out', default=None, help='folder for logs and results '
                        '(default runs/main_job/<time>)')
    args = parser.parse_args(argv)
    unknown = [v for v in args.variants if v not in VARIANTS]
    if unknown:
        parser.error(f'variants {unknown} cannot run yet; available: {sorted(VARIANTS)}')
    trained_tasks = None  # tasks the action expert's checkpoint was trained on
    checkpoint = None
    if any('action_expert' in VARIANTS[v][0] for v in args.variants):
        import models
        checkpoint = Path(args.checkpoint or models.DEFAULT_CHECKPOINT).expanduser().resolve()
        if not (checkpoint / 'model.safetensors').is_file():
            which = 'the shipped checkpoint' if args.checkpoint is None else \
                f'--checkpoint {args.checkpoint!r}'
            parser.error(f'the action-expert variants need {which}: no model.safetensors '
                         f'in {checkpoint}')
        trained_tasks = checkpoint_tasks(checkpoint)
    elif args.checkpoint is not None:
        parser.error(f'--checkpoint {args.checkpoint!r}: none of the variants '
                     f'{args.variants} runs the action expert')
    if args.episodes < 1:
        parser.error(f'--episodes is {args.episodes}; expected >= 1')
    if args.kill_memory_in_delay:
        if args.kill_at not in (None, 'delay'):
            parser.error('--kill-memory-in-delay kills in the delay phase; it cannot go with '
                         f'--kill-at {args.kill_at}')
        args.kill = list(dict.fromkeys(['memory', *args.kill]))
    args.kill_at = args.kill_at or 'delay'
    for variant in args.variants:
        missing = [n for n in args.kill if variant in VARIANTS and n not in VARIANTS[variant][0]]
        if missing:
            parser.error(f'--kill {missing}: variant {variant} does not run '
                         f'{"that node" if len(missing) == 1 else "those nodes"} '
                         f'(it runs {list(VARIANTS[variant][0])})')
    out = Path(args.out or Path('runs') / 'main_job' / time.strftime('%Y%m%d-%H%M%S'))
    private_dir(out)   # the run folder and what is made under it are owner-only
    os.environ.setdefault('ROS_AUTOMATIC_DISCOVERY_RANGE', 'LOCALHOST')
    description = load_stack('sim')
    outcomes = []
    between = []  # episodes of where_did_i_leave_it trials before their probe
    latency = LatencyLog()
    for variant in args.variants:
        nodes, overrides, meaning = VARIANTS[variant]
        overrides = {name: dict(params) for name, params in overrides.items()}
        # the shell game's ball is 8 px in a 128x96 frame: keep small instances
        overrides.setdefault('preprocessor', {}).setdefault('min_object_pixels',
                                                            MAIN_JOB_MIN_OBJECT_PIXELS)
        rtf = args.real_time_factor
        if 'action_expert' in nodes and (rtf <= 0 or rtf > AE_MAX_RTF):
            # on 2 CPU cores the policy keeps up with the camera in real time, not faster:
            # at 2x every action-expert episode timed out (its chunks came too late)
            print(f'[main_job] {variant}: real-time factor {rtf} -> {AE_MAX_RTF} (the action '
                  'expert infers on the CPU once per camera frame)', flush=True)
            rtf = AE_MAX_RTF
        overrides.setdefault('sim_bridge', {})['real_time_factor'] = rtf
        if WHERE_TASK in args.tasks:  # the probe must see the closed drawers' knobs
            overrides['sim_bridge'].setdefault('width', WHERE_IMAGE_SIZE[0])
            overrides['sim_bridge'].setdefault('height', WHERE_IMAGE_SIZE[1])
        if 'memory' in nodes:  # a fresh lifelong memory file per variant, kept with the run
            overrides.setdefault('memory', {}).update(
                store_path=str((out / variant / 'memory.db').resolve()),
                storage_root=str((out / variant).resolve()))
        if 'action_expert' in nodes:
            expert = overrides.setdefault('action_expert', {})
            expert['checkpoint'] = str(checkpoint)
            if args.record_policy_inputs:
                expert['record_dir'] = str((out / variant / 'policy_inputs').resolve())
        print(f'[main_job] variant {variant}: {meaning}', flush=True)
        print(f'[main_job] starting nodes {list(nodes)} (one OS process each); logs in '
              f'{out / variant}', flush=True)
        stack = StackProcesses(description, only=nodes, extra_parameters=overrides,
                               log_dir=str(out / variant))
        orchestrator = None
        try:
            stack.start()
            orchestrator = Orchestrator(frames_dir=out / variant / 'frames')
            orchestrator.wait_for_bridge()
            orchestrator.wait_for_graph(nodes)
            orchestrator.spin_for(1.0)
            waited = orchestrator.wait_for_links(nodes)
            print(f'[main_job] graph up; data flowing after {waited:.1f} s more', flush=True)
            killer = NodeKiller(orchestrator, stack, args.kill_at,
                                down_s=args.kill_down_s) if args.kill else None
            for task in args.tasks:
                if ('action_expert' in nodes and trained_tasks is not None
                        and task not in trained_tasks):
                    print(f'[main_job] {variant}: skipping {task}: the checkpoint was trained '
                          f'on {sorted(trained_tasks)} only', flush=True)
                    continue
                for i in range(args.episodes):
                    seed = args.seed + i
                    limit = 60.0 + 2.0 * sim.make_env(task, seed, render=False).max_steps \
                        * 0.1 / max(rtf, 0.5)
                    if task == WHERE_TASK and 'action_expert' in nodes:
                        # the policy's bank lives for one episode: it plays the 'full' stage
                        # (place, delay, probe in one episode), what it was trained on; the
                        # trial across episodes is the lifelong memory's (planner variants)
                        outcome = orchestrator.run_episode(task, seed, variant, limit,
                                                           knobs={'stage': STAGE_FULL})
                    elif task == WHERE_TASK:
                        outcome, others = run_where_trial(
                            orchestrator, stack, seed, variant, args.where_unrelated,
                            rtf, restart_memory='memory' in nodes)
                        between.extend(others)
                    else:
                        if killer is not None:
                            killer.arm(args.kill[i % len(args.kill)])
                        outcome = orchestrator.run_episode(task, seed, variant, limit,
                                                           faults=killer)
                    outcomes.append(outcome)
                    gif = orchestrator.save_frames(f'{task}_{seed}')
                    print(f'[main_job] {variant} {task} seed {seed}: {outcome.state} '
                          f'({outcome.steps} steps, {outcome.wall_s:.1f} s); frames: {gif}',
                          flush=True)
                    if killer is not None and task != WHERE_TASK:
                        killed = ', '.join(r['node'] for r in outcome.faults) or \
                            'none (the trigger was not reached)'
                        print(f'[main_job] fault outcome: killed {killed}; episode '
                              f'{outcome.state}: {outcome.message}', flush=True)
            for stage, values in orchestrator.latency.stages.items():
                latency.stages.setdefault(stage, []).extend(values)
        finally:
            if orchestrator is not None:
                orchestrator.close()
            stack.stop()
    rows = summarise(outcomes, args.tasks, args.variants)
    lat = latency_summary(latency)
    table = format_table(rows, args.variants)
    print('\nSuccess per task (k/n, 95 % Wilson interval), held-out seeds '
          f'{args.seed}..{args.seed + args.episodes - 1}:\n')
    print(table)
    print('\nPer-stage latency (wall clock, from the camera image stamp):')
    for stage, s in lat.items():
        print(f'  {stage}: p50 {s["p50_ms"]:.1f} ms, p95 {s["p95_ms"]:.1f} ms '
              f'(n = {s["n"]})')
    results = {'rows': rows, 'latency': lat, 'episodes': [o.__dict__ for o in outcomes],
               'between_place_and_probe': [o.__dict__ for o in between],
               'args': vars(args), 'checkpoint': str(checkpoint) if checkpoint else None,
               'variants': {v: VARIANTS[v][2] for v in args.variants}}
    write_private_text(out / 'results.json', json.dumps(results, indent=2))
    write_private_text(out / 'results.md', table + '\n')
    print(f'\nSaved results, node logs, memory files and episode GIFs (<variant>/frames/) '
          f'under {out}/')
    return 0


if __name__ == '__main__':
    sys.exit(main())
