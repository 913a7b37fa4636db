"""where_did_i_leave_it across episodes through the sim bridge, with bridge processes as a
stack would run them: process A plays the place episode (first episode from parameters,
`knobs:=['stage=place']`), then an unrelated episode, both started and scored through
StartEpisode and the latched /sim/episode_status; process B (a new process, as after a
restart) starts straight with the probe episode. A scorer reads task, seed, mode, phase,
step and the outcome from the status alone; phase changes are published at their step."""

import os
from pathlib import Path
import subprocess
import sys
import threading
import time

import pytest

pytest.importorskip('rclpy')
pytest.importorskip('memory_interfaces.msg')

import rclpy  # noqa: E402
from rclpy.executors import SingleThreadedExecutor  # noqa: E402
from rclpy.qos import QoSProfile  # noqa: E402
from std_msgs.msg import String  # noqa: E402

from memory_interfaces.msg import EpisodeStatus  # noqa: E402
from memory_interfaces.srv import StartEpisode  # noqa: E402
from memory_nodes.ros_common import LATCHED_QOS  # noqa: E402
import sim  # noqa: E402

pytestmark = pytest.mark.ros
ROOT = Path(__file__).resolve().parents[2]
SEED = 3
TASK = 'where_did_i_leave_it'
ENDED = (EpisodeStatus.STATE_SUCCEEDED, EpisodeStatus.STATE_FAILED,
         EpisodeStatus.STATE_TIMED_OUT)


def _start_bridge(log_path, *params):
    argv = [sys.executable, '-m', 'sim.bridge_node', '--ros-args', '-p', 'autostart:=true',
            '-p', 'real_time_factor:=0.0', '-p', 'width:=32', '-p', 'height:=24',
            '-p', 'publish_depth:=false', '-p', 'publish_segmentation:=false',
            '-p', 'policy:=expert']  # the scripted expert acts, as in today's main job
    for param in params:
        argv += ['-p', param]
    log = open(log_path, 'w')
    proc = subprocess.Popen(argv, cwd=ROOT, env=dict(os.environ, PYTHONUNBUFFERED='1'),
                            stdout=log, stderr=subprocess.STDOUT)
    return proc, log


def _stop(proc, log):
    proc.terminate()
    try:
        assert proc.wait(timeout=10) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        log.close()


