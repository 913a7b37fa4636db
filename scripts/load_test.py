"""Load test of the node graph: 640x480 colour + depth at 30 Hz and 10 Hz scene clouds into
the memory for a stretch of simulated time, watching memory growth, control-rate misses and
message loss on reliable topics.

Starts the main job's action-expert graph (sim bridge, preprocessor, memory on a fresh
SQLite file in the run folder, planner, executor, the action expert with the shipped
checkpoint; --no-action-expert: the full-stack graph without it), one OS process per node,
with the bridge at --width x --height, --camera-hz frames per simulated second (colour,
depth and the instance masks perception needs; the scene camera, the wrist camera too with
--wrist) and the preprocessor publishing a scene cloud --cloud-hz times per
simulated second, every one of which the memory node takes into its voxel map. Then it
plays memory tasks back to back until --sim-minutes of simulated time have passed (the
last episode runs to its end). Every --sample-s wall seconds it samples the resident set
size of each node process (psutil), the store file (+ WAL) size, the memory's rows per bank
(/memory/stats) and message counts.

At the end every node logs what it sent and took per reliable topic (``TopicCounts``); the
test compares them (no loss allowed), counts executor cycles skipped and bridge steps that
overran their period, fits the growth of each RSS and of the store over the second half of
the run (MB per simulated hour, flagged above the limits) and writes
runs/load/<time>/load.json, rss.png and store.png. Exit code 1 when a check fails.

    python scripts/load_test.py                      # the issue's 30 simulated minutes
    python scripts/load_test.py --sim-minutes 2      # a short check (tests/load)
"""

import argparse
import json
import os
from pathlib import Path
import sys
import threading
import time

from memory_nodes.graph_session import GraphSession, action_expert_stats
from memory_nodes.load_analysis import control_misses, growth_report, reliable_loss
from memory_nodes.ros_common import parse_counts_line
import sim
from sim.env import CONTROL_DT

DEFAULT_TASKS = ('shell_game', 'remember_color', 'button_sequence', 'count',
                 'moved_while_watched', 'put_back')
MB = 1e6
# Fast DDS sends a message larger than its shared-memory segment (512 KiB by default) over
# UDP fragments, and best-effort 640x480 images then mostly never arrive (measured: 16 % of
# the colour frames). This profile gives every participant of the run a 64 MiB segment.
FASTDDS_PROFILE = """<?xml version="1.0" encoding="UTF-8" ?>
<profiles xmlns="http://www.eprosima.com">
  <transport_descriptors>
    <transport_descriptor>
      <transport_id>load_shm</transport_id>
      <type>SHM</type>
      <segment_size>67108864</segment_size>
    </transport_descriptor>
    <transport_descriptor>
      <transport_id>load_udp</transport_id>
      <type>UDPv4</type>
    </transport_descriptor>
  </transport_descriptors>
  <participant profile_name="load_test" is_default_profile="true">
    <rtps>
      <useBuiltinTransports>false</useBuiltinTransports>
      <userTransports>
        <transport_id>load_shm</transport_id>
        <transport_id>load_udp</transport_id>
      </userTransports>
    </rtps>
  </participant>
</profiles>
"""


def subscribers(action_expert):
    """{reliable topic: nodes that subscribe to it} in the load test's graph (latched
    topics, which keep only their newest message by design, are left out)."""
    topics = {
        '/perception/objects': ['memory', 'planner'],
        '/memory/events': ['memory', 'planner'],
        '/planner/subgoal': ['executor'],
        '/sim/ee_target': ['sim_bridge'],
        '/sim/gripper': ['sim_bridge'],
    }
    if action_expert:
        topics['/perception/objects'].append('action_expert')
        topics['/action_expert/chunk'] = ['executor']
    return topics


def overrides(args, out):
    bridge = {'width': args.width, 'height': args.height, 'camera_rate_hz': args.camera_hz,
              'real_time_factor': args.real_time_factor, 'autoplay': False,
              'cameras': ['scene', 'wrist'] if args.wrist else ['scene']}
    return {
        'sim_bridge': bridge,
        'preprocessor': {'scene_cloud_period_s': 1.0 / args.cloud_hz, 'stats_period_s': 10.0,
                         'min_object_pixels': 5},
        'memory': {'cloud_period_s': 0.0, 'store_path': str(out / 'memory.db')},
        'executor': {},
        'action_expert': {'stats_period_s': 5.0},
    }


