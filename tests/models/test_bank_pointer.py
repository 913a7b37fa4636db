"""The goal pointer over the bank's stored object slots (MemoryConfig.bank_pointer): the bank
keeps each entry's slots through merges, wipes and restores; the training targets mark where
an object stood; the pointer learns to read a stored position back; growing it onto a
trained checkpoint leaves the checkpoint's behaviour; the policy runs with it."""

import json

import pytest
from safetensors.torch import load_file, save_file
import torch

from models.goal_pointer import GoalPointer
from models.memory_bank import MemoryBank
from models.network import MemoryDiffusionNet
from tests.models.conftest import fuse_inputs, grown_pair, run_policy

D, NP, K, D_OBJ = 16, 3, 4, 6


def entry(batch=1):
    return torch.randn(batch, NP, D), torch.randn(batch, D)


def slots(batch, xy, visible=1.0):
    """(batch, K, D_OBJ): slot 0 at `xy`, visible or not; the others at fixed places."""
    objects = torch.zeros(batch, K, D_OBJ)
    objects[:, :, 0] = 1.0
    objects[:, :, 1] = torch.arange(K) * 0.1
    objects[:, 0, 0] = visible
    objects[:, 0, 1:3] = torch.as_tensor(xy, dtype=torch.float32)
    return objects


def test_the_bank_keeps_object_slots_and_merges_only_what_was_seen(tmp_path):
    bank = MemoryBank(capacity=3, tokens=NP, width=D, objects=(K, D_OBJ))
    with pytest.raises(ValueError, match='pass the step'):
        bank.write(*entry(), 0)
    with pytest.raises(ValueError, match='objects shape'):
        bank.write(*entry(), 0, torch.zeros(1, K + 1, D_OBJ))
    p, c = entry()
    bank.write(p, c, 0, slots(1, [0.4, -0.2]))
    bank.write(p, c, 2, slots(1, [0.0, 0.0], visible=0.0))  # slot 0 hidden here
    bank.write(*entry(), 4, slots(1, [0.1, 0.3]))
    bank.write(*entry(), 6, slots(1, [0.2, 0.3]))  # over capacity: entries 0 and 1 merge
    assert len(bank) == 3 and bank.consolidations == 1
    stored = bank.object_entries()
    assert stored.shape == (1, 3, K, D_OBJ)
    # the merged entry's slot 0 is where it was seen, not averaged with the hidden entry
    assert torch.allclose(stored[0, 0, 0, 1:3], torch.tensor([0.4, -0.2]))
    assert float(stored[0, 0, 0, 0]) == 1.0
    assert torch.allclose(stored[0, 1, 0, 1:3], torch.tensor([0.1, 0.3]))
    save_file(bank.state_dict(), str(tmp_path / 'bank.safetensors'))
    other = MemoryBank(capacity=3, tokens=NP, width=D, objects=(K, D_OBJ))
    other.load_state_dict(load_file(str(tmp_path / 'bank.safetensors')))
    assert torch.equal(other.object_entries(), stored)
    plain = MemoryBank(capacity=3, tokens=NP, width=D)
    with pytest.raises(ValueError, match='no object slots'):
        plain.write(*entry(), 0, slots(1, [0.0, 0.0]))
    with pytest.raises(ValueError, match="no 'objects'"):
        other.load_state_dict(plain.state_dict() | {'capacity': torch.tensor(3)})
    two = MemoryBank(capacity=3, tokens=NP, width=D, batch=2, objects=(K, D_OBJ))
    two.write(*entry(2), 0, torch.cat([slots(1, [0.1, 0.1]), slots(1, [0.2, 0.2])]))
    two.permute_rows([1, 0])
    assert torch.allclose(two.object_entries()[0, 0, 0, 1:3], torch.tensor([0.2, 0.2]))
    two.forget_rows([0])
    assert float(two.object_entries()[0].abs().sum()) == 0.0


def keyframe_batch():
    """One episode, 4 keyframes (steps 0, 2, 4, 6), two queries (steps 5 and 9): slot 0
    stood at (0.4, -0.2) in keyframes 0 and 1, then moved; the queries' goal is that place
    and no current object marks it (goal_slot -1)."""
    objects = torch.stack([slots(1, [0.4, -0.2])[0], slots(1, [0.41, -0.2])[0],
                           slots(1, [0.1, 0.3])[0], slots(1, [0.39, -0.21])[0]])
    return {'key_objects': objects[None], 'key_step': torch.tensor([[0.0, 2.0, 4.0, 6.0]]),
            'key_valid': torch.tensor([[True, True, True, False]]),
            'query_step': torch.tensor([[5.0, 9.0]]),
            'goal': torch.tensor([[[0.4, -0.2, 0.0], [0.4, -0.2, 0.0]]])}


