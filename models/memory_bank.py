"""The perceptual-cognitive memory bank (PCMB), after MemoryVLA.

Each step the encoder's perceptual tokens (N_p, D: fine detail) and cognitive token (D: an
instruction-conditioned summary) form working memory. `MemoryBank` stores past working
memories with their time step; `MemoryRetrieval` lets working memory attend over the stored
entries (keys and queries carry sinusoidal temporal position encodings) and fuses what it
retrieved with the current tokens through a learned sigmoid gate:
    fused = g * retrieved + (1 - g) * current,  g = sigmoid(W [current, retrieved]).
A learned null entry is always attendable, so an empty (or cleared) bank is well defined:
that is how the policy's "memory off" mode runs the same network with no past.

When the bank holds more than `capacity` entries it consolidates: the most similar adjacent
pair (cosine similarity of cognitive token + mean perceptual token) is merged into one
count-weighted average entry (time step averaged too), as in MemoryVLA.

With `MemoryConfig.recurrent`, `BankRecurrence` adds a GRU's summary of the stored entries,
in time order, to the fused cognitive token: attention averages what it reads, so it can at
best count matching entries, not events that span a varying number of them; a recurrent
pass can.

The bank stores the raw (pre-fusion) working memory, like a transformer's key/value cache, so
training can compute all steps of an episode in parallel (`retrieve_batched`) and inference
step by step (`MemoryBank` + `MemoryRetrieval.forward`) with the same result as long as no
consolidation has happened (tests/models/test_memory_bank.py checks this).

With `objects=(K, D_OBJ)` the bank also keeps each entry's raw object slots (for the goal
pointer's `MemoryConfig.bank_pointer`: a place remembered as where an object stood). A merge
averages each slot over the entries where it was visible, so a stored position is always
one the camera saw (or, merged, the mean of such positions).
"""

from __future__ import annotations

import math

import torch
from torch import nn
import torch.nn.functional as F

from models.config import MemoryConfig
from models.encoders import CrossAttention
from models.goal_pointer import VISIBLE


def sinusoid(t: torch.Tensor, width: int, max_period: float) -> torch.Tensor:
    """Sinusoidal encoding of (possibly fractional) time steps: (...,) -> (..., width)."""
    half = width // 2
    freqs = torch.exp(-math.log(max_period) * torch.arange(half, device=t.device,
                                                           dtype=torch.float32) / half)
    angles = t.float().unsqueeze(-1) * freqs  # (..., half)
    return torch.cat([angles.sin(), angles.cos()], -1)


class TemporalEncoding(nn.Module):
    """Temporal position encoding: sinusoid of the time step through a small MLP."""

    def __init__(self, width: int, max_steps: int) -> None:
        super().__init__()
        self.width = width
        self.max_period = float(max(4 * max_steps, 16))
        self.mlp = nn.Sequential(nn.Linear(width, width), nn.SiLU(), nn.Linear(width, width))

    def forward(self, t: torch.Tensor) -> torch.Tensor:
        return self.mlp(sinusoid(t, self.width, self.max_period))


class GatedFusion(nn.Module):
    """fused = g * retrieved + (1 - g) * current with a per-channel learned gate."""

    def __init__(self, width: int) -> None:
        super().__init__()
        self.gate = nn.Linear(2 * width, width)

    def forward(self, current: torch.Tensor, retrieved: torch.Tensor
                ) -> tuple[torch.Tensor, torch.Tensor]:
        g = torch.sigmoid(self.gate(torch.cat([current, retrieved], -1)))
        return g * retrieved + (1.0 - g) * current, g