class Scorer:
    """What a scorer needs: the status stream, the instruction, the StartEpisode client."""

    def __init__(self):
        self.context = rclpy.Context()
        rclpy.init(context=self.context)
        self.node = rclpy.create_node('episode_scorer', context=self.context)
        self.status, self.instructions = [], []
        self.lock = threading.Lock()
        # every status, not only the latest: the bridge runs as fast as it can here, and a
        # scorer on a loaded machine must still see each phase change (a depth of 1 keeps
        # only the newest message while this process is busy)
        every_status = QoSProfile(depth=200, reliability=LATCHED_QOS.reliability,
                                  durability=LATCHED_QOS.durability)
        self.node.create_subscription(EpisodeStatus, '/sim/episode_status',
                                      lambda m: self._add(self.status, m), every_status)
        self.node.create_subscription(String, '/instruction',
                                      lambda m: self._add(self.instructions, m.data),
                                      LATCHED_QOS)
        self.client = self.node.create_client(StartEpisode, '/sim/start_episode')
        self.executor = SingleThreadedExecutor(context=self.context)
        self.executor.add_node(self.node)
        self.thread = threading.Thread(target=self.executor.spin, daemon=True)
        self.thread.start()

    def _add(self, items, value):
        with self.lock:
            items.append(value)

    def final(self, episode_id, timeout=60.0):
        """Wait for the episode's terminal status; return all its statuses."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with self.lock:
                mine = [s for s in self.status if s.episode_id == episode_id]
            if mine and mine[-1].state in ENDED:
                return mine
            time.sleep(0.05)
        raise AssertionError(f'episode {episode_id} did not end; statuses: {len(mine)}')

    def first_episode_id(self, timeout=60.0):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with self.lock:
                if self.status:
                    return self.status[0].episode_id
            time.sleep(0.05)
        raise AssertionError('no episode status')

    def start(self, task, seed, mode='memory', **knobs):
        assert self.client.wait_for_service(timeout_sec=30)
        request = StartEpisode.Request(task=task, seed=seed, mode=mode,
                                       knob_names=list(knobs),
                                       knob_values=[float(v) for v in knobs.values()])
        future = self.client.call_async(request)
        deadline = time.monotonic() + 30
        while not future.done() and time.monotonic() < deadline:
            time.sleep(0.02)
        assert future.done(), 'start_episode did not answer'
        return future.result()

    def close(self):
        self.executor.shutdown(timeout_sec=1.0)
        self.node.destroy_node()
        rclpy.try_shutdown(context=self.context)


def _check_scorer_fields(statuses, task, seed, mode, env, phases=True):
    last = statuses[-1]
    assert (last.task, last.seed, last.mode) == (task, seed, mode)
    assert last.step == env.max_steps or last.state != EpisodeStatus.STATE_TIMED_OUT
    assert abs(last.elapsed_s - 0.1 * last.step) < 1e-4
    # Each phase change is published at the step it happens (seen by a scorer that was
    # listening from the start of the episode).
    for phase, step in () if not phases else ((1, env.task.cue_steps),
                        (2, env.task.cue_steps + env.task.delay_steps)):
        if step < last.step:
            assert any(s.phase == phase and s.step == step for s in statuses), (phase, step)


def test_place_unrelated_then_probe_in_a_new_process(tmp_path):
    scorer = Scorer()
    place_env = sim.make_env(TASK, SEED, render=False, stage='place')
    probe_env = sim.make_env(TASK, SEED, render=False, stage='probe')
    proc, log = _start_bridge(tmp_path / 'a.log', f'task:={TASK}', f'seed:={SEED}',
                              "knobs:=['stage=place']")
    try:
        # Process A, episode 1: the place episode, configured by parameters. At full speed
        # it may end before the scorer is connected: the latched status still tells.
        place = scorer.final(scorer.first_episode_id())
        _check_scorer_fields(place, TASK, SEED, 'memory', place_env, phases=False)
        assert place[-1].state == EpisodeStatus.STATE_SUCCEEDED, place[-1].message
        assert place_env.task.item in place[-1].message  # '... (the <item> is in a drawer)'
        assert place[-1].instruction == place_env.instruction
        # A choice knob over StartEpisode is its index; a bad one is refused, named.
        bad = scorer.start(TASK, SEED, stage=7)
        assert not bad.success and 'stage' in bad.message and "'probe'" in bad.message
        # Episode 2: unrelated, scored by the status alone.
        other = scorer.start('shell_game', 5, 'oracle', num_swaps=1, delay_s=2.0)
        assert other.success, other.message
        statuses = scorer.final(other.episode_id)
        _check_scorer_fields(statuses, 'shell_game', 5, 'oracle',
                             sim.make_env('shell_game', 5, 'oracle', render=False, num_swaps=1,
                                          delay_s=2.0))
        assert statuses[-1].state == EpisodeStatus.STATE_SUCCEEDED
    finally:
        _stop(proc, log)
    # Process B: a new bridge process starts straight with the probe episode.
    proc, log = _start_bridge(tmp_path / 'b.log', f'task:={TASK}', f'seed:={SEED}',
                              "knobs:=['stage=probe']")
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            with scorer.lock:
                probe = [s for s in scorer.status if s.instruction == probe_env.instruction]
            if probe:
                break
            time.sleep(0.05)
        assert probe, 'the probe episode did not start'
        assert probe[-1].task == TASK and probe[-1].seed == SEED
        assert probe_env.instruction != place_env.instruction
        with scorer.lock:
            assert probe_env.instruction in scorer.instructions
        statuses = scorer.final(probe[-1].episode_id)
        _check_scorer_fields(statuses, TASK, SEED, 'memory', probe_env, phases=False)
        # The (privileged) expert opens the right drawer first.
        assert statuses[-1].state == EpisodeStatus.STATE_SUCCEEDED
        assert 'drawers opened: 1' in statuses[-1].message
        # The same episode can also be started over StartEpisode (stage 2 = probe).
        again = scorer.start(TASK, SEED, stage=2)
        assert again.success and again.instruction == probe_env.instruction
    finally:
        _stop(proc, log)
        scorer.close()