class Listener:
    """Subscriptions on the orchestrator's node: simulated time, /memory/stats, and counts
    of the reliable topics as a listener outside the graph sees them."""

    def __init__(self, node, topics):
        from rosgraph_msgs.msg import Clock

        from memory_interfaces.msg import MemoryStats
        from memory_nodes.ros_common import RELIABLE_QOS, SENSOR_QOS, stamp_to_sec

        self.first_clock = None
        self.clock = None
        self.stats = None
        self.counts = dict.fromkeys(topics, 0)
        self.clock_msgs = 0

        def on_clock(msg):
            t = stamp_to_sec(msg.clock)
            self.first_clock = t if self.first_clock is None else self.first_clock
            self.clock = t if self.clock is None else max(self.clock, t)
            self.clock_msgs += 1

        def on_stats(msg):
            self.stats = {'store_bytes': msg.store_bytes, 'spatial_tracks': msg.spatial_tracks,
                          'temporal_events': msg.temporal_events, 'episodes': msg.episodes,
                          'semantic_facts': msg.semantic_facts, 'vectors': msg.vectors,
                          'observations_ingested': msg.observations_ingested}

        node.create_subscription(Clock, '/clock', on_clock, SENSOR_QOS)
        node.create_subscription(MemoryStats, '/memory/stats', on_stats, RELIABLE_QOS)
        for topic, msg_type in topics.items():
            node.create_subscription(msg_type, topic, self._counter(topic), RELIABLE_QOS)

    def _counter(self, topic):
        def callback(_msg):
            self.counts[topic] += 1
        return callback

    def sim_elapsed(self):
        return 0.0 if self.clock is None else self.clock - self.first_clock


def reliable_types(topics):
    from geometry_msgs.msg import PoseStamped
    from std_msgs.msg import Float64

    from memory_interfaces.msg import (
        ActionChunk,
        MemoryEvent,
        ObjectObservationArray,
        Subgoal,
    )
    types = {'/perception/objects': ObjectObservationArray, '/memory/events': MemoryEvent,
             '/planner/subgoal': Subgoal, '/sim/ee_target': PoseStamped,
             '/sim/gripper': Float64, '/action_expert/chunk': ActionChunk}
    return {topic: types[topic] for topic in topics}


def foreign_nodes(node, ours):
    """Names of nodes on this ROS domain that are not this run's (another graph in the same
    domain would add its messages to this run's counts)."""
    names = [name for name, _ in node.get_node_names_and_namespaces()]
    expected = list(ours) + [node.get_name()]
    foreign = [n for n in names if n not in expected]
    for name in set(expected):
        foreign += [name] * max(0, names.count(name) - 1)  # a second node of the same name
    return sorted(foreign)


def store_bytes(path):
    """Sizes of the SQLite file and its -wal / -shm companions (0 when missing)."""
    sizes = {}
    for suffix in ('', '-wal', '-shm'):
        try:
            sizes[suffix or 'db'] = os.path.getsize(f'{path}{suffix}')
        except OSError:
            sizes[suffix or 'db'] = 0
    return sizes


class Sampler(threading.Thread):
    """Every ``period_s`` wall seconds: RSS of each node process, store size, the newest
    /memory/stats rows, listener counts, simulated time."""

    def __init__(self, session, listener, period_s):
        super().__init__(name='load_sampler', daemon=True)
        import psutil
        self.psutil = psutil
        self.session, self.listener, self.period_s = session, listener, period_s
        self.samples = []
        self.crashed = {}
        self._halt = threading.Event()
        self.t0 = time.monotonic()

    def sample(self):
        rss = {}
        for name, pid in self.session.pids().items():
            try:
                rss[name] = self.psutil.Process(pid).memory_info().rss / MB
            except self.psutil.Error:
                rss[name] = None
        for name, code in self.session.stack.poll().items():
            if code is not None and name not in self.crashed:
                self.crashed[name] = code
        store = store_bytes(self.session.store_path)
        self.samples.append({
            'wall_s': time.monotonic() - self.t0, 'sim_s': self.listener.sim_elapsed(),
            'rss_mb': rss, 'store_mb': (store['db'] + store['-wal']) / MB,
            'store_bytes': store, 'memory_stats': self.listener.stats,
            'listener_counts': dict(self.listener.counts),
            'clock_msgs': self.listener.clock_msgs})

    def run(self):
        while not self._halt.wait(self.period_s):
            self.sample()

    def stop(self):
        self._halt.set()
        self.join(timeout=10)
        self.sample()