class BankRecurrence(nn.Module):
    """A GRU over the bank's entries in time order: a summary that can count.

    Attention retrieval returns a weighted average of stored entries; with the null entry in
    the softmax it can grow with the number of matching entries, but a blink is 1 or 2 entries
    (3 steps, written every 2), so entries do not say how many blinks. A recurrent pass over
    the entries keeps a state that each event's first entry can increment. Each entry (its
    cognitive token and mean perceptual token, raw as stored) is one GRU step; the summary a
    query gets is the state after the entries it may see. Stateless between calls: inference
    reruns it over the bank (one fused `nn.GRU` call over `capacity` entries), so the bank
    stays the policy's only memory and every bank ablation (cleared, wiped, shuffled) applies
    to the summary too. The output projection starts at zero: adding the module to a trained
    network changes nothing until training uses it. Consolidated entries are GRU steps like
    the others (a merged pair is one step: the count drifts once the bank is full; training
    never reaches capacity).
    """

    def __init__(self, width: int) -> None:
        super().__init__()
        self.norm_c, self.norm_p = nn.LayerNorm(width), nn.LayerNorm(width)
        self.inp = nn.Linear(2 * width, width)
        self.gru = nn.GRU(width, width, batch_first=True)
        self.out = nn.Linear(width, width)
        nn.init.zeros_(self.out.weight)
        nn.init.zeros_(self.out.bias)

    def states(self, bank_p: torch.Tensor, bank_c: torch.Tensor, valid: torch.Tensor
               ) -> torch.Tensor:
        """bank_p (B, M, N_p, D), bank_c (B, M, D), valid (B, M) -> (B, M + 1, D): the
        projected state after 0, 1, ..., M valid entries (valid ones first, in slot order:
        the bank writes in time order)."""
        order = torch.sort((~valid).to(torch.int8), dim=1, stable=True).indices  # (B, M)
        c = torch.gather(bank_c, 1, order.unsqueeze(-1).expand_as(bank_c))
        p = torch.gather(bank_p.mean(2), 1, order.unsqueeze(-1).expand_as(bank_c))
        x = self.inp(torch.cat([self.norm_c(c), self.norm_p(p)], -1))  # (B, M, D)
        hidden, _ = self.gru(x)  # (B, M, D)
        hidden = torch.cat([hidden.new_zeros(hidden.shape[0], 1, hidden.shape[2]), hidden], 1)
        return self.out(hidden)

    def forward(self, bank_p: torch.Tensor, bank_c: torch.Tensor, valid: torch.Tensor,
                seen: torch.Tensor) -> torch.Tensor:
        """The summary after `seen` (B, Q) valid entries per query -> (B, Q, D)."""
        states = self.states(bank_p, bank_c, valid)  # (B, M + 1, D)
        index = seen.long().unsqueeze(-1).expand(-1, -1, states.shape[-1])
        return torch.gather(states, 1, index)


