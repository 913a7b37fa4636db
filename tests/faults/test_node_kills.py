"""kill -9 of a node of the running graph during an episode, through the main job's --kill.

The main job starts the graph (one OS process per node), plays shell-game episodes and
SIGKILLs the named node at the trigger; the node's new process configures and activates
itself and the episode must end recorded (success, or a failure with the bridge's reason),
never hang.
"""

import json
import math
import subprocess
import sys

import pytest

pytest.importorskip('rclpy')
pytestmark = pytest.mark.ros


def run_main_job(out, *args, timeout=900):
    result = subprocess.run(
        [sys.executable, '-m', 'memory_nodes.main_job', '--tasks', 'shell_game',
         '--variants', 'full_stack', '--real-time-factor', '1', '--out', str(out), *args],
        capture_output=True, text=True, timeout=timeout)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    return result, json.loads((out / 'results.json').read_text())


def test_executor_killed_mid_motion_the_arm_holds_and_the_episode_completes(tmp_path):
    """The executor dies one second into the lift and stays dead for 3 s: the sim bridge
    holds the last target (the arm stops, no drift), the new executor announces itself idle,
    the planner sends the step again and the cup is lifted. The arm is judged from the kill
    to the restart, while no executor exists: the new process may drive the arm again
    seconds before this process sees its endpoints (measured 21 cm in the last second when
    the window ran until then)."""
    out = tmp_path / 'run'
    result, results = run_main_job(out, '--episodes', '1', '--kill', 'executor',
                                   '--kill-at', 'motion', '--kill-down-s', '3', timeout=400)
    (episode,) = results['episodes']
    assert len(episode['faults']) == 1, (episode, result.stdout[-3000:])
    (kill,) = episode['faults']
    assert kill['node'] == 'executor' and kill['exit_code'] == -9
    assert kill['phase'] == 2 and kill['back_after_s'] > 2.0
    # the arm stopped: it may finish the step it was on (converging on its last target), then
    # stands still; a moving primitive covers 10 cm and more per second, 20 cm and more in
    # the outage (measured: 17 mm in all, 0.0-2.2 mm in the last second on a quiet machine;
    # 73 mm in all on a loaded one, where the arm lags its targets further and the
    # convergence is longer). The stillness of the last second before the restart is what
    # shows the hold.
    assert kill['arm_moved_m'] < 0.12 and kill['arm_moved_last_s_m'] < 0.01, kill
    planner_log = (out / 'full_stack' / 'planner.log').read_text()
    assert 'the executor (re)started idle: sending step 0 again' in planner_log
    assert episode['success'], (episode, planner_log[-2000:])
    assert 'fault outcome: killed executor; episode succeeded' in result.stdout


@pytest.mark.slow
def test_each_node_killed_in_turn_the_episodes_end_recorded(tmp_path):
    """Preprocessor, memory, planner, executor: one shell game each, killed in the delay
    phase (after the cue); the restarted memory answers with what it held before."""
    nodes = ['preprocessor', 'memory', 'planner', 'executor']
    out = tmp_path / 'run'
    # down 1.5 s: the arm is judged from the kill to the restart (a restart at once leaves
    # no time to judge)
    result, results = run_main_job(out, '--episodes', str(len(nodes)), '--kill', *nodes,
                                   '--kill-at', 'delay', '--kill-down-s', '1.5')
    episodes = results['episodes']
    assert [e['faults'][0]['node'] for e in episodes] == nodes
    for episode in episodes:
        (kill,) = episode['faults']
        assert kill['exit_code'] == -9 and kill['back_after_s'] > 0, kill
        assert episode['state'] in ('succeeded', 'failed', 'timed out'), episode
        assert episode['message'], episode
        if kill['node'] == 'memory':
            assert kill['memory_episode_events'] > 0, kill   # restored from the file
        if kill['node'] == 'executor':
            assert not math.isnan(kill['arm_moved_last_s_m'])
            assert kill['arm_moved_last_s_m'] < 0.002, kill
    # measured 4/4 on seeds 5000-5003 (docs/faults.md); a kill may cost an episode, but
    # not most of them
    assert sum(e['success'] for e in episodes) >= 3, episodes
    planner_log = (out / 'full_stack' / 'planner.log').read_text()
    assert planner_log.count('covered the green ball') >= len(nodes) - 1
