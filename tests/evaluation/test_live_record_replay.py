"""(slow) Record a live run, then evaluate the recording: the sim bridge runs the count task
with its scripted expert in its own process; ``memory-eval-bag record`` records the
stack's input topics while a count episode is started over StartEpisode (sim time, the
bridge's EpisodeStatus included, which needs memory_interfaces types in the bag); the
recording replays through preprocessor + memory
and the questions generated from the same seed's ground truth are answered."""

import json
import os
import subprocess
import sys
import threading
import time

import pytest

rclpy = pytest.importorskip('rclpy')
pytestmark = [pytest.mark.ros, pytest.mark.slow]

from memory_nodes.evaluation.cli import main  # noqa: E402
from memory_nodes.evaluation.questions import (  # noqa: E402
    generate_from_sim,
    sim_object_names,
    write_questions,
)
from memory_nodes.worker_executor import WorkerThreadExecutor  # noqa: E402
import sim  # noqa: E402
from sim.experts import make_expert  # noqa: E402
from sim.recording import write_bag  # noqa: E402


def _record_count_episode(path, seconds):
    """Record while the bridge (already running another task) plays count seed 1, started
    over StartEpisode once the recorder hears every topic; return the episode id."""
    from memory_interfaces.srv import StartEpisode
    from memory_nodes.evaluation.record import INPUT_TOPICS, LiveRecorder
    context = rclpy.Context()
    rclpy.init(context=context)
    recorder = LiveRecorder(path, INPUT_TOPICS, context=context, use_sim_time=True)
    executor = WorkerThreadExecutor(num_threads=2, context=context)
    executor.add_node(recorder.node)
    spinner = threading.Thread(target=executor.spin, daemon=True)
    spinner.start()
    try:
        recorder.discover(timeout=60, require_all=True)
        client = recorder.node.create_client(StartEpisode, '/sim/start_episode')
        assert client.wait_for_service(timeout_sec=30)
        future = client.call_async(StartEpisode.Request(task='count', seed=1, mode='memory'))
        deadline = time.monotonic() + 30
        while not future.done():
            assert time.monotonic() < deadline, 'StartEpisode did not answer'
            time.sleep(0.05)
        reply = future.result()
        assert reply.success, reply.message
        time.sleep(seconds)
    finally:
        executor.shutdown(timeout_sec=5)
        recorder.close()
        rclpy.shutdown(context=context)
    return reply.episode_id, recorder.writer.counts


def test_live_run_recorded_then_replayed_and_scored(tmp_path):
    env = sim.make_env('count', 1, render=False)
    truth = write_bag(env, make_expert(env), tmp_path / 'reference', image_size=32)
    qset = generate_from_sim(truth, sim_object_names(env))
    env.close()
    bridge = subprocess.Popen(
        [sys.executable, '-m', 'sim.bridge_node', '--ros-args', '-p', 'autostart:=true',
         '-p', 'task:=shell_game', '-p', 'seed:=2', '-p', 'policy:=expert',
         '-p', 'real_time_factor:=1.0'],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=dict(os.environ))
    try:
        seconds = truth['topic_counts']['/clock'] * truth.get('dt', 0.1) + 3.0
        episode_id, recorded = _record_count_episode(tmp_path / 'live', seconds)
    finally:
        bridge.terminate()
        bridge.wait(timeout=30)
    assert recorded['/camera/scene/color/image_raw'] > 50, recorded
    assert recorded['/sim/episode_status'] >= 1 and recorded['/instruction'] >= 1
    qset['episode_id'] = episode_id   # the count episode, not the tail of the one before
    write_questions(qset, tmp_path / 'questions.json')
    assert main(['replay', str(tmp_path / 'live'), '--memory', str(tmp_path / 'm.db'),
                 '--questions', str(tmp_path / 'questions.json'),
                 '--out', str(tmp_path / 'report')]) == 0
    report = json.loads((tmp_path / 'report' / 'report.json').read_text())
    by_id = {q['id']: q for q in report['questions']}
    print(json.dumps(report['scores']), report['replay']['speed_x_real_time'])
    for qid in ('where-now-led', 'where-now-count_button', 'count-objects-button',
                'count-lit-led', 'episodic-instruction'):
        assert by_id[qid]['correct'], by_id[qid]
