"""scripts/replay_policy_inputs.py: a recorded episode against the same episode in one process."""

import numpy as np
import pytest

from memory_nodes.policy_inputs import PolicyInputRecorder, load_policy_inputs
from models import DEFAULT_CHECKPOINT, load_policy
from models.evaluate import make_env
from tests.script_loader import load_script

TASK, SEED = 'shell_game', 3


def record_like_the_node(folder):
    """Play one episode as the action-expert node steps its policy (`act_chunk` every step,
    the chunk's first replan_every actions executed) and record it as the node does."""
    policy = load_policy(DEFAULT_CHECKPOINT, device='cpu', seed=0)
    env = make_env(TASK, SEED, 'memory')
    recorder = PolicyInputRecorder(folder)
    policy.reset(env.instruction)
    obs, done, queue = env.reset(), False, []
    nan_chunk = np.full((16, 5), np.nan, np.float32)
    while not done:
        seen = {k: obs[k] for k in ('rgb', 'proprio', 'objects', 'phase')}
        chunk = policy.act_chunk(seen)
        if chunk is not None:
            queue = list(chunk[0, :policy.replan_every])
        recorder.add(f'{TASK}-{SEED}-memory-1', policy.step - 1, 0.1 * policy.step, seen,
                     chunk[0] if chunk is not None else nan_chunk, 1.0)
        obs, done, _ = env.step(queue.pop(0))
    return recorder.flush()


def test_the_same_episode_replays_exactly_and_a_changed_slot_is_found(tmp_path):
    script = load_script('replay_policy_inputs')
    path = record_like_the_node(tmp_path / 'rec')
    result = script.compare(path, DEFAULT_CHECKPOINT, inputs='sim')
    assert (result['task'], result['seed'], result['mode']) == (TASK, SEED, 'memory')
    replay = result['replay']
    assert replay['chunks'] > 5 and replay['chunks_apart'] == 0  # same process, same threads
    assert replay['action_median_diff'] < 1e-4
    assert result['graph_steps'] == result['in_process_steps']
    inputs = result['inputs']
    assert inputs['first_objects'] is None and inputs['first_proprio'] is None
    assert inputs['steps_before_act'] > 0 and inputs['objects_before_act'] == 0
    assert all(p['graph'] == p['in_process'] for p in result['pointer'])
    assert 'pointer per planning step' in script.report(result)

    changed = load_policy_inputs(path)
    changed['objects'][5, 0, 1] += 0.5  # one slot's x at step 5 (the cue phase)
    other = tmp_path / 'changed.npz'
    np.savez_compressed(other, **changed)
    inputs = script.compare(other, DEFAULT_CHECKPOINT, inputs='sim')['inputs']
    assert inputs['first_objects'] == 5 and inputs['objects_before_act'] == 1


def test_a_file_name_that_is_not_an_episode_id_is_refused():
    script = load_script('replay_policy_inputs')
    assert script.parse_episode_id('where_did_i_leave_it-5000-memory-17964') == (
        'where_did_i_leave_it', 5000, 'memory')
    with pytest.raises(ValueError, match="episode_id='episode'"):
        script.parse_episode_id('episode')
