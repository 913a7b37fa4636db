"""The perceptual-cognitive memory bank: shapes, capacity, consolidation, retrieval, gating,
state save/restore, and that the batched (training) and step-by-step (inference) paths agree.
"""

import pytest
from safetensors.torch import load_file, save_file
import torch
from torch import nn

from models.config import MemoryConfig
from models.memory_bank import GatedFusion, MemoryBank, MemoryRetrieval

D, NP = 16, 3


def random_entry(batch=1):
    return torch.randn(batch, NP, D), torch.randn(batch, D)


def test_write_shapes_and_capacity_bound():
    bank = MemoryBank(capacity=5, tokens=NP, width=D, batch=2)
    for step in range(17):
        bank.write(*random_entry(2), step)
        assert len(bank) <= 5
    p, c, t, valid = bank.entries()
    assert p.shape == (2, 5, NP, D) and c.shape == (2, 5, D)
    assert t.shape == (2, 5) and valid.shape == (2, 5) and bool(valid.all())
    assert bank.consolidations == 12
    # time steps stay ordered after merges, and merged counts add up to all writes
    assert bool((t[:, 1:] >= t[:, :-1]).all())
    assert torch.allclose(bank.counts[:, :5].sum(1), torch.full((2,), 17.0))


def test_bad_write_shape_is_refused():
    bank = MemoryBank(capacity=4, tokens=NP, width=D)
    try:
        bank.write(torch.zeros(1, NP + 1, D), torch.zeros(1, D), 0)
    except ValueError as err:
        assert 'perceptual shape' in str(err)
    else:
        raise AssertionError('expected ValueError')


def test_consolidation_merges_the_most_similar_adjacent_pair():
    bank = MemoryBank(capacity=4, tokens=NP, width=D)
    base = [random_entry() for _ in range(4)]
    twin_p = base[2][0] + 0.01 * torch.randn(1, NP, D)
    twin_c = base[2][1] + 0.01 * torch.randn(1, D)
    entries = [base[0], base[1], base[2], (twin_p, twin_c), base[3]]  # slots 2, 3 similar
    for step, (p, c) in enumerate(entries):
        bank.write(p, c, step * 10)
    assert len(bank) == 4 and bank.consolidations == 1
    assert torch.allclose(bank.times[0, :4], torch.tensor([0.0, 10.0, 25.0, 40.0]))
    assert torch.allclose(bank.perceptual[0, 2], (base[2][0][0] + twin_p[0]) / 2, atol=1e-6)
    assert torch.allclose(bank.cognitive[0, 3], base[3][1][0])
    assert bank.counts[0, :4].tolist() == [1.0, 1.0, 2.0, 1.0]


def identity_retrieval(scale: float = 30.0) -> MemoryRetrieval:
    """Retrieval with hand-set weights: attention = nearest stored token, gate fully open."""
    ret = MemoryRetrieval(MemoryConfig(heads=1), D, NP)
    with torch.no_grad():
        for p in ret.parameters():
            p.zero_()
        for attn in (ret.attn_p, ret.attn_c):
            attn.q.weight.copy_(scale * torch.eye(D))
            attn.kv.weight.copy_(torch.cat([torch.eye(D), torch.eye(D)]))
            attn.out.weight.copy_(torch.eye(D))
        for norm in (ret.norm_pq, ret.norm_pk, ret.norm_cq, ret.norm_ck):
            norm.weight.fill_(1.0)
        for fuse in (ret.fuse_p, ret.fuse_c):
            fuse.gate.bias.fill_(20.0)  # g ~ 1: output = retrieved
    return ret.requires_grad_(False)


def test_retrieval_recovers_a_stored_entry():
    torch.manual_seed(1)
    ret = identity_retrieval()
    bank = MemoryBank(capacity=8, tokens=NP, width=D)
    stored = [random_entry() for _ in range(6)]
    for step, (p, c) in enumerate(stored):
        bank.write(p, c, step)
    target_p, target_c = stored[4]
    fused_p, fused_c, info = ret(target_p, target_c, torch.tensor([6.0]), *bank.entries())
    norm = nn.functional.layer_norm
    assert torch.allclose(fused_c, norm(target_c, (D,)), atol=1e-3)
    assert torch.allclose(fused_p, norm(target_p, (D,)), atol=1e-3)
    assert float(info['gate_p'].min()) > 0.99


