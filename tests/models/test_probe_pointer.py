"""scripts/probe_pointer.py: the pointer's accuracy by act-step offset, on the training path."""

import numpy as np
import torch

from models.episodes import onset_steps
from tests.models.test_policy import fitted_net
from tests.script_loader import load_script


def with_forced_pointer(net, run, slots: int = 3) -> list:
    """run() once per slot with a pointer that always names that slot -> the results."""
    pointer = net.pointer.forward
    results = []
    try:
        for slot in range(slots):
            def forced(cond, objects, visible, stored=None, slot=slot):
                token, logits = pointer(cond, objects, visible, stored)
                return token, torch.nn.functional.one_hot(
                    torch.full(logits.shape[:1], slot), logits.shape[1]).float() * 10.0
            net.pointer.forward = forced
            results.append(run())
    finally:
        net.pointer.forward = pointer
    return results


def test_probe_scores_act_queries_by_offset_against_the_grasped_slot(synthetic_episodes):
    probe = load_script('probe_pointer')
    net = fitted_net(synthetic_episodes, goal_pointer=True, pointer_query='retrieved')
    text = {e.instruction: np.full(384, 0.05, np.float32) for e in synthetic_episodes}
    shares = with_forced_pointer(net, lambda: probe.probe_task(net, text, synthetic_episodes,
                                                                 batches=2, seed=3))
    offsets = sorted(shares[0])
    # act-phase queries only, from the act start on, the onset (offset 0) among them
    assert offsets[0] == 0 and all(0 <= o <= probe.LAST_OFFSET for o in offsets)
    assert all(len(onset_steps(e)) >= 1 for e in synthetic_episodes)
    # the same batches for each forced slot: every scored query's grasped slot is exactly one
    # of the three, so the three accuracies add up to 1 at every offset
    for o in offsets:
        total = sum(np.array(s[o], float) for s in shares)
        assert np.all(total == 1.0), (o, total)
    # and the grasped cup is not always the same slot (the check above could not pass by a
    # constant target)
    assert sum(np.mean(s[o]) > 0 for s in shares for o in offsets[:1]) >= 1
    assert len({tuple(np.mean(s[o]) for o in offsets) for s in shares}) > 1


def test_after_contacts_probes_the_steps_after_each_contact_but_the_last(synthetic_episodes):
    import dataclasses

    from models.episodes import act_start, contact_spans

    probe = load_script('probe_pointer')
    net = fitted_net(synthetic_episodes, goal_pointer=True, pointer_query='retrieved')
    text = {e.instruction: np.full(384, 0.05, np.float32) for e in synthetic_episodes}
    twice = []
    for ep in synthetic_episodes[:3]:   # the one grasp made two: down, up, down again
        action = ep.action.copy()
        start = act_start(ep)
        action[start + 14:start + 19, 2] = action[:, 2].max()
        action[start + 22:, 2] = action[:, 2].max()
        twice.append(dataclasses.replace(ep, action=action))
    assert all(len(contact_spans(ep)[0]) == 2 for ep in twice)
    results = with_forced_pointer(net, lambda: probe.probe_after_contacts(net, text, twice))
    scored = [len(r['again']) + len(r['next']) for r in results]
    # the AFTER_CONTACT steps after the first contact of each episode (none after the last)
    assert scored[0] == scored[1] == scored[2] and 0 < scored[0] <= 3 * probe.AFTER_CONTACT
    for kind in ('again', 'next'):   # each scored query's target is exactly one slot
        total = sum(np.array(r[kind], float) for r in results)
        assert np.all(total == 1.0), (kind, total)
    # the probe does not touch episodes with one contact: nothing to ask there
    single = probe.probe_after_contacts(net, text, synthetic_episodes[:2])
    assert single == {'again': [], 'next': []}


def test_unmarked_measures_where_the_pointer_lands_against_the_goal(synthetic_episodes):
    """With the grasped cup hidden in the act phase no current slot marks the goal; a bank
    pointer forced onto the cup as the first keyframe stored it lands on the goal (the cup
    stood still), one forced onto a current slot does not, and the stored weight says which."""
    import dataclasses

    from models.episodes import VISIBLE, act_start, goal_slot

    probe = load_script('probe_pointer')
    net = fitted_net(synthetic_episodes, goal_pointer=True, bank_pointer=True)
    text = {e.instruction: np.full(384, 0.05, np.float32) for e in synthetic_episodes}
    hidden, cups = [], []
    for ep in synthetic_episodes:
        cup = goal_slot(ep)
        objects = ep.objects.copy()
        objects[act_start(ep):, cup, VISIBLE] = 0.0
        hidden.append(dataclasses.replace(ep, objects=objects))
        cups.append(cup)
    assert len(set(cups)) > 1   # the forced stored slot below must follow the episode
    slots = net.cfg.encoder.object_slots
    pointer = net.pointer.forward

    def run(target):
        def forced(cond, objects, visible, stored=None):
            token, logits = pointer(cond, objects, visible, stored)
            index = target(visible)
            return token, torch.nn.functional.one_hot(index, logits.shape[1]).float() * 50.0
        net.pointer.forward = forced
        try:
            return probe.probe_unmarked(net, text, hidden, batches=2, seed=3)
        finally:
            net.pointer.forward = pointer

    def first_stored_visible(visible):   # keyframe 0's copy of the cup hidden now
        return slots + (~visible).float().argmax(1)

    errors, weight = run(first_stored_visible)
    assert len(errors) > 0 and np.median(errors) < 0.02 and np.all(weight > 0.99)
    errors, weight = run(lambda visible: torch.zeros(len(visible), dtype=torch.long))
    assert np.all(weight < 0.01)