def episode_wall_limit(task, seed, rtf):
    """Generous wall-clock bound of one episode at the requested real-time factor."""
    steps = sim.make_env(task, seed, render=False).max_steps
    return 120.0 + 3.0 * steps * CONTROL_DT / max(rtf if rtf > 0 else 0.05, 0.05)


def plot(samples, out):
    """rss.png (RSS per node vs simulated minutes) and store.png (store size and rows)."""
    import matplotlib
    matplotlib.use('Agg')
    import matplotlib.pyplot as plt

    minutes = [s['sim_s'] / 60 for s in samples]
    nodes = sorted({n for s in samples for n in s['rss_mb']})
    fig, ax = plt.subplots(figsize=(8, 4.5))
    for node in nodes:
        ax.plot(minutes, [s['rss_mb'].get(node) for s in samples], label=node)
    ax.set_xlabel('simulated time (min)')
    ax.set_ylabel('resident set size (MB)')
    ax.set_title('RSS per node process')
    ax.grid(alpha=0.3)
    ax.legend(fontsize='small')
    fig.tight_layout()
    rss_png = out / 'rss.png'
    fig.savefig(rss_png, dpi=100)
    plt.close(fig)

    fig, (top, bottom) = plt.subplots(2, 1, figsize=(8, 7), sharex=True)
    top.plot(minutes, [s['store_mb'] for s in samples], color='C0', label='file + WAL')
    top.plot(minutes, [s['store_bytes']['-wal'] / MB for s in samples], color='C1',
             label='WAL alone')
    top.set_ylabel('store size (MB)')
    top.set_title('Lifelong memory store')
    top.grid(alpha=0.3)
    top.legend(fontsize='small')
    for field in ('spatial_tracks', 'temporal_events', 'episodes', 'vectors'):
        bottom.plot(minutes, [(s['memory_stats'] or {}).get(field) for s in samples],
                    label=field)
    bottom.set_yscale('symlog')
    bottom.set_xlabel('simulated time (min)')
    bottom.set_ylabel('rows (/memory/stats)')
    bottom.grid(alpha=0.3)
    bottom.legend(fontsize='small')
    fig.tight_layout()
    store_png = out / 'store.png'
    fig.savefig(store_png, dpi=100)
    plt.close(fig)
    return [str(rss_png), str(store_png)]


