"""Knobs from the outside (text and StartEpisode numbers) and the where_did_i_leave_it stages
that a cross-episode trial chains (place, unrelated episodes, probe in a new process)."""

import numpy as np
import pytest

import sim
from sim.experts import make_expert
from sim.knobs import knobs_from_numbers, parse_knobs


def test_numbers_become_typed_knobs():
    assert knobs_from_numbers('where_did_i_leave_it', ['stage', 'delay_s'], [2.0, 4.5]) == {
        'stage': 'probe', 'delay_s': 4.5}
    assert knobs_from_numbers('put_back', ['distractor'], [1.0]) == {'distractor': 'drawer'}
    # numeric and boolean choices go by value
    assert knobs_from_numbers('remember_color', ['num_candidates'], [5.0]) == {
        'num_candidates': 5}
    knobs = knobs_from_numbers('button_sequence', ['repeats', 'length'], [1.0, 5.0])
    env = sim.make_env('button_sequence', 0, render=False, **knobs)
    assert env.task.knobs['repeats'] is True and env.task.knobs['length'] == 5


@pytest.mark.parametrize('task,names,values,needle', [
    ('where_did_i_leave_it', ['stage'], [3.0], 'knob stage of where_did_i_leave_it is a choice'),
    ('where_did_i_leave_it', ['stage'], [0.5], "2 = 'probe'; got 0.5"),
    ('count', ['max_blinks', 'delay_s'], [3.0], 'knob_names has 2 entries, knob_values 1'),
    ('count', ['delay_s'], [float('nan')], 'knob delay_s must be finite, got nan'),
    ('chess', [], [], 'task must be one of'),
])
def test_bad_numbers_are_refused_naming_the_knob(task, names, values, needle):
    with pytest.raises(ValueError) as err:
        knobs_from_numbers(task, names, values)
    assert needle in str(err.value)


def test_text_knobs():
    assert parse_knobs(['stage=probe', 'delay_s=4', 'repeats=True']) == {
        'stage': 'probe', 'delay_s': 4, 'repeats': True}
    with pytest.raises(ValueError, match="name=value, got 'stage'"):
        parse_knobs(['stage'])


def _run_expert(env):
    obs, done, info = env.reset(), False, None
    expert = make_expert(env)
    while not done:
        obs, done, info = env.step(expert(obs, info))
    return env


@pytest.mark.parametrize('seed', [0, 3])
def test_place_then_unrelated_then_probe_is_one_trial(seed):
    """The place episode leaves the object in the drawer that the probe episode (same seed,
    built afresh as in a new process, after unrelated episodes) starts with it in; the probe
    shows nothing, and only the right drawer succeeds."""
    place = _run_expert(sim.make_env('where_did_i_leave_it', seed, render=False,
                                     stage='place'))
    assert place.success()
    item, drawer = place.task.item, place.task.drawers[place.task.drawer_index]
    assert place.carried[item][0] == drawer  # the hand left it there
    for task in ('count', 'shell_game'):  # unrelated episodes share nothing with the trial
        assert _run_expert(sim.make_env(task, seed + 1, render=False)).success()
    probe = sim.make_env('where_did_i_leave_it', seed, render=False, stage='probe')
    obs = probe.reset()
    assert probe.task.item == item and probe.carried[item][0] == drawer
    assert item in probe.instruction and probe.task.cue_steps == 1
    assert not obs['objects'][probe.slot_names.index(item)].any()  # hidden in its drawer
    assert not np.allclose(probe.obj_pos(item), place.task.keys[0][1])
    assert _run_expert(probe).success() and probe.task.drawers_opened() == 1


def test_a_slipped_stack_is_not_counted_until_the_expert_stacks_again():
    """stack_slips=1: the first stack made slips off onto the table beside the green cube
    (2.5-4 cm away), the task stays in its stacking stage, and the expert's second stack
    finishes the episode; without the knob nothing slips."""
    env = _run_expert(sim.make_env('put_back', 7, render=False, stack_slips=1))
    kinds = [e['kind'] for e in env.events]
    assert env.success() and kinds.count('slipped') == 1
    assert kinds.index('in_tray') < kinds.index('slipped') < kinds.index('distractor_done')
    slip = next(e['step'] for e in env.events if e['kind'] == 'slipped')
    done = next(e['step'] for e in env.events if e['kind'] == 'distractor_done')
    assert done - slip > 10  # a second pick and place, not the same release
    # each release logs where the hand let go: the expert stacks over the green cube's centre
    green = env.obj_pos('green_cube')
    hands = [e['hand'] for e in env.events
             if e['kind'] == 'released' and e['subject'] == 'blue_cube']
    assert len(hands) == 2 and np.hypot(*(np.asarray(hands[-1][:2]) - green[:2])) < 0.005
    plain = _run_expert(sim.make_env('put_back', 7, render=False))
    assert plain.success() and 'slipped' not in [e['kind'] for e in plain.events]
    assert plain.step_count < env.step_count
    with pytest.raises(ValueError, match='knob stack_slips must be an integer in'):
        sim.make_env('put_back', 7, render=False, stack_slips=5)


def test_a_slip_lands_beside_the_green_cube_on_the_table():
    env = sim.make_env('put_back', 2, render=False, stack_slips=1)
    env.reset()
    env.task._slip(env)
    blue, green = env.obj_pos('blue_cube'), env.obj_pos('green_cube')
    assert 0.025 <= np.hypot(*(blue[:2] - green[:2])) <= 0.04 and blue[2] == 0.0
    assert env.task.slips_left == 0 and not env.task._distractor_done(env)


def test_a_slip_stays_within_the_arms_usual_reach():
    """Green cubes stand out to x 0.62: a slip beyond SLIP_X_MAX lands on the near side (no
    further out than the green cube itself)."""
    for seed in range(12):
        env = sim.make_env('put_back', seed, render=False, stack_slips=3)
        env.reset()
        for _ in range(3):
            env.task._slip(env)
            green_x = env.obj_pos('green_cube')[0]
            assert env.obj_pos('blue_cube')[0] <= max(env.task.SLIP_X_MAX, green_x)
