"""The main job drives a memory task through the node graph (separate OS processes)."""

import json
import subprocess
import sys

import pytest

pytest.importorskip('rclpy')
pytestmark = pytest.mark.ros


def test_main_job_runs_an_episode_through_the_graph(tmp_path):
    out = tmp_path / 'run'
    result = subprocess.run(
        [sys.executable, '-m', 'memory_nodes.main_job', '--tasks', 'count', '--episodes', '1',
         '--variants', 'scripted_expert', '--real-time-factor', '4', '--out', str(out)],
        capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    assert '| count |' in result.stdout
    results = json.loads((out / 'results.json').read_text())
    (row,) = results['rows']
    assert row['task'] == 'count'
    assert row['scripted_expert']['episodes'] == 1
    assert row['scripted_expert']['successes'] == 1
    stage = results['latency']['camera -> object observations']
    assert stage['n'] > 10 and 0 < stage['p50_ms'] < 1000
    for node in ('sim_bridge', 'preprocessor', 'executor'):
        assert (out / 'scripted_expert' / f'{node}.log').is_file()


def test_main_job_refuses_variants_it_cannot_run(tmp_path):
    result = subprocess.run(
        [sys.executable, '-m', 'memory_nodes.main_job', '--variants', 'full_stack',
         'telepathy', '--out', str(tmp_path)], capture_output=True, text=True, timeout=120)
    assert result.returncode == 2
    assert "variants ['telepathy'] cannot run yet" in result.stderr
    assert not any(tmp_path.iterdir())  # refused before anything ran


def test_main_job_refuses_a_checkpoint_folder_without_weights(tmp_path):
    result = subprocess.run(
        [sys.executable, '-m', 'memory_nodes.main_job', '--variants', 'action_expert',
         '--checkpoint', str(tmp_path / 'nowhere'), '--out', str(tmp_path / 'run')],
        capture_output=True, text=True, timeout=120)
    assert result.returncode == 2
    assert "--checkpoint '" in result.stderr and 'no model.safetensors' in result.stderr
    result = subprocess.run(
        [sys.executable, '-m', 'memory_nodes.main_job', '--variants', 'full_stack',
         '--checkpoint', str(tmp_path), '--out', str(tmp_path / 'run')],
        capture_output=True, text=True, timeout=120)
    assert result.returncode == 2
    assert 'none of the variants' in result.stderr
    assert not (tmp_path / 'run').exists()  # refused before anything ran


def test_full_stack_solves_a_shell_game_from_lifelong_memory_across_a_memory_crash(tmp_path):
    """Bridge, preprocessor, memory, planner and executor, one OS process each. The memory
    node is SIGKILLed when the episode enters its delay (after the cue) and restarted on the
    same file; the planner still finds the covering cup there and the executor lifts it."""
    out = tmp_path / 'run'
    result = subprocess.run(
        [sys.executable, '-m', 'memory_nodes.main_job', '--tasks', 'shell_game',
         '--episodes', '1', '--variants', 'full_stack', '--real-time-factor', '1',
         '--kill-memory-in-delay', '--out', str(out)], capture_output=True, text=True,
        timeout=400)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    results = json.loads((out / 'results.json').read_text())
    (row,) = results['rows']
    planner_log = (out / 'full_stack' / 'planner.log').read_text()
    assert 'covered the green ball' in planner_log, planner_log[-2000:]
    assert row['full_stack']['successes'] == 1, planner_log[-2000:]
    assert 'killed the memory node (exit -9) in the delay phase' in result.stdout
    assert 'data flowing after' in result.stdout
    assert (out / 'full_stack' / 'memory.db').is_file()


def test_tasks_a_checkpoint_was_not_trained_on_are_reported_as_not_run(tmp_path):
    from memory_nodes.main_job import checkpoint_tasks, format_table, summarise
    (tmp_path / 'config.json').write_text(json.dumps(
        {'policy': {}, 'meta': {'dataset': {'tasks': ['shell_game']}}}))
    assert checkpoint_tasks(tmp_path) == {'shell_game'}
    assert checkpoint_tasks(tmp_path / 'missing') is None
    rows = summarise([], ['count'], ['action_expert'])
    assert 'not run (checkpoint not trained on it)' in format_table(rows, ['action_expert'])


def test_scene_gif_leaves_out_frames_of_another_size(tmp_path, capsys):
    """A second graph on the same ROS domain (another size of scene camera) must not break
    the episode's GIF: the odd frames are left out and said so."""
    pytest.importorskip('rclpy')
    import imageio.v2 as imageio
    import numpy as np
    from sensor_msgs.msg import Image

    from memory_nodes.main_job import Orchestrator

    def image(h, w, value):
        return Image(height=h, width=w, encoding='rgb8', step=3 * w,
                     data=np.full((h, w, 3), value, np.uint8).tobytes())

    orchestrator = Orchestrator(frames_dir=tmp_path)
    try:
        for i in range(6):
            orchestrator._on_image(image(96, 128, 20 * i))
            if i % 2:
                orchestrator._on_image(image(480, 640, 0))
        path = orchestrator.save_frames('episode')
    finally:
        orchestrator.close()
    frames = imageio.mimread(path)
    assert len(frames) == 3 and frames[0].shape[:2] == (96, 128)   # every second one is kept
    assert 'left 3 scene frames of another size' in capsys.readouterr().out


def test_episodes_wait_for_data_on_the_graph_links_and_say_when_none_came(capsys):
    """Endpoints on the graph are not data flowing (DDS matches each pair on its own
    schedule): with no bridge, memory or action expert running, nothing arrives, and the
    orchestrator says which links stayed silent instead of waiting forever."""
    from memory_nodes.main_job import Orchestrator

    orchestrator = Orchestrator()
    try:
        waited = orchestrator.wait_for_links(('preprocessor', 'memory', 'action_expert'),
                                             timeout_s=1.0)
        assert orchestrator.wait_for_links(('sim_bridge', 'executor'), timeout_s=1.0) < 0.5
    finally:
        orchestrator.close()
    assert 1.0 <= waited < 10.0
    out = capsys.readouterr().out
    assert "no data seen on ['preprocessor -> memory', 'sim -> action expert']" in out