class MemoryRetrieval(nn.Module):
    """Working memory retrieves from the bank by attention and fuses through a gate."""

    def __init__(self, cfg: MemoryConfig, width: int, perceptual_tokens: int) -> None:
        super().__init__()
        self.n_p = perceptual_tokens
        self.tpe = TemporalEncoding(width, cfg.max_steps)
        self.null_p = nn.Parameter(torch.randn(1, width) * 0.02)
        self.null_c = nn.Parameter(torch.randn(1, width) * 0.02)
        self.norm_pq, self.norm_pk = nn.LayerNorm(width), nn.LayerNorm(width)
        self.norm_cq, self.norm_ck = nn.LayerNorm(width), nn.LayerNorm(width)
        self.attn_p = CrossAttention(width, cfg.heads)
        self.attn_c = CrossAttention(width, cfg.heads)
        self.fuse_p = GatedFusion(width)
        self.fuse_c = GatedFusion(width)
        self.recurrent = BankRecurrence(width) if cfg.recurrent else None

    def forward(self, perceptual: torch.Tensor, cognitive: torch.Tensor, now: torch.Tensor,
                bank_p: torch.Tensor, bank_c: torch.Tensor, bank_t: torch.Tensor,
                bank_valid: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, dict]:
        """Retrieve + fuse for B queries.

        perceptual (B, N_p, D), cognitive (B, D), now (B,) current time step;
        bank_p (B, M, N_p, D), bank_c (B, M, D), bank_t (B, M), bank_valid (B, M) bool.
        Returns fused perceptual (B, N_p, D), fused cognitive (B, D) and diagnostics.
        """
        b = bank_t.shape[0]
        (kv_p, mask_p), (kv_c, mask_c) = self._bank_keys(bank_p, bank_c, bank_t, bank_valid)
        query_p, query_c = self._queries(perceptual, cognitive, now)  # (B, N_p, D), (B, D)
        got_p = self.attn_p(query_p, mask=mask_p, kv=kv_p)  # (B, N_p, D)
        got_c = self.attn_c(query_c.view(b, 1, -1), mask=mask_c, kv=kv_c).squeeze(1)  # (B, D)
        fused_p, gate_p = self.fuse_p(perceptual, got_p)
        fused_c, gate_c = self.fuse_c(cognitive, got_c)
        if self.recurrent is not None:   # the summary after every valid entry
            summary = self.recurrent(bank_p, bank_c, bank_valid,
                                     bank_valid.sum(1, keepdim=True)).squeeze(1)
            fused_c, got_c = fused_c + summary, got_c + summary
        info = {'gate_p': gate_p.detach(), 'gate_c': gate_c.detach(),
                'retrieved_p': got_p, 'retrieved_c': got_c}
        return fused_p, fused_c, info

    def _queries(self, perceptual: torch.Tensor, cognitive: torch.Tensor, now: torch.Tensor
                 ) -> tuple[torch.Tensor, torch.Tensor]:
        """Queries with the current time's encoding: (..., N_p, D), (..., D); now (...,)."""
        t_now = self.tpe(now)  # (..., D)
        return (self.norm_pq(perceptual) + t_now.unsqueeze(-2),
                self.norm_cq(cognitive) + t_now)

    def _bank_keys(self, bank_p: torch.Tensor, bank_c: torch.Tensor, bank_t: torch.Tensor,
                   bank_valid: torch.Tensor) -> tuple[tuple, tuple]:
        """Projected keys/values of the stored entries, with the null entry first.

        Returns ((kv_p, mask_p), (kv_c, mask_c)): kv_* are CrossAttention.project_kv
        outputs over 1 + M * N_p perceptual / 1 + M cognitive keys; masks (B, 1 + ...)."""
        b, m = bank_t.shape
        d = bank_c.shape[-1]
        t_bank = self.tpe(bank_t)  # (B, M, D)
        ones = torch.ones(b, 1, dtype=torch.bool, device=bank_valid.device)
        # perceptual stream: each current token attends over every stored token
        keys_p = (self.norm_pk(bank_p) + t_bank.unsqueeze(2)).reshape(b, m * self.n_p, d)
        keys_p = torch.cat([self.null_p.expand(b, 1, d), keys_p], 1)  # (B, 1 + M*N_p, D)
        mask_p = torch.cat([ones, bank_valid.repeat_interleave(self.n_p, 1)], 1)
        # cognitive stream: the summary token attends over stored summaries
        keys_c = torch.cat([self.null_c.expand(b, 1, d), self.norm_ck(bank_c) + t_bank], 1)
        mask_c = torch.cat([ones, bank_valid], 1)  # (B, 1 + M)
        return ((self.attn_p.project_kv(keys_p), mask_p),
                (self.attn_c.project_kv(keys_c), mask_c))

    def retrieve_batched(self, perceptual: torch.Tensor, cognitive: torch.Tensor,
                         now: torch.Tensor, key_p: torch.Tensor, key_c: torch.Tensor,
                         key_t: torch.Tensor, key_valid: torch.Tensor,
                         retrieved: dict[str, torch.Tensor] | None = None
                         ) -> tuple[torch.Tensor, torch.Tensor]:
        """Training view: Q query steps per episode over the episode's keyframes.

        perceptual (B, Q, N_p, D), cognitive (B, Q, D), now (B, Q); keyframes key_p
        (B, M, N_p, D), key_c (B, M, D), key_t (B, M), key_valid (B, M). A query at step t
        sees keyframes with time < t only (causal), as the step-by-step bank does.
        Returns fused perceptual (B, Q, N_p, D) and cognitive (B, Q, D); `retrieved`, when
        given, receives what was read before fusion ('retrieved_p', 'retrieved_c'), as
        `forward`'s diagnostics carry it.
        """
        b, q = now.shape
        n_p = self.n_p
        causal = key_valid.unsqueeze(1) & (key_t.unsqueeze(1) < now.unsqueeze(2))  # (B, Q, M)
        # keys and values once per episode; each query masks out its future keyframes
        (kv_p, _), (kv_c, _) = self._bank_keys(key_p, key_c, key_t, key_valid)
        null = torch.ones(b, q, 1, dtype=torch.bool, device=causal.device)
        mask_c = torch.cat([null, causal], 2)  # (B, Q, 1 + M)
        mask_p = torch.cat([null, causal.repeat_interleave(n_p, 2)], 2)  # (B, Q, 1 + M*N_p)
        mask_p = mask_p.repeat_interleave(n_p, 1)  # (B, Q*N_p, 1 + M*N_p): one row per token
        query_p, query_c = self._queries(perceptual, cognitive, now)  # (B,Q,N_p,D), (B,Q,D)
        d = query_c.shape[-1]
        got_p = self.attn_p(query_p.reshape(b, q * n_p, d), mask=mask_p, kv=kv_p)
        got_c = self.attn_c(query_c, mask=mask_c, kv=kv_c)  # (B, Q, D)
        got_p = got_p.view(b, q, n_p, d)
        fused_p, _ = self.fuse_p(perceptual, got_p)
        fused_c, _ = self.fuse_c(cognitive, got_c)
        if self.recurrent is not None:   # keyframes are in time order: the causal ones lead
            summary = self.recurrent(key_p, key_c, key_valid, causal.sum(2))  # (B, Q, D)
            fused_c, got_c = fused_c + summary, got_c + summary
        if retrieved is not None:
            retrieved.update(retrieved_p=got_p, retrieved_c=got_c)
        return fused_p, fused_c


