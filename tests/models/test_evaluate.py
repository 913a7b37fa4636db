"""memory-eval end to end on the synthetic task (closed loop, three variants, Wilson CIs),
its refusal of training seeds, and one demonstration recorded from the MuJoCo suite."""

import json

import numpy as np
import pytest
import torch

from models.checkpoint import save_checkpoint
from models.episodes import dataset_arrays, load_episode
from models.evaluate import evaluate, markdown_table
from models.network import MemoryDiffusionNet
from models.record_demos import record_one
from models.synthetic import INSTRUCTIONS, TASK_NAME
from tests.models.conftest import tiny_config


@pytest.fixture
def checkpoint(tmp_path, synthetic_episodes):
    net = MemoryDiffusionNet(tiny_config())
    net.normalizer.fit(dataset_arrays(synthetic_episodes, 3))
    folder = save_checkpoint(tmp_path / 'ckpt', net.eval(),
                             {'dataset': {'train_seeds': '0-5', 'seeds': '0-5'}})
    cache = {text: np.full(384, 0.05).tolist() for text in INSTRUCTIONS}
    (folder / 'text_cache.json').write_text(json.dumps(cache))
    return folder


def test_evaluate_runs_every_variant_closed_loop(checkpoint):
    results = evaluate(checkpoint, [TASK_NAME], [100, 101], batch=2, device='cpu',
                       progress=False)
    row = results['tasks'][TASK_NAME]
    for variant in ('memory', 'memory_off', 'oracle'):
        assert 0.0 <= row[variant] <= 1.0
        lo, hi = row[f'{variant}_ci95']
        assert lo <= row[variant] <= hi
    assert row['chance'] == pytest.approx(1 / 3)
    table = markdown_table(results)
    assert table.splitlines()[0] == '| task | memory | memory_off | oracle | chance ceiling |'
    assert f'| {TASK_NAME} |' in table and '33 %' in table


def test_evaluate_refuses_training_seeds(checkpoint):
    with pytest.raises(ValueError, match='trained on'):
        evaluate(checkpoint, [TASK_NAME], [4, 100], batch=2, device='cpu', progress=False)


def test_record_one_writes_a_loadable_expert_episode(tmp_path):
    task, seed, mode, ok, steps = record_one('remember_color', 7, 'oracle', str(tmp_path))
    assert ok and steps > 40
    episode = load_episode(tmp_path / 'remember_color' / 'ep_7_oracle.npz')
    assert episode.rgb.shape == (steps, 64, 64, 3) and episode.action.shape == (steps, 5)
    assert episode.objects.shape[1:] == (5, 10) and set(np.unique(episode.phase)) == {0, 1, 2}


def _banks_after(checkpoint, ablation):
    """Run two synthetic episodes (cue 6 steps, arm frozen) and return the final bank."""
    from models.checkpoint import load_checkpoint
    from models.evaluate import make_env, run_episodes
    from models.policy import MemoryDiffusionPolicy
    from models.text_encoder import InstructionEncoder

    net, _ = load_checkpoint(checkpoint, 'cpu')
    net.cfg.memory.capacity = 64  # room for the whole episode: no consolidation to blur it
    text = InstructionEncoder.from_cache_file(checkpoint / 'text_cache.json')
    policy = MemoryDiffusionPolicy(net, text, 'cpu', memory=True, batch=2, seed=7)
    envs = [make_env(TASK_NAME, seed, 'memory') for seed in (100, 101)]
    run_episodes(policy, envs, ablation)
    return policy.bank, envs[0].cue_steps


def test_ablations_wipe_and_shuffle_the_cue_memories(checkpoint):
    plain, cue = _banks_after(checkpoint, None)
    wiped, _ = _banks_after(checkpoint, 'wiped_at_delay')
    shuffled, _ = _banks_after(checkpoint, 'shuffled')
    assert plain.consolidations == 0
    cue_slots = plain.valid[0] & (plain.times[0] < cue)  # written while the cue was shown
    assert cue_slots.sum() == 2 and plain.valid[:, cue_slots].all()  # steps 0 and 4
    # wiped: nothing from the cue phase is left; what came later is kept
    assert not wiped.valid[:, cue_slots].any()
    assert wiped.valid[:, ~cue_slots & plain.valid[0]].all()
    # shuffled: the cue memories (arm frozen: independent of the actions) are the other
    # episode's, in each row
    assert torch.allclose(shuffled.perceptual[0, cue_slots], plain.perceptual[1, cue_slots])
    assert torch.allclose(shuffled.perceptual[1, cue_slots], plain.perceptual[0, cue_slots])
    assert not torch.allclose(plain.perceptual[0, cue_slots], plain.perceptual[1, cue_slots])


