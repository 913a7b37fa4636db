"""scripts/probe_pointer.py: the pointer's accuracy by act-step offset, on the training path."""

import numpy as np
import torch

from models.episodes import onset_steps
from tests.models.test_policy import fitted_net
from tests.script_loader import load_script


def test_probe_scores_act_queries_by_offset_against_the_grasped_slot(synthetic_episodes):
    probe = load_script('probe_pointer')
    net = fitted_net(synthetic_episodes, goal_pointer=True, pointer_query='retrieved')
    text = {e.instruction: np.full(384, 0.05, np.float32) for e in synthetic_episodes}
    pointer = net.pointer.forward
    shares = []
    for slot in range(3):  # a pointer that always names one slot
        def forced(cond, objects, visible, slot=slot):
            token, logits = pointer(cond, objects, visible)
            return token, torch.nn.functional.one_hot(
                torch.full(logits.shape[:1], slot), logits.shape[1]).float() * 10.0
        net.pointer.forward = forced
        shares.append(probe.probe_task(net, text, synthetic_episodes, batches=2, seed=3))
    net.pointer.forward = pointer
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
