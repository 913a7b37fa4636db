"""Training batches: causal keyframes and the act-phase share of query steps."""

import numpy as np
import pytest

from models.config import TrainConfig
from models.episodes import (
    Episode,
    SequenceBatcher,
    contact_spans,
    contact_steps,
    episode_probabilities,
    goal_targets,
    onset_steps,
)


def batcher(episodes, **kwargs) -> SequenceBatcher:
    text = {e.instruction: np.zeros(384, np.float32) for e in episodes}
    return SequenceBatcher(episodes, text, ('rgb',), 3, 16, 4, queries=8, seed=1, **kwargs)


def test_act_fraction_draws_queries_where_the_answer_is_used(synthetic_episodes):
    uniform = batcher(synthetic_episodes).sample(16)
    focused = batcher(synthetic_episodes, act_fraction=1.0).sample(16)
    # every focused query lies in the act phase or within one chunk (16 steps) before it
    act_start = min(int(np.flatnonzero(e.phase == 2)[0]) for e in synthetic_episodes)
    assert focused['query_step'].min() >= act_start - 16
    # the uniform draw does reach the cue (steps 0-5), so the check above can fail
    assert uniform['query_step'].min() < act_start - 16
    # keyframes are the bank writes strictly before the latest query
    valid = focused['key_valid'].numpy()
    key_step = focused['key_step'].numpy()
    assert np.all(key_step[valid] % 4 == 0)
    latest = focused['query_step'].numpy().max(1)
    assert np.all(np.where(valid, key_step, -1).max(1) < latest)


def test_bad_act_fraction_is_refused(synthetic_episodes):
    with pytest.raises(ValueError, match='act_fraction=1.5'):
        batcher(synthetic_episodes, act_fraction=1.5)
    with pytest.raises(ValueError, match='onset_fraction=0.75'):
        batcher(synthetic_episodes, act_fraction=0.5, onset_fraction=0.75)


def _episode(phase, pinch_x, task='t'):
    n = len(phase)
    proprio = np.zeros((n, 11), np.float32)
    proprio[:, -4] = pinch_x  # the pinch pose closes proprio: x, y, z, yaw
    proprio[:, :6] = np.arange(n)[:, None]  # joints change: only the pinch pose counts
    return Episode(task=task, seed=0, mode='memory', instruction='i', success=True,
                   rgb=np.zeros((n, 8, 8, 3), np.uint8), wrist_rgb=None, proprio=proprio,
                   objects=np.zeros((n, 2, 10), np.float32), phase=np.asarray(phase, np.int8),
                   action=np.zeros((n, 5), np.float32))


def test_onset_steps_are_the_act_steps_before_the_arm_moves():
    # act phase from step 4; the pinch point leaves at step 7 (2 mm), as an expert that
    # holds for a while before it heads for the answer
    ep = _episode([0, 0, 1, 1, 2, 2, 2, 2, 2], [0, 0, 0, 0, 0.3, 0.3005, 0.3, 0.302, 0.31])
    assert onset_steps(ep).tolist() == [4, 5, 6]
    # an arm that never moves in the act phase: all of it; no act phase: none
    assert onset_steps(_episode([0, 1, 2, 2], [0, 0, 0.1, 0.1])).tolist() == [2, 3]
    assert onset_steps(_episode([0, 1, 1], [0, 0, 0])).tolist() == []


def test_onset_fraction_draws_that_share_of_queries_from_the_onset(synthetic_episodes):
    onsets = [set(onset_steps(e).tolist()) for e in synthetic_episodes]
    assert all(onsets)  # the synthetic expert holds one step before it moves
    b = batcher(synthetic_episodes, act_fraction=0.25, onset_fraction=0.5)
    chosen = np.random.default_rng(1).integers(len(synthetic_episodes), size=8)
    batch = b.sample(8)  # the batcher's own draw of episodes: the same seed, the same draw
    for row, idx in enumerate(chosen):
        steps = batch['query_step'][row].tolist()
        assert sum(s in onsets[idx] for s in steps) >= 4  # 8 queries, half from the onset
    # without it, an onset step is a rare draw (1 of 60 steps per episode)
    plain = batcher(synthetic_episodes, act_fraction=0.25).sample(8)
    hits = sum(s in onsets[idx] for row, idx in enumerate(chosen)
               for s in plain['query_step'][row].tolist())
    assert hits < 16