class MemoryBank:
    """Per-episode store of past working memories (B episodes in lock step), with capacity.

    Buffers hold capacity + 1 slots so that a write can land before consolidation brings
    the bank back to `capacity`; retrieval always reads the first `capacity` slots with a
    validity mask, so shapes never change (CUDA-graph friendly).
    """

    def __init__(self, capacity: int, tokens: int, width: int, batch: int = 1,
                 device: torch.device | str = 'cpu', dtype: torch.dtype = torch.float32,
                 objects: tuple[int, int] | None = None) -> None:
        if capacity < 2:
            raise ValueError(f'capacity={capacity}: must be at least 2')
        if objects is not None and (len(objects) != 2 or min(objects) < 1):
            raise ValueError(f'objects={objects!r}: expected (slots, features), both >= 1')
        self.capacity, self.tokens, self.width, self.batch = capacity, tokens, width, batch
        slots = capacity + 1
        self.perceptual = torch.zeros(batch, slots, tokens, width, device=device, dtype=dtype)
        self.cognitive = torch.zeros(batch, slots, width, device=device, dtype=dtype)
        self.times = torch.zeros(batch, slots, device=device, dtype=torch.float32)
        self.counts = torch.zeros(batch, slots, device=device, dtype=torch.float32)
        self.valid = torch.zeros(batch, slots, device=device, dtype=torch.bool)
        # each entry's raw object slots (B, capacity + 1, K, D_OBJ), or None
        self.objects = (None if objects is None else
                        torch.zeros(batch, slots, *objects, device=device, dtype=torch.float32))
        self.size = 0
        self.consolidations = 0

    def _buffers(self) -> tuple[torch.Tensor, ...]:
        """The per-entry float buffers (not `valid`): one place lists them for every
        operation that treats all entries' contents alike."""
        extra = () if self.objects is None else (self.objects,)
        return (self.perceptual, self.cognitive, self.times, self.counts, *extra)

    def reset(self) -> None:
        """Forget everything (start of an episode, or memory-off mode every step)."""
        for buf in self._buffers():
            buf.zero_()
        self.valid.zero_()
        self.size = 0
        self.consolidations = 0

    def __len__(self) -> int:
        return self.size

    def forget_rows(self, rows: torch.Tensor | list[int]) -> None:
        """Forget every entry of the given episodes (rows) and keep the others' entries.

        The evaluation's "wipe at the delay" ablation. The slots stay allocated (the bank
        is lock-step: one size for all rows) but are invalid, so retrieval never sees them
        and consolidation never merges them into a valid entry.
        """
        index = torch.as_tensor(rows, dtype=torch.long, device=self.valid.device)
        if index.numel() and (index.min() < 0 or index.max() >= self.batch):
            raise ValueError(f'rows={index.tolist()}: this bank has {self.batch} rows')
        for buf in self._buffers():
            buf[index] = 0
        self.valid[index] = False

    def permute_rows(self, order: torch.Tensor | list[int]) -> None:
        """Give row i the entries of row order[i] (the "shuffle between episodes" ablation)."""
        index = torch.as_tensor(order, dtype=torch.long, device=self.valid.device)
        if sorted(index.tolist()) != list(range(self.batch)):
            raise ValueError(f'order={index.tolist()}: not a permutation of {self.batch} rows')
        for buf in (*self._buffers(), self.valid):
            buf.copy_(buf[index])  # in place: a captured CUDA graph keeps reading these

    def write(self, perceptual: torch.Tensor, cognitive: torch.Tensor, step: float,
              objects: torch.Tensor | None = None) -> None:
        """Store one entry per episode: perceptual (B, N_p, D), cognitive (B, D); with a bank
        made with `objects=(K, D_OBJ)`, the step's raw object slots (B, K, D_OBJ) too."""
        if objects is None and self.objects is not None:
            raise ValueError("objects: this bank keeps each entry's object slots; pass the "
                             "step's (B, K, D_OBJ)")
        if objects is not None and self.objects is None:
            raise ValueError('objects: this bank keeps no object slots (made without '
                             'objects=(K, D_OBJ))')
        if objects is not None and tuple(objects.shape) != (self.batch, *self.objects.shape[2:]):
            raise ValueError(f'objects shape {tuple(objects.shape)}: expected '
                             f'{(self.batch, *self.objects.shape[2:])}')
        if perceptual.shape != (self.batch, self.tokens, self.width):
            raise ValueError(f'perceptual shape {tuple(perceptual.shape)}: expected '
                             f'{(self.batch, self.tokens, self.width)}')
        if cognitive.shape != (self.batch, self.width):
            raise ValueError(f'cognitive shape {tuple(cognitive.shape)}: expected '
                             f'{(self.batch, self.width)}')
        i = self.size
        self.perceptual[:, i] = perceptual.detach()
        self.cognitive[:, i] = cognitive.detach()
        self.times[:, i] = float(step)
        self.counts[:, i] = 1.0
        self.valid[:, i] = True
        if objects is not None:
            self.objects[:, i] = objects.detach().float()
        self.size += 1
        if self.size > self.capacity:
            self.consolidate()

    def entries(self) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
        """Fixed-shape views for retrieval: (B, C, N_p, D), (B, C, D), (B, C), (B, C)."""
        c = self.capacity
        return (self.perceptual[:, :c], self.cognitive[:, :c], self.times[:, :c],
                self.valid[:, :c])

    def object_entries(self) -> torch.Tensor:
        """The stored object slots (B, C, K, D_OBJ), a fixed-shape view like `entries`."""
        if self.objects is None:
            raise ValueError('object_entries: this bank keeps no object slots (make it with '
                             'objects=(K, D_OBJ))')
        return self.objects[:, :self.capacity]

    @torch.no_grad()
    def adjacent_similarity(self) -> torch.Tensor:
        """Cosine similarity of each entry with the next one: (B, size - 1)."""
        n = self.size
        feats = torch.cat([F.normalize(self.cognitive[:, :n].float(), dim=-1),
                           F.normalize(self.perceptual[:, :n].float().mean(2), dim=-1)], -1)
        return F.cosine_similarity(feats[:, :-1], feats[:, 1:], dim=-1)

    @torch.no_grad()
    def consolidate(self) -> None:
        """Merge the most similar adjacent pair of each episode's bank into one entry."""
        n = self.size
        if n < 2:
            return
        j = self.adjacent_similarity().argmax(1)  # (B,) first index of the pair to merge
        rows = torch.arange(self.batch, device=j.device)
        w_a, w_b = self.counts[rows, j], self.counts[rows, j + 1]  # (B,)
        total = w_a + w_b

        def merge(buf: torch.Tensor) -> torch.Tensor:
            shape = (-1,) + (1,) * (buf.dim() - 2)
            a, b = buf[rows, j].float(), buf[rows, j + 1].float()
            weight = total.clamp_min(1e-6).view(shape)  # two forgotten entries weigh 0
            return ((a * w_a.view(shape) + b * w_b.view(shape)) / weight).to(buf)

        merged_valid = self.valid[rows, j] | self.valid[rows, j + 1]
        merged = [merge(self.perceptual), merge(self.cognitive), merge(self.times), total]
        if self.objects is not None:   # in _buffers() order
            merged.append(self._merge_objects(rows, j, w_a, w_b))
        src = torch.arange(n - 1, device=j.device).expand(self.batch, -1)  # (B, n-1)
        src = torch.where(src > j.unsqueeze(1), src + 1, src)  # skip slot j+1

        def gather(buf: torch.Tensor) -> torch.Tensor:
            idx = src.view(self.batch, n - 1, *([1] * (buf.dim() - 2))).expand(
                -1, -1, *buf.shape[2:])
            return torch.gather(buf[:, :n], 1, idx)

        for buf, value in zip((*self._buffers(), self.valid), (*merged, merged_valid)):
            kept = gather(buf)
            kept[rows, j] = value
            buf[:, :n - 1] = kept
            buf[:, n - 1:] = 0
        self.valid[:, n - 1:] = False
        self.size = n - 1
        self.consolidations += 1

    def _merge_objects(self, rows: torch.Tensor, j: torch.Tensor, w_a: torch.Tensor,
                       w_b: torch.Tensor) -> torch.Tensor:
        """Entries j and j + 1's object slots merged (B, K, D_OBJ): each slot the count-
        weighted mean over the entries where it is visible (a slot seen in neither keeps
        the newer entry's features)."""
        a, b = self.objects[rows, j], self.objects[rows, j + 1]  # (B, K, D_OBJ)
        seen_a = (a[..., VISIBLE] > 0.5).float() * w_a[:, None]  # (B, K)
        seen_b = (b[..., VISIBLE] > 0.5).float() * w_b[:, None]
        total = (seen_a + seen_b).unsqueeze(-1)
        mean = (a * seen_a.unsqueeze(-1) + b * seen_b.unsqueeze(-1)) / total.clamp_min(1e-6)
        return torch.where(total > 0, mean, b)

    def state_dict(self) -> dict[str, torch.Tensor]:
        """The bank's full state (tensors only: savable with safetensors)."""
        return {'perceptual': self.perceptual.clone(), 'cognitive': self.cognitive.clone(),
                'times': self.times.clone(), 'counts': self.counts.clone(),
                'valid': self.valid.clone(),
                **({} if self.objects is None else {'objects': self.objects.clone()}),
                'size': torch.tensor(self.size), 'capacity': torch.tensor(self.capacity),
                'consolidations': torch.tensor(self.consolidations)}

    def load_state_dict(self, state: dict[str, torch.Tensor]) -> None:
        if int(state['capacity']) != self.capacity:
            raise ValueError(f'bank state capacity={int(state["capacity"])}: this bank has '
                             f'capacity={self.capacity}')
        names = ['perceptual', 'cognitive', 'times', 'counts', 'valid']
        if self.objects is not None:
            if 'objects' not in state:
                raise ValueError("bank state: no 'objects'; this bank keeps each entry's "
                                 'object slots')
            names.append('objects')
        for name in names:
            buf = getattr(self, name)
            if tuple(state[name].shape) != tuple(buf.shape):
                raise ValueError(f'bank state {name} shape {tuple(state[name].shape)}: '
                                 f'expected {tuple(buf.shape)}')
            buf.copy_(state[name])
        self.size = int(state['size'])
        self.consolidations = int(state['consolidations'])