def test_retrieval_never_reads_invalid_or_future_entries():
    ret = identity_retrieval()
    p, c = random_entry()
    bank_p = torch.stack([p, p], 1)  # (1, 2, NP, D): both entries equal the query
    bank_c = torch.stack([c, c], 1)
    times = torch.tensor([[0.0, 1.0]])
    # an empty bank: only the learned null entry (zeros here) can be attended
    fused_p, fused_c, _ = ret(p, c, torch.tensor([2.0]), bank_p, bank_c, times,
                              torch.zeros(1, 2, dtype=torch.bool))
    assert float(fused_c.abs().max()) < 1e-4
    # batched view: a query at step 1 sees the entry at step 0 only, at step 0 nothing
    queries_p, queries_c = p.unsqueeze(1).repeat(1, 2, 1, 1), c.unsqueeze(1).repeat(1, 2, 1)
    fp, fc = ret.retrieve_batched(queries_p, queries_c, torch.tensor([[0.0, 1.0]]), bank_p,
                                  bank_c, times, torch.ones(1, 2, dtype=torch.bool))
    assert float(fc[0, 0].abs().max()) < 1e-4
    assert torch.allclose(fc[0, 1], nn.functional.layer_norm(c[0], (D,)), atol=1e-3)


def test_gate_interpolates_between_current_and_retrieved():
    fuse = GatedFusion(D)
    x, h = torch.randn(4, D), torch.randn(4, D)
    out, g = fuse(x, h)
    assert out.shape == (4, D) and bool(((g > 0) & (g < 1)).all())
    assert torch.allclose(out, g * h + (1 - g) * x)
    lo, hi = torch.minimum(x, h), torch.maximum(x, h)
    assert bool(((out >= lo - 1e-6) & (out <= hi + 1e-6)).all())


@pytest.mark.parametrize('recurrent', [False, True])
def test_batched_and_step_by_step_paths_agree(recurrent):
    torch.manual_seed(2)
    ret = MemoryRetrieval(MemoryConfig(heads=2, recurrent=recurrent), D, NP).eval()
    plain = None
    if recurrent:   # its output starts at zero: make the summary count here
        nn.init.normal_(ret.recurrent.out.weight, std=0.5)
        plain = MemoryRetrieval(MemoryConfig(heads=2), D, NP).eval()
        plain.load_state_dict(ret.state_dict(), strict=False)
    steps, every = 11, 2
    perceptual, cognitive = torch.randn(1, steps, NP, D), torch.randn(1, steps, D)
    keys = list(range(0, steps, every))
    batched_p, batched_c = ret.retrieve_batched(
        perceptual, cognitive, torch.arange(steps, dtype=torch.float32)[None],
        perceptual[:, keys], cognitive[:, keys], torch.tensor([keys], dtype=torch.float32),
        torch.ones(1, len(keys), dtype=torch.bool))
    bank = MemoryBank(capacity=8, tokens=NP, width=D)
    for t in range(steps):
        now = torch.tensor([float(t)])
        fp, fc, _ = ret(perceptual[:, t], cognitive[:, t], now, *bank.entries())
        assert torch.allclose(fp, batched_p[:, t], atol=1e-5), t
        assert torch.allclose(fc, batched_c[:, t], atol=1e-5), t
        if plain is not None:   # the summary changes the cognitive token once there is a past
            _, fc_plain, _ = plain(perceptual[:, t], cognitive[:, t], now, *bank.entries())
            assert (t == 0) == torch.allclose(fc, fc_plain, atol=1e-6), t
        if t % every == 0:
            bank.write(perceptual[:, t], cognitive[:, t], t)


def test_state_save_and_restore(tmp_path):
    bank = MemoryBank(capacity=4, tokens=NP, width=D, batch=2)
    for step in range(7):
        bank.write(*random_entry(2), step)
    save_file(bank.state_dict(), str(tmp_path / 'bank.safetensors'))
    other = MemoryBank(capacity=4, tokens=NP, width=D, batch=2)
    other.load_state_dict(load_file(str(tmp_path / 'bank.safetensors')))
    assert len(other) == len(bank) and other.consolidations == bank.consolidations
    for a, b in zip(bank.entries(), other.entries()):
        assert torch.equal(a, b)
    bank.reset()
    assert len(bank) == 0 and not bool(bank.valid.any())


def test_forget_rows_hides_one_episode_and_consolidation_stays_finite():
    bank = MemoryBank(capacity=4, tokens=NP, width=D, batch=2)
    for step in range(3):
        bank.write(*random_entry(2), step)
    kept = bank.perceptual[1, :3].clone()
    bank.forget_rows([0])
    assert not bank.valid[0].any() and bank.valid[1, :3].all()
    assert torch.equal(bank.perceptual[1, :3], kept)
    for step in range(3, 8):  # past capacity: merges now involve forgotten entries
        bank.write(*random_entry(2), step)
    assert all(torch.isfinite(buf).all() for buf in (bank.perceptual, bank.cognitive,
                                                     bank.times))
    # row 0 holds exactly what it stored after the wipe (5 writes merged into 4 slots)
    assert bank.counts[0][bank.valid[0]].sum() == 5
    assert bank.times[0][bank.valid[0]].min() >= 3
    assert bank.counts[1][bank.valid[1]].sum() == 8
    try:
        bank.forget_rows([2])
    except ValueError as error:
        assert 'rows=[2]' in str(error)
    else:
        raise AssertionError('a row outside the batch was accepted')