def test_evaluate_runs_the_ablations_and_refuses_a_lone_shuffle(checkpoint):
    results = evaluate(checkpoint, [TASK_NAME], [100, 101], batch=2, device='cpu',
                       progress=False, variants=('wiped_at_delay', 'shuffled'))
    row = results['tasks'][TASK_NAME]
    assert set(row) >= {'wiped_at_delay', 'shuffled', 'chance'}
    assert 'shuffled' in markdown_table(results).splitlines()[0]
    with pytest.raises(ValueError, match='at least 2'):
        evaluate(checkpoint, [TASK_NAME], [100], batch=1, device='cpu', progress=False,
                 variants=('shuffled',))


def test_slot_shuffled_env_keeps_one_order_per_episode(checkpoint):
    """SlotShuffledEnv shows the wrapped env's object slots in one random order for the
    whole episode (a new order on the next reset), and the evaluation records the order."""
    from models.evaluate import SlotShuffledEnv, make_env

    plain, shuffled = make_env(TASK_NAME, 100, 'memory'), SlotShuffledEnv(
        make_env(TASK_NAME, 100, 'memory'), seed=100)
    pairs = [(plain.reset(), shuffled.reset())]
    action = np.zeros(5, np.float32)
    for _ in range(12):
        pairs.append((plain.step(action)[0], shuffled.step(action)[0]))
    order = shuffled.order
    assert sorted(order.tolist()) == list(range(len(order)))
    for a, b in pairs:
        assert np.array_equal(b['objects'], a['objects'][order])
        assert np.array_equal(b['proprio'], a['proprio'])
    assert shuffled.instruction == plain.instruction  # everything else passes through
    orders = set()
    for seed in range(100, 110):
        env = SlotShuffledEnv(make_env(TASK_NAME, seed, 'memory'), seed)
        env.reset()
        orders.add(tuple(env.order))
    assert len(orders) > 1  # episodes differ in their order
    results = evaluate(checkpoint, [TASK_NAME], [100, 101], variants=('memory',), batch=2,
                       device='cpu', progress=False, slot_order='shuffled')
    assert results['slot_order'] == 'shuffled'
    assert 0.0 <= results['tasks'][TASK_NAME]['memory'] <= 1.0
    with pytest.raises(ValueError, match="slot_order='random'"):
        evaluate(checkpoint, [TASK_NAME], [100], batch=1, device='cpu', progress=False,
                 slot_order='random')


def test_graph_inputs_env_gives_one_step_old_slots(checkpoint):
    """GraphInputsEnv (memory-eval --inputs graph): object slots lag one step; the rest
    (proprio with the measured pinch pose, as the bridge publishes it) is the wrapped env's."""
    from models.evaluate import GraphInputsEnv, make_env

    plain, graph = make_env(TASK_NAME, 100, 'memory'), GraphInputsEnv(
        make_env(TASK_NAME, 100, 'memory'))
    first_plain, first_graph = plain.reset(), graph.reset()
    assert np.array_equal(first_graph['proprio'], first_plain['proprio'])
    assert np.array_equal(first_graph['objects'], first_plain['objects'])
    previous = first_plain
    rng = np.random.default_rng(0)
    moved = False
    for _ in range(30):
        action = np.array([0.45 + 0.1 * rng.uniform(), 0.1 * rng.uniform(-1, 1), 0.2, 0.3, 0.0],
                          np.float32)
        a, _, _ = plain.step(action)
        b, _, _ = graph.step(action)
        np.testing.assert_array_equal(b['proprio'], a['proprio'])  # measured, as the bridge's
        np.testing.assert_array_equal(b['objects'], previous['objects'])  # one step old
        np.testing.assert_array_equal(b['rgb'], a['rgb'])
        moved |= not np.array_equal(a['objects'], previous['objects'])
        previous = a
    assert moved  # the checks above could tell the wrapper from the plain env
    results = evaluate(checkpoint, [TASK_NAME], [100, 101], variants=('memory',), batch=2,
                       device='cpu', progress=False, inputs='graph')
    assert results['inputs'] == 'graph'
    with pytest.raises(ValueError, match="inputs='robot'"):
        evaluate(checkpoint, [TASK_NAME], [100], batch=1, device='cpu', progress=False,
                 inputs='robot')


def test_knobs_reach_the_sim_task_and_its_chance_ceiling(tmp_path):
    """memory-eval --knob: remember colour with five cubes plays five cubes against a 1/5
    ceiling (the shipped policy, trained on three, one episode); a knob no task has, or any
    knob for the synthetic task, is refused with its name."""
    from models import DEFAULT_CHECKPOINT
    from models.evaluate import chance_ceiling, main, make_env

    env = make_env('remember_color', 100, 'memory', {'num_candidates': 9})
    assert len(env.task.cubes) == 9
    assert chance_ceiling('remember_color', {'num_candidates': 5}) == pytest.approx(0.2)
    out = tmp_path / 'five.json'
    assert main(['--checkpoint', str(DEFAULT_CHECKPOINT), '--tasks', 'remember_color',
                 '--seeds', '100', '--variants', 'memory', '--knob', 'num_candidates=5',
                 '--inference-steps', '3', '--no-progress', '--out', str(out)]) == 0
    results = json.loads(out.read_text())
    assert results['knobs'] == {'num_candidates': 5}
    row = results['tasks']['remember_color']
    assert row['chance'] == pytest.approx(1 / 5) and row['memory'] in (0.0, 1.0)
    with pytest.raises(ValueError, match='colour_count'):
        make_env('remember_color', 100, 'memory', {'colour_count': 9})
    with pytest.raises(ValueError, match='num_candidates'):
        make_env(TASK_NAME, 100, 'memory', {'num_candidates': 9})