def test_stored_targets_mark_where_an_object_stood_before_each_query():
    hits = MemoryDiffusionNet.stored_targets(keyframe_batch()).view(2, 4, K)
    expected = torch.zeros(2, 4, K, dtype=torch.bool)
    expected[:, 0, 0] = expected[:, 1, 0] = True  # entries 0 and 1, slot 0
    # keyframe 2 (step 4) shows it elsewhere; keyframe 3 is padding (not valid)
    assert torch.equal(hits, expected)
    batch = keyframe_batch()
    batch['query_step'] = torch.tensor([[1.0, 9.0]])  # the first query saw keyframe 0 only
    hits = MemoryDiffusionNet.stored_targets(batch).view(2, 4, K)
    assert hits[0].nonzero().tolist() == [[0, 0]] and hits[1].sum() == 2


def test_the_pointer_learns_to_read_a_stored_place_back():
    """Slot 0's place at the first entry differs per sample and it has since moved; trained
    on the stored-target loss, the pointer's weights land on that place (within 1 cm)."""
    torch.manual_seed(0)
    n, m, width = 64, 5, 32
    pointer = GoalPointer(width, D_OBJ, K, stored=True)
    time = torch.randn(m, width).expand(n, m, width)  # one encoding per entry, all samples
    start = torch.rand(n, 2) * 0.4 - 0.2
    stored = torch.stack([slots(n, start)] + [slots(n, torch.rand(n, 2) - 0.5)
                                              for _ in range(m - 1)], 1)  # (N, M, K, D_OBJ)
    current = slots(n, torch.rand(n, 2) - 0.5)
    visible = torch.ones(n, K, dtype=torch.bool)
    s_visible = torch.ones(n, m, K, dtype=torch.bool)
    cond = torch.randn(n, 2, width)
    target = K + 0 * K + 0  # entry 0, slot 0 in the flattened (current, stored...) order
    optimiser = torch.optim.Adam(pointer.parameters(), lr=1e-2)

    def expected_place():
        _, logits = pointer(cond, current, visible, (stored, s_visible, time))
        positions = torch.cat([current, stored.flatten(1, 2)], 1)[..., 1:3]
        return torch.einsum('nk,nkc->nc', logits.softmax(-1), positions), logits

    with torch.no_grad():
        before = float((expected_place()[0] - start).norm(dim=1).mean())
    for _ in range(150):
        _, logits = expected_place()
        loss = torch.nn.functional.cross_entropy(logits, torch.full((n,), target))
        optimiser.zero_grad()
        loss.backward()
        optimiser.step()
    with torch.no_grad():
        place, _ = expected_place()
    after = float((place - start).norm(dim=1).mean())
    assert before > 0.1 and after < 0.01, (before, after)
    with pytest.raises(ValueError, match='stored'):
        pointer(cond, current, visible)


def test_bank_pointer_grows_onto_a_checkpoint_and_the_policy_runs_it(tmp_path):
    from models.policy import MemoryDiffusionPolicy

    a, b = grown_pair(tmp_path, '--bank-pointer', '--goal-pointer', '--pointer-loss-weight',
                      '1', '--goal-loss-weight', '1')
    assert not a.cfg.memory.bank_pointer and b.cfg.memory.bank_pointer
    # stored slots start at a logit offset of -8: the same conditioning tokens as before,
    # to within what ~e^-8 of the pointer's weight on each stored slot moves
    torch.manual_seed(0)
    k, d_obj = a.cfg.encoder.object_slots, a.cfg.encoder.object_dim
    p, c, now, bank, objects = fuse_inputs(a)
    with torch.no_grad():
        before = a.fuse(p, c, now, bank, objects)
        after = b.fuse(p, c, now, bank, objects, torch.rand(2, 5, k, d_obj))
        with pytest.raises(ValueError, match='bank_objects'):
            b.fuse(p, c, now, bank, objects)
    assert torch.allclose(before, after, atol=0.05), float((before - after).abs().max())
    # the policy keeps each entry's slots in its bank and reads them when it plans
    policy = run_policy(b)
    assert policy.bank.objects is not None  # written at steps 0, w, 2w, ... < 6
    assert len(policy.bank) == -(-6 // b.cfg.memory.write_every)
    stored = policy.bank.object_entries()[0, :len(policy.bank)]
    assert float(stored[..., 0].max()) == 1.0  # visible slots were stored
    state = policy.memory_state()
    assert 'bank.objects' in state
    fresh = MemoryDiffusionPolicy(b, device='cpu', seed=0)
    fresh.load_memory_state(state)
    assert torch.equal(fresh.bank.object_entries(), policy.bank.object_entries())
    doc = json.loads((tmp_path / 'b' / 'config.json').read_text())
    assert '--bank-pointer' in doc['meta']['command']