def test_permute_rows_swaps_episodes_in_place():
    bank = MemoryBank(capacity=4, tokens=NP, width=D, batch=3)
    bank.write(*random_entry(3), 0)
    before = bank.cognitive.clone()
    storage = bank.cognitive.data_ptr()
    bank.permute_rows([1, 2, 0])
    assert bank.cognitive.data_ptr() == storage  # a captured CUDA graph keeps its buffers
    assert torch.equal(bank.cognitive[0], before[1])
    assert torch.equal(bank.cognitive[2], before[0])
    try:
        bank.permute_rows([0, 0, 1])
    except ValueError as error:
        assert 'not a permutation' in str(error)
    else:
        raise AssertionError('a non-permutation was accepted')


def test_recurrent_summary_skips_forgotten_entries():
    torch.manual_seed(4)
    rec = MemoryRetrieval(MemoryConfig(heads=2, recurrent=True), D, NP).recurrent
    nn.init.normal_(rec.out.weight, std=0.5)
    p, c = torch.randn(1, 3, NP, D), torch.randn(1, 3, D)
    valid = torch.tensor([[False, True, True]])  # a hole first, as after forget_rows
    moved = rec(p, c, valid, torch.tensor([[2]]))
    packed = rec(p[:, 1:], c[:, 1:], torch.ones(1, 2, dtype=torch.bool), torch.tensor([[2]]))
    assert torch.allclose(moved, packed, atol=1e-6)


def test_recurrent_summary_learns_to_count_events_that_span_entries():
    """A bank of 20 entries, 'quiet' tokens and 0-5 events; an event is a run of 1 or 2
    'event' entries (a 3-step blink written every 2 steps is 1 or 2 entries). The number of
    events must be read out. The GRU summary learns it (it sees where a run starts);
    attention retrieval, trained the same way, reads how many event entries there are, which
    says 2 events or 3 or 4 alike when it is 4."""
    gen = torch.Generator().manual_seed(0)
    event, quiet = torch.randn(2, D, generator=gen)
    length = 20

    def batch(n: int):
        counts = torch.randint(0, 6, (n,), generator=gen)
        flags = torch.zeros(n, length, dtype=torch.bool)
        for i, k in enumerate(counts.tolist()):
            at = int(torch.randint(0, 3, (), generator=gen))
            for _ in range(k):   # a run of 1-2 event entries, then a gap of 1-2 quiet ones
                run = int(torch.randint(1, 3, (), generator=gen))
                flags[i, at:at + run] = True
                at += run + int(torch.randint(1, 3, (), generator=gen))
        c = torch.where(flags.unsqueeze(-1), event, quiet) + 0.05 * torch.randn(
            n, length, D, generator=gen)
        return c.unsqueeze(2).repeat(1, 1, NP, 1), c, counts.float()

    def fit(recurrent: bool) -> float:
        torch.manual_seed(0)
        ret = MemoryRetrieval(MemoryConfig(heads=2, recurrent=recurrent), D, NP)
        head = nn.Linear(D, 1)
        opt = torch.optim.Adam([*ret.parameters(), *head.parameters()], lr=1e-2)
        now = torch.full((64,), float(length))
        times = torch.arange(length, dtype=torch.float32).expand(64, length)
        valid = torch.ones(64, length, dtype=torch.bool)
        query = torch.zeros(64, NP, D), torch.zeros(64, D)
        for _ in range(400):
            p, c, k = batch(64)
            _, fc, _ = ret(*query, now, p, c, times, valid)
            loss = (head(fc).squeeze(-1) - k).pow(2).mean()
            opt.zero_grad()
            loss.backward()
            opt.step()
        p, c, k = batch(256)
        with torch.no_grad():
            _, fc, _ = ret(torch.zeros(256, NP, D), torch.zeros(256, D),
                           torch.full((256,), float(length)), p, c,
                           times[:1].expand(256, -1), valid[:1].expand(256, -1))
            return float((head(fc).squeeze(-1).round() == k).float().mean())

    counted, averaged = fit(recurrent=True), fit(recurrent=False)
    assert counted > 0.9 and counted > averaged + 0.2, (counted, averaged)