def analyse(samples, counts, topics, args, action_expert=None):
    """The load test's figures and checks from samples and node counts."""
    times = [s['sim_s'] for s in samples]
    nodes = sorted({n for s in samples for n in s['rss_mb']})
    rss = growth_report(times, {n: [s['rss_mb'].get(n) for s in samples] for n in nodes},
                        args.rss_limit_mb_per_h)
    store = growth_report(times, {'store': [s['store_mb'] for s in samples]},
                          args.store_limit_mb_per_h)
    loss = reliable_loss(counts, topics)
    c = {n: v for n, v in counts.items() if v is not None}
    perception = {
        'frames_published': (c.get('sim_bridge') or {}).get('counters', {}).get('frames'),
        'frames_processed': (c.get('preprocessor') or {}).get('sent', {}).get(
            '/perception/objects'),
        'clouds_published': (c.get('preprocessor') or {}).get('counters', {}).get('clouds'),
        'clouds_ingested': (c.get('memory') or {}).get('counters', {}).get('clouds_ingested'),
    }
    control = control_misses(counts)
    control['action_expert'] = action_expert  # its newest stats line (every 5 s)
    return {'rss_mb': rss, 'store_mb': store, 'reliable': loss, 'control': control,
            'perception': perception}


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--sim-minutes', type=float, default=30.0,
                        help='simulated minutes of episodes played back to back')
    parser.add_argument('--sample-s', type=float, default=10.0, help='wall seconds per sample')
    parser.add_argument('--tasks', nargs='+', default=list(DEFAULT_TASKS),
                        choices=sorted(sim.TASKS), metavar='TASK')
    parser.add_argument('--seed', type=int, default=7000, help='first seed')
    parser.add_argument('--width', type=int, default=640)
    parser.add_argument('--height', type=int, default=480)
    parser.add_argument('--camera-hz', type=float, default=30.0,
                        help='camera frames per simulated second')
    parser.add_argument('--cloud-hz', type=float, default=10.0,
                        help='scene clouds per simulated second')
    parser.add_argument('--real-time-factor', type=float, default=0.25,
                        help='simulated seconds per wall second (0: as fast as it can)')
    parser.add_argument('--wrist', action='store_true', help='publish the wrist camera too')
    parser.add_argument('--no-action-expert', dest='action_expert', action='store_false',
                        help='leave the action expert out: the graph of the full_stack '
                        'variant, whose executor runs motion primitives')
    parser.add_argument('--rss-limit-mb-per-h', type=float, default=50.0,
                        help='flag a node whose RSS grows faster (second half of the run)')
    parser.add_argument('--store-limit-mb-per-h', type=float, default=500.0,
                        help='flag the store when it grows faster (second half)')
    parser.add_argument('--quiet-s', type=float, default=5.0,
                        help='wall seconds to let the last messages land before stopping')
    parser.add_argument('--no-dds-profile', dest='dds_profile', action='store_false',
                        help="keep Fast DDS's default transports (images over 512 KiB then "
                        'go over UDP fragments and most are lost)')
    parser.add_argument('--out', default='runs/load', help='a <time> folder is made here')
    args = parser.parse_args(argv)
    for name in ('sim_minutes', 'sample_s', 'camera_hz', 'cloud_hz'):
        if not getattr(args, name) > 0:
            parser.error(f'--{name.replace("_", "-")} is {getattr(args, name)}; expected > 0')
    if args.camera_hz < 10:
        parser.error(f'--camera-hz is {args.camera_hz}; the bridge renders at least one frame '
                     'per 0.1 s control step (>= 10)')
    out = (Path(args.out) / time.strftime('%Y%m%d-%H%M%S')).resolve()
    out.mkdir(parents=True, exist_ok=True)
    # the node processes take this environment (StackProcesses copies it when built):
    # a domain of its own (like tests/conftest.py) unless the caller chose one, and the
    # shared-memory profile
    os.environ.setdefault('ROS_DOMAIN_ID', str(101 - os.getpid() % 100))
    if args.dds_profile and 'FASTDDS_DEFAULT_PROFILES_FILE' not in os.environ:
        profile = out / 'fastdds_profile.xml'
        profile.write_text(FASTDDS_PROFILE)
        os.environ['FASTDDS_DEFAULT_PROFILES_FILE'] = str(profile)  # nodes and listener
    topics = subscribers(args.action_expert)
    variant = 'action_expert' if args.action_expert else 'full_stack'
    session = GraphSession(variant, out, overrides(args, out))
    print(f'[load] {variant} graph, {args.width}x{args.height} at {args.camera_hz:g} Hz, '
          f'clouds at {args.cloud_hz:g} Hz, for {args.sim_minutes:g} simulated min at '
          f'real-time factor {args.real_time_factor:g}; logs in {out}', flush=True)
    outcomes, sampler, foreign = [], None, None
    wall0 = time.monotonic()
    target_s = args.sim_minutes * 60
    try:
        session.start()
        session.orchestrator.spin_for(2.0)
        foreign = foreign_nodes(session.orchestrator.node, session.nodes)
        if foreign:
            raise RuntimeError(f'other nodes share ROS_DOMAIN_ID '
                               f'{os.environ.get("ROS_DOMAIN_ID")}: {foreign}; their messages '
                               "would mix with this run's counts. Set another ROS_DOMAIN_ID.")
        listener = Listener(session.orchestrator.node, reliable_types(topics))
        sampler = Sampler(session, listener, args.sample_s)
        sampler.sample()
        sampler.start()

        def report(o):
            print(f'[load] {o.task} seed {o.seed}: {o.state} ({o.steps} steps, '
                  f'{o.wall_s:.0f} s); simulated {listener.sim_elapsed() / 60:.1f} / '
                  f'{args.sim_minutes:g} min', flush=True)

        outcomes = session.play(
            args.tasks, args.seed, lambda: listener.sim_elapsed() < target_s,
            lambda task, seed: episode_wall_limit(task, seed, args.real_time_factor),
            label='load', on_end=report)
        session.orchestrator.spin_for(args.quiet_s)
        foreign = foreign_nodes(session.orchestrator.node, session.nodes)
    finally:
        try:
            if sampler is not None:
                sampler.stop()
        finally:
            session.stop()
    wall_s = time.monotonic() - wall0
    counts = {}
    for node in session.nodes:
        try:
            counts[node] = parse_counts_line(session.log(node))
        except ValueError as error:
            print(f'[load] {node}: {error}', file=sys.stderr)
            counts[node] = None
    exit_codes = {name: proc.returncode for name, proc in session.stack.processes.items()}
    samples = sampler.samples if sampler is not None else []
    ae = action_expert_stats(session.log('action_expert')) if args.action_expert else None
    figures = analyse(samples, counts, topics, args, ae)
    sim_s = samples[-1]['sim_s'] if samples else 0.0
    checks = {
        'no_loss_on_reliable_topics': all(r['ok'] for r in figures['reliable'].values()),
        'rss_growth_bounded': not any(r['flagged'] for r in figures['rss_mb'].values()),
        'store_growth_bounded': not any(r['flagged'] for r in figures['store_mb'].values()),
        'no_node_crashed': not sampler.crashed and all(c == 0 for c in exit_codes.values()),
        'reached_sim_time': sim_s >= target_s,
        'alone_on_ros_domain': foreign == [],
    }
    result = {
        'args': vars(args), 'variant': variant, 'sim_minutes': sim_s / 60,
        'wall_minutes': wall_s / 60, 'real_time_factor_achieved': sim_s / max(wall_s, 1e-9),
        'episodes': [o.__dict__ for o in outcomes],
        'successes': sum(o.success for o in outcomes), 'figures': figures,
        'node_counts': counts, 'exit_codes': exit_codes, 'crashed_during_run': sampler.crashed,
        'foreign_nodes_at_end': foreign, 'ros_domain_id': os.environ['ROS_DOMAIN_ID'],
        'checks': checks, 'ok': all(checks.values()), 'samples': samples, 'logs': str(out),
    }
    result['plots'] = plot(samples, out) if samples else []
    (out / 'load.json').write_text(json.dumps(result, indent=2))
    print_summary(result)
    return 0 if result['ok'] else 1