def test_task_weights_set_each_tasks_share_of_the_batches_whatever_its_episode_count():
    # 6 episodes of task a, 2 of task b: uniform over episodes gives b a quarter
    episodes = ([_episode([0, 1, 2, 2], [0, 0, 0, 0.1], task='a') for _ in range(6)]
                + [_episode([0, 1, 2, 2], [0, 0, 0, 0.1], task='b') for _ in range(2)])
    assert episode_probabilities(episodes, {}) is None
    p = episode_probabilities(episodes, {'b': 2.0})
    assert p[6:].sum() == pytest.approx(2 / 3) and p[:6].sum() == pytest.approx(1 / 3)
    assert np.allclose(p[:6], p[0]) and np.allclose(p[6:], p[6])  # equal within a task
    for ep in episodes[6:]:
        ep.instruction = 'j'  # tell the tasks apart in a batch by their text vector
    text = {'i': np.zeros(384, np.float32), 'j': np.ones(384, np.float32)}

    def share_of_b(**kwargs):
        b = SequenceBatcher(episodes, text, ('rgb',), 3, 16, 4, queries=4, seed=1, **kwargs)
        return np.mean([b.sample(8)['text'][:, 0].mean().item() for _ in range(100)])

    assert 0.6 < share_of_b(task_weights={'b': 2.0}) < 0.73  # about 2/3 of 800 draws
    assert 0.18 < share_of_b() < 0.32  # uniform over episodes: 1/4
    with pytest.raises(ValueError, match=r"\['c'\] not in the dataset"):
        episode_probabilities(episodes, {'c': 1.0})
    with pytest.raises(ValueError, match="task_weights\\['b'\\]"):
        TrainConfig(task_weights={'b': 0.0})


def test_first_seen_slot_order_moves_every_step_and_the_grasped_slot_together(
        synthetic_episodes):
    """slot_order='first_seen': one order per episode (models/slot_order.py), shared by its
    queries, its bank and its pointer target."""
    from models.episodes import goal_slot
    from models.slot_order import first_seen_order

    plain = batcher(synthetic_episodes).sample(12)
    ordered = batcher(synthetic_episodes, slot_order='first_seen').sample(12)
    assert np.array_equal(plain['query_step'], ordered['query_step'])
    chosen = np.random.default_rng(1).integers(len(synthetic_episodes), size=12)
    for b, idx in enumerate(chosen):
        ep = synthetic_episodes[idx]
        order = first_seen_order(ep.objects)
        steps = ordered['query_step'][b].long().numpy()
        assert np.array_equal(ordered['query_objects'][b].numpy(), ep.objects[steps][:, order])
        keys = ordered['key_step'][b].long().numpy()[ordered['key_valid'][b].numpy()]
        assert np.array_equal(ordered['key_objects'][b].numpy()[:len(keys)],
                              ep.objects[keys][:, order])
        assert all(order[int(slot)] == goal_slot(ep) for slot in ordered['goal_slot'][b])
    with pytest.raises(ValueError, match="slot_order='random'"):
        batcher(synthetic_episodes, slot_order='random')


def _pressing_episode():
    """Cue, delay, then three presses: the arm dips from 0.12 m to 0.04 m over button 1,
    button 0, then button 1 again (x, y of the buttons: (0.4, -0.1) and (0.4, 0.1))."""
    z = [0.12, 0.12, 0.12, 0.12, 0.04, 0.04, 0.12, 0.12, 0.04, 0.12, 0.12, 0.04, 0.04, 0.12]
    y = [0.0, 0.0, 0.0, 0.1, 0.1, 0.1, 0.1, -0.1, -0.1, -0.1, 0.1, 0.1, 0.1, 0.1]
    ep = _episode([0, 1, 2] + [2] * 11, [0.0] * 14)
    ep.action[:, 0], ep.action[:, 1], ep.action[:, 2] = 0.4, y, z
    ep.action[:, 4] = 1.0  # the gripper stays closed: presses, not grasps
    ep.objects[:, :, 0] = 1.0  # both buttons visible throughout
    ep.objects[:, 0, 1:3] = (0.4, -0.1)
    ep.objects[:, 1, 1:3] = (0.4, 0.1)
    return ep


