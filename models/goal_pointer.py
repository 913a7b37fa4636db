"""Goal pointer: which object slot the remembered answer designates, as a conditioning token.

A memory task's answer is an object (the cup that hides the ball, the cube of the cue's
colour). The denoiser alone must learn to turn a remembered cue into a target position, a
comparison across object slots that a few hundred demonstrations did not teach it (remember
colour stayed at chance). The pointer makes the comparison explicit, as a pointer network
does: a query from memory (below) is matched by dot product against a
key per currently visible object slot (its features: colour, class, position, ... plus a
learned slot embedding, so a slot's identity counts too); the softmax weights point at a
slot, and the weighted key and the weighted object position become one extra conditioning
token. Trained by the denoiser's loss and, with ``TrainConfig.pointer_loss_weight``, by a
cross-entropy on the slot the demonstration grasped (``models.episodes.goal_slot``).

Where the query comes from (``MemoryConfig.pointer_query``) matters. From the fused tokens
('fused') it also sees the current frame, and in demonstrations the arm starts toward the
answer one or two steps into the act phase: a pointer trained there learns to read the arm's
heading (replaying held-out remember-colour demonstrations it was right at 75 % of the first
act steps, 100 % from the third on). From the retrieval's read-out of the bank only
('retrieved') the current frame can steer which entries are read but not what they say:
97.5 % at the first act step. In closed loop the larger effect was elsewhere: a chunk
predicted in the delay, before the candidates appear, was run for 8 steps; re-planning every
2 steps (``DiffusionConfig.replan_every``) took remember colour from 38 % to 92 % (50
protocol episodes; the fused-query checkpoint re-planned so got 19 of 20).

Some answers are places no object marks any more: put back's start, where the cube stood
before it was moved. With ``MemoryConfig.bank_pointer`` the pointer's keys also include the
object slots stored with each bank entry (``MemoryBank(objects=...)``), each with its entry's
time encoding and a learned "stored" offset; pointing at the cube as an early entry saw it
hands the denoiser that stored position, exactly as the camera measured it, instead of a
position the network would have to regress from fused tokens. Stored keys start with a
logit offset of ``STORED_LOGIT_OFFSET`` (learned), so growing them onto a trained pointer
leaves it pointing where it did until training says otherwise.
"""

from __future__ import annotations

import math

import torch
from torch import nn

VISIBLE = 0  # index of the visible flag in an object's features
POSITION = slice(1, 4)  # x, y, z
STORED_LOGIT_OFFSET = -8.0  # a stored slot's initial logit offset (softmax weight ~3e-4)


class GoalPointer(nn.Module):
    """Conditioning tokens + the step's object slots -> a goal token and slot logits."""

    def __init__(self, width: int, object_dim: int, slots: int, stored: bool = False) -> None:
        super().__init__()
        self.query = nn.Sequential(nn.LayerNorm(width), nn.Linear(width, width))
        self.key = nn.Sequential(nn.Linear(object_dim, width), nn.GELU(),
                                 nn.Linear(width, width))
        self.slot = nn.Parameter(torch.randn(slots, width) * 0.02)
        self.out = nn.Sequential(nn.Linear(width + 3, width), nn.GELU(),
                                 nn.Linear(width, width))
        self.scale = 1.0 / math.sqrt(width)
        self.stored = stored
        if stored:   # keys of the bank's stored slots (MemoryConfig.bank_pointer)
            self.when = nn.Linear(width, width)  # the entry's time encoding -> key offset
            self.stored_key = nn.Parameter(torch.zeros(width))
            self.stored_logit = nn.Parameter(torch.tensor(STORED_LOGIT_OFFSET))

    def forward(self, cond: torch.Tensor, objects: torch.Tensor, visible: torch.Tensor,
                stored: tuple[torch.Tensor, torch.Tensor, torch.Tensor] | None = None
                ) -> tuple[torch.Tensor, torch.Tensor]:
        """cond (N, T, D) the query's source tokens; objects (N, K, D_OBJ) normalised features;
        visible (N, K) bool; stored (with ``stored=True``): the bank's slots (N, M, K, D_OBJ)
        normalised, whether each may be pointed at (N, M, K) bool, and each entry's time
        encoding (N, M, D). -> goal token (N, D), logits (N, K) or (N, K + M * K), the
        current slots first, then entry by entry (hidden slots at -1e4).

        A step with no visible slot gets zero weights everywhere (its token then carries
        no position), not a uniform average of hidden slots."""
        if self.stored and stored is None:
            raise ValueError("stored: this pointer also points at the bank's stored object "
                             'slots; pass them')
        q = self.query(cond.mean(1))  # (N, D)
        k = self.key(objects) + self.slot  # (N, K, D)
        logits = torch.einsum('nd,nkd->nk', q, k) * self.scale
        if self.stored:
            s_objects, s_visible, s_time = stored
            n, m, slots = s_visible.shape
            s_keys = (self.key(s_objects) + self.slot + self.when(s_time).unsqueeze(2)
                      + self.stored_key).reshape(n, m * slots, -1)  # (N, M*K, D)
            s_logits = torch.einsum('nd,nkd->nk', q, s_keys) * self.scale + self.stored_logit
            k = torch.cat([k, s_keys], 1)
            logits = torch.cat([logits, s_logits], 1)
            visible = torch.cat([visible, s_visible.reshape(n, m * slots)], 1)
            objects = torch.cat([objects, s_objects.reshape(n, m * slots, -1)], 1)
        logits = logits.masked_fill(~visible, -1e4)  # finite: an all-hidden row stays NaN-free
        weights = self.weights(logits, visible)  # (N, K)
        pointed = torch.einsum('nk,nkd->nd', weights, k)
        position = torch.einsum('nk,nkc->nc', weights, objects[..., POSITION])
        return self.out(torch.cat([pointed, position], -1)), logits

    @staticmethod
    def weights(logits: torch.Tensor, visible: torch.Tensor) -> torch.Tensor:
        """The pointing weights from `forward`'s logits (N, K') and which slots may be
        pointed at (N, K') bool: softmax over the visible slots, all zero without one."""
        return logits.softmax(-1) * visible.to(logits.dtype)


def watch_logits(net: nn.Module, sink) -> object:
    """For diagnostics (scripts/probe_pointer.py, scripts/replay_policy_inputs.py): wrap
    ``net.point`` (``MemoryDiffusionNet.point``) so that every call hands its slot logits
    (B, K, or K + M*K with the bank pointer; None without a pointer) to ``sink``; -> the
    original method, to assign back to ``net.point`` when done."""
    point = net.point

    def watched(*args, **kwargs):
        out = point(*args, **kwargs)
        sink(out[1])
        return out

    net.point = watched
    return point
