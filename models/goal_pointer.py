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
"""

from __future__ import annotations

import math

import torch
from torch import nn

VISIBLE = 0  # index of the visible flag in an object's features
POSITION = slice(1, 4)  # x, y, z


class GoalPointer(nn.Module):
    """Conditioning tokens + the step's object slots -> a goal token and slot logits."""

    def __init__(self, width: int, object_dim: int, slots: int) -> None:
        super().__init__()
        self.query = nn.Sequential(nn.LayerNorm(width), nn.Linear(width, width))
        self.key = nn.Sequential(nn.Linear(object_dim, width), nn.GELU(),
                                 nn.Linear(width, width))
        self.slot = nn.Parameter(torch.randn(slots, width) * 0.02)
        self.out = nn.Sequential(nn.Linear(width + 3, width), nn.GELU(),
                                 nn.Linear(width, width))
        self.scale = 1.0 / math.sqrt(width)

    def forward(self, cond: torch.Tensor, objects: torch.Tensor, visible: torch.Tensor
                ) -> tuple[torch.Tensor, torch.Tensor]:
        """cond (N, T, D) the query's source tokens; objects (N, K, D_OBJ) normalised features;
        visible (N, K) bool. -> goal token (N, D), logits (N, K) (hidden slots at -1e4).

        A step with no visible slot gets zero weights everywhere (its token then carries
        no position), not a uniform average of hidden slots."""
        q = self.query(cond.mean(1))  # (N, D)
        k = self.key(objects) + self.slot  # (N, K, D)
        logits = torch.einsum('nd,nkd->nk', q, k) * self.scale
        logits = logits.masked_fill(~visible, -1e4)  # finite: an all-hidden row stays NaN-free
        weights = logits.softmax(-1) * visible.to(logits.dtype)  # (N, K)
        pointed = torch.einsum('nk,nkd->nd', weights, k)
        position = torch.einsum('nk,nkc->nc', weights, objects[..., POSITION])
        return self.out(torch.cat([pointed, position], -1)), logits