def print_summary(r):
    f = r['figures']
    print(f"\n[load] {r['sim_minutes']:.1f} simulated min in {r['wall_minutes']:.1f} wall min "
          f"(real-time factor {r['real_time_factor_achieved']:.2f}); {len(r['episodes'])} "
          f"episodes, {r['successes']} succeeded")
    print('RSS per node (MB: first -> last, growth over the second half per simulated hour):')
    for node, g in f['rss_mb'].items():
        slope = 'n/a' if g['slope_per_hour'] is None else f"{g['slope_per_hour']:+.1f} MB/h"
        flag = '  <-- above the limit' if g['flagged'] else ''
        print(f"  {node:14s} {g['first']:7.1f} -> {g['last']:7.1f}  ({slope}){flag}")
    g = f['store_mb']['store']
    slope = 'n/a' if g['slope_per_hour'] is None else f"{g['slope_per_hour']:+.1f} MB/h"
    print(f"store (file + WAL): {g['first']:.2f} -> {g['last']:.2f} MB ({slope})"
          f"{'  <-- above the limit' if g['flagged'] else ''}")
    print('reliable topics (sent -> taken per subscriber):')
    for topic, t in f['reliable'].items():
        taken = ', '.join(f'{n} {v}' for n, v in t['received'].items())
        print(f"  {topic:22s} sent {t['sent']:6d} -> {taken}  {'ok' if t['ok'] else 'LOSS'}")
    c, p = f['control'], f['perception']
    print(f"control: executor {c['executor_cycles']} cycles, {c['executor_missed_cycles']} "
          f"control periods skipped; bridge {c['bridge_steps']} steps, "
          f"{c['bridge_overrun_steps']} overran their period")
    if c['action_expert'] is not None:
        a = c['action_expert']
        print(f"action expert (newest stats line): {a['chunks']} chunks, "
              f"{a['deferred_cycles']} frames deferred (inference busy), "
              f"{a['skipped_cycles']} skipped, {a['dropped_late']} dropped late")
    print(f"perception: {p['frames_processed']} of {p['frames_published']} camera frames "
          f"processed (best effort: a busy preprocessor skips frames); clouds "
          f"{p['clouds_published']} published, {p['clouds_ingested']} ingested")
    failed = [k for k, v in r['checks'].items() if not v]
    print(f"checks: {'all passed' if not failed else 'FAILED ' + ', '.join(failed)}; "
          f"{r['logs']}/load.json, rss.png, store.png")


if __name__ == '__main__':
    sys.exit(main())