def test_sensor_noise_disturbs_what_the_policy_reads_not_the_simulation():
    from models.evaluate import SensorNoiseEnv, make_env

    plain = make_env(TASK_NAME, 7, 'memory')
    noisy = SensorNoiseEnv(make_env(TASK_NAME, 7, 'memory'), 7, proprio=0.01)
    diffs = [noisy.reset()['proprio'] - plain.reset()['proprio']]
    for _ in range(30):
        action = np.zeros(5, np.float32)
        obs_p, done, _ = plain.step(action)
        obs_n, _, _ = noisy.step(action)
        diffs.append(obs_n['proprio'] - obs_p['proprio'])
        assert np.array_equal(obs_n['objects'], obs_p['objects'])
        assert np.array_equal(obs_n['rgb'], obs_p['rgb'])
        if done:
            break
    diffs = np.concatenate(diffs)
    assert 0.007 < diffs.std() < 0.013 and abs(diffs.mean()) < 0.005
    assert np.array_equal(noisy.env.reset()['proprio'], plain.reset()['proprio'])  # unwrapped
    for key, name, bad in (('proprio', 'proprio_noise', -0.1),
                           ('objects', 'object_noise', float('nan')),
                           ('images', 'image_noise', -1.0)):
        with pytest.raises(ValueError, match=f'{name}={bad!r}'):
            SensorNoiseEnv(plain, 0, **{key: bad})


def test_object_and_image_noise_move_visible_slots_and_pixels_only():
    from models.evaluate import SensorNoiseEnv, make_env
    from models.goal_pointer import POSITION, VISIBLE

    env = make_env(TASK_NAME, 3, 'memory')
    plain = env.reset()
    plain['objects'][-1] = 0.0   # a slot with nothing seen in it
    noisy = SensorNoiseEnv(env, 3, objects=0.005, images=4.0).observe(plain)
    assert np.array_equal(noisy['proprio'], plain['proprio'])
    visible = plain['objects'][:, VISIBLE] > 0.5
    assert visible.sum() == len(visible) - 1
    moved = noisy['objects'] - plain['objects']
    assert np.array_equal(moved[~visible], np.zeros_like(moved[~visible]))  # empty stays empty
    others = np.ones(moved.shape[1], bool)
    others[POSITION] = False
    assert not moved[:, others].any()   # colour, class, state untouched
    assert 0.002 < moved[visible][:, POSITION].std() < 0.009
    pixels = noisy['rgb'].astype(np.int16) - plain['rgb']
    assert noisy['rgb'].dtype == np.uint8 and 2.5 < pixels.std() < 5.5


def test_object_dropout_hides_whole_visible_slots_at_its_rate():
    from models.evaluate import SensorNoiseEnv, make_env
    from models.goal_pointer import VISIBLE

    env = make_env(TASK_NAME, 4, 'memory')
    obs = env.reset()
    obs['objects'][-1] = 0.0
    noisy = SensorNoiseEnv(env, 4, dropout=0.25)
    hidden = []
    for _ in range(200):
        objects = noisy.observe(obs)['objects']
        shown = objects[:, VISIBLE] > 0.5
        assert np.array_equal(objects[shown], obs['objects'][shown])   # seen ones unchanged
        assert not objects[~shown].any()                               # missed ones all zero
        hidden.append(~shown[:-1])
    assert 0.18 < np.mean(hidden) < 0.32
    for bad in (1.0, -0.1, float('nan')):
        with pytest.raises(ValueError, match=f'object_dropout={bad!r}'):
            SensorNoiseEnv(env, 0, dropout=bad)


def test_the_shipped_policy_keeps_its_memory_under_sensor_noise():
    """Where did I leave it with 0.002 (rad, m) of noise on the proprioception: the default
    finds the drawer in 3 of these 4 episodes; when the normaliser still scaled joint 3
    (1.5 mrad of span in training) by 1,300 it found it in none (docs/models.md, "Sensor
    noise")."""
    from models import DEFAULT_CHECKPOINT

    results = evaluate(DEFAULT_CHECKPOINT, ['where_did_i_leave_it'], [5000, 5001, 5002, 5003],
                       ('memory',), batch=4, device='cpu', progress=False,
                       inputs='perception', proprio_noise=0.002)
    assert results['proprio_noise'] == 0.002
    assert results['tasks']['where_did_i_leave_it']['memory'] >= 0.5