def test_contact_steps_are_the_first_steps_of_each_descent_in_the_act_phase():
    ep = _pressing_episode()
    assert contact_steps(ep).tolist() == [4, 8, 11]
    firsts, lasts = contact_spans(ep)
    assert firsts.tolist() == [4, 8, 11] and lasts.tolist() == [5, 8, 12]
    ep.action[:, 2] = 0.12  # no vertical travel: no contact
    assert contact_steps(ep).tolist() == []


def test_next_contact_targets_head_for_each_press_in_turn():
    ep = _pressing_episode()
    points, slots = goal_targets(ep, 'next_contact')
    # steps 0-4 head for the first press (button 1), 5-8 the second (button 0), then the third
    assert slots.tolist() == [1] * 5 + [0] * 4 + [1] * 5
    np.testing.assert_allclose(points[6], (0.4, -0.1, 0.04))
    # 'unfinished_contact': a press stays the target down to its last low step (5, 8, 12)
    points, slots = goal_targets(ep, 'unfinished_contact')
    assert slots.tolist() == [1] * 6 + [0] * 3 + [1] * 5
    np.testing.assert_allclose(points[5], (0.4, 0.1, 0.04))
    # 'episode' targets: the first grasp's (the gripper closes at the act phase's start,
    # over no object within 9 cm of y = 0: slot -1) at every step
    points, slots = goal_targets(ep, 'episode')
    assert slots.tolist() == [-1] * 14 and np.allclose(points, points[0])
    with pytest.raises(ValueError, match="kind='next'"):
        goal_targets(ep, 'next')
    # the batcher carries the targets of each query's own step, in the slot order it uses
    b = batcher([ep], goal_kind='next_contact', slot_order='first_seen')
    batch = b.sample(4)
    expected = goal_targets(ep, 'next_contact')[1][batch['query_step'].long().numpy()]
    assert np.array_equal(batch['goal_slot'].numpy(), expected)  # both seen at step 0: y order


def test_a_place_aims_at_where_the_object_goes_not_at_the_object_in_hand():
    # the arm carries a cube (slot 0, at the pinch point) down onto a tray (slot 1, 5 cm
    # off) and opens there; then down again at an empty spot and opens: no target slot
    z = [0.2, 0.2, 0.2, 0.03, 0.03, 0.2, 0.2, 0.03, 0.03, 0.2]
    grip = [1, 1, 1, 1, 0, 0, 1, 1, 0, 0]
    ep = _episode([0, 1] + [2] * 8, [0.0] * 10)
    ep.action[:, 0], ep.action[:, 2], ep.action[:, 4] = 0.4, z, grip
    ep.action[6:, 1] = -0.3
    ep.proprio[:, -4:-1] = ep.action[:, :3]  # the pinch point follows the command
    ep.objects[:, :, 0] = 1.0
    ep.objects[:, 0, 1:4] = ep.action[:, :3]  # the cube in the hand
    ep.objects[:, 1, 1:4] = (0.4, 0.05, 0.0)  # the tray
    assert contact_steps(ep).tolist() == [3, 7]
    assert goal_targets(ep, 'next_contact')[1].tolist() == [1] * 4 + [-1] * 6


def test_a_slot_hidden_under_the_gripper_is_found_where_it_was_just_seen():
    """Perception-made episodes (record_demos --objects perception): the gripper on a
    drawer's knob hides the drawer at the grasp step; the grasped slot is the one seen there
    within the last 10 steps, not an object seen there long before (the helper hand)."""
    from models.episodes import goal_slot, slot_at

    phase = [0] * 20 + [2] * 20
    ep = _episode(phase, np.zeros(40))
    ep.objects = np.zeros((40, 3, 10), np.float32)
    ep.action[:, :3] = [0.5, 0.2, 0.2]
    ep.action[30:, 4] = 1.0  # the gripper closes at step 30
    ep.objects[:5, 0, :4] = [1.0, 0.51, 0.2, 0.0]  # seen there long before, then gone
    ep.objects[:28, 1, :4] = [1.0, 0.56, 0.2, 0.0]  # hidden from step 28 on
    ep.objects[:, 2, :4] = [1.0, 0.2, -0.2, 0.0]  # far away, always seen
    assert goal_slot(ep) == 1
    assert slot_at(ep, 30, exclude=1) == -1  # not slot 0: seen 25 steps before
    ep.objects[30, 2, :4] = [1.0, 0.58, 0.2, 0.0]  # a visible object there comes first
    assert goal_slot(ep) == 2
