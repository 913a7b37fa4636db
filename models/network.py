"""The policy network: encoders + memory retrieval/fusion + diffusion denoiser.

`MemoryDiffusionNet` is one nn.Module whose state dict (weights and the normaliser's
statistics) is the checkpoint. It has the batched training path (`compute_loss`: keyframes
and query steps of whole episodes at once) and the pieces the step-by-step policy calls
(`encode_steps`, `fuse`, `sample_actions`).
"""

from __future__ import annotations

from dataclasses import replace

import torch
from torch import nn
import torch.nn.functional as F

from models.config import PolicyConfig
from models.denoisers import POINT_FEATURES, build_denoiser
from models.diffusion import ActionDiffusion
from models.encoders import ObservationEncoder
from models.goal_pointer import POSITION, VISIBLE, GoalPointer
from models.memory_bank import MemoryRetrieval
from models.normalizer import MinMaxNormalizer

# a stored object slot marks a step's goal point when it stood this close (x, y): the
# perceived position's scatter, well inside put back's 3 cm tolerance
STORED_RADIUS_M = 0.025


def random_shift(images: torch.Tensor, pad: int, generator: torch.Generator | None = None
                 ) -> torch.Tensor:
    """Random-shift augmentation (DrQ / Diffusion Policy): pad by replication, random crop.

    images (N, C, H, W) -> (N, C, H, W)."""
    n, _, h, w = images.shape
    padded = F.pad(images, (pad, pad, pad, pad), mode='replicate')
    off = torch.randint(0, 2 * pad + 1, (n, 2), generator=generator, device=images.device)
    rows = off[:, :1] + torch.arange(h, device=images.device)  # (N, H)
    cols = off[:, 1:] + torch.arange(w, device=images.device)  # (N, W)
    idx = torch.arange(n, device=images.device)[:, None, None]
    out = padded.permute(0, 2, 3, 1)[idx, rows[:, :, None], cols[:, None, :]]  # (N, H, W, C)
    return out.permute(0, 3, 1, 2)


class MemoryDiffusionNet(nn.Module):
    """Observation encoder, PCMB retrieval + gate fusion, and the diffusion denoiser."""

    def __init__(self, cfg: PolicyConfig) -> None:
        super().__init__()
        self.cfg = cfg
        enc, diff = cfg.encoder, cfg.diffusion
        self.normalizer = MinMaxNormalizer({'action': diff.action_dim,
                                            'proprio': enc.proprio_dim,
                                            'objects': enc.object_dim})
        self.encoder = ObservationEncoder(enc)
        self.retrieval = (MemoryRetrieval(cfg.memory, enc.width, enc.perceptual_tokens)
                          if cfg.memory.enabled else None)
        self.pointer = (GoalPointer(enc.width, enc.object_dim, enc.object_slots,
                                    stored=cfg.memory.bank_pointer)
                        if cfg.memory.goal_pointer else None)
        # the memory tokens, then with memory.point_residual the point token
        self.memory_tokens = enc.perceptual_tokens + 1 + (self.pointer is not None)
        self.cond_tokens = self.memory_tokens + cfg.memory.point_residual
        self.denoiser = build_denoiser(cfg.denoiser, diff.action_dim, diff.horizon,
                                       self.memory_tokens, enc.width,
                                       cfg.memory.point_residual)
        self.diffusion = ActionDiffusion(diff)
        # the auxiliary goal head (training only; see TrainConfig.goal_loss_weight)
        self.goal_head = (nn.Sequential(nn.Linear(enc.width, enc.width), nn.GELU(),
                                        nn.Linear(enc.width, 3))
                          if cfg.train.goal_loss_weight > 0 else None)

    # -- encoding ------------------------------------------------------------------------
    def encode_steps(self, steps: dict[str, torch.Tensor], text: torch.Tensor,
                     augment: bool = False) -> tuple[torch.Tensor, torch.Tensor]:
        """Encode N steps: steps[cam] uint8 (N, H, W, C), proprio (N, P), objects
        (N, K, D_OBJ), phase (N,); text (N, text_dim). -> perceptual (N, N_p, D), cognitive
        (N, D)."""
        images = {}
        for cam in self.cfg.encoder.cameras:
            img = steps[cam].permute(0, 3, 1, 2).float() / 255.0  # (N, C, H, W)
            if augment and self.cfg.train.image_shift > 0:
                img = random_shift(img, self.cfg.train.image_shift)
            images[cam] = img
        proprio = self.normalizer.normalize('proprio', steps['proprio'].float())
        objects = self.normalizer.normalize('objects', steps['objects'].float())
        return self.encoder(images, proprio, objects, steps['phase'], text.float())

    def fuse(self, perceptual: torch.Tensor, cognitive: torch.Tensor, now: torch.Tensor,
             bank: tuple[torch.Tensor, ...] | None,
             objects: torch.Tensor | None = None,
             bank_objects: torch.Tensor | None = None) -> torch.Tensor:
        """Working memory (+ retrieval from `bank` entries) -> conditioning tokens
        (B, cond_tokens, D). bank = (perceptual, cognitive, times, valid) or None; objects
        (B, K, D_OBJ) the step's raw object slots (needed with a goal pointer);
        bank_objects (B, M, K, D_OBJ) the entries' raw object slots (needed with
        memory.bank_pointer: `MemoryBank.object_entries`)."""
        info: dict[str, torch.Tensor] = {}
        stored = None
        if self.retrieval is not None:
            if bank is None:
                raise ValueError('bank: this network has a memory bank; pass its entries')
            perceptual, cognitive, info = self.retrieval(perceptual, cognitive, now, *bank)
            if self.cfg.memory.bank_pointer:
                if bank_objects is None:
                    raise ValueError("bank_objects: this network's goal pointer also points "
                                     "at the bank's stored object slots; pass them")
                stored = (bank_objects, self.retrieval.tpe(bank[2]), bank[3])
        cond = torch.cat([perceptual, cognitive.unsqueeze(1)], 1)
        return self.point(cond, objects, info, stored)[0]

    def point(self, cond: torch.Tensor, objects: torch.Tensor | None,
              retrieved: dict[str, torch.Tensor] | None = None,
              stored: tuple[torch.Tensor, torch.Tensor, torch.Tensor] | None = None
              ) -> tuple[torch.Tensor, torch.Tensor | None]:
        """Append the goal pointer's token to the fused tokens (unchanged without a
        pointer), and with memory.point_residual the point token (`point_token`).
        cond (B, N_p + 1, D); objects (B, K, D_OBJ) raw; retrieved: the retrieval's
        'retrieved_p' (B, N_p, D) and 'retrieved_c' (B, D), the query's source with
        memory.pointer_query='retrieved'; stored (with memory.bank_pointer): the bank's raw
        object slots (B, M, K, D_OBJ), their entries' time encodings (B, M, D: the
        retrieval's `tpe` of their times) and which entries may be read (B, M) bool.
        -> (cond, slot logits)."""
        if self.pointer is None:
            return cond, None
        if objects is None:
            raise ValueError("objects: this network has a goal pointer; pass the step's "
                             'object slots')
        query = cond
        if self.cfg.memory.pointer_query == 'retrieved':
            if not retrieved:
                raise ValueError("retrieved: pointer_query='retrieved' needs the retrieval's "
                                 'read-out (retrieved_p, retrieved_c)')
            query = torch.cat([retrieved['retrieved_p'],
                               retrieved['retrieved_c'].unsqueeze(1)], 1)
        objects = objects.float()
        pointer_stored = None
        if stored is not None:
            s_objects, s_time, s_valid = stored
            s_objects = s_objects.float()
            pointer_stored = (self.normalizer.normalize('objects', s_objects),
                              (s_objects[..., VISIBLE] > 0.5) & s_valid.unsqueeze(-1),
                              s_time)
        visible = objects[..., VISIBLE] > 0.5
        token, logits = self.pointer(query, self.normalizer.normalize('objects', objects),
                                     visible, pointer_stored)
        tokens = [cond, token.unsqueeze(1)]
        if self.cfg.memory.point_residual:
            positions = objects[..., POSITION]  # (B, K, 3) metres
            if stored is not None:   # the stored slots follow the current ones
                positions = torch.cat([positions, s_objects[..., POSITION].flatten(1, 2)], 1)
                visible = torch.cat([visible, pointer_stored[1].flatten(1)], 1)
            tokens.append(self.point_token(GoalPointer.weights(logits, visible), positions))
        return torch.cat(tokens, 1), logits

    def point_token(self, weights: torch.Tensor, positions: torch.Tensor) -> torch.Tensor:
        """The point token (B, 1, D): the pointer's weighted position in normalised action
        units and its total weight (`models.denoisers.POINT_FEATURES`), zeros after.
        weights (B, K') the pointer's weights, positions (B, K', 3) the slots' x, y, z in
        metres (the action's frame). Nothing pointed at gives all zeros."""
        where = torch.einsum('bk,bkc->bc', weights, self.action_units(positions))
        point = torch.cat([where, weights.sum(-1, keepdim=True)], -1)  # (B, POINT_FEATURES)
        width = self.cfg.encoder.width
        return F.pad(point, (0, width - POINT_FEATURES)).unsqueeze(1)

    def action_units(self, xyz: torch.Tensor) -> torch.Tensor:
        """x, y, z in metres (..., 3) -> normalised action units (..., 3)."""
        padded = F.pad(xyz.float(), (0, self.cfg.diffusion.action_dim - 3))
        return self.normalizer.normalize('action', padded)[..., :3]

    # -- training ------------------------------------------------------------------------
    def compute_loss(self, batch: dict[str, torch.Tensor]) -> tuple[torch.Tensor, dict]:
        """Diffusion loss on a `SequenceBatcher` batch (all tensors on this module's device)."""
        b, q = batch['query_step'].shape
        m = batch['key_step'].shape[1]
        use_bank = self.retrieval is not None
        retrieved: dict[str, torch.Tensor] = {}
        names = [*self.cfg.encoder.cameras, 'proprio', 'objects', 'phase']
        steps = {}
        for name in names:
            parts = [batch[f'query_{name}'].flatten(0, 1)]  # (B*Q, ...)
            if use_bank:
                parts.append(batch[f'key_{name}'].flatten(0, 1))  # (B*M, ...)
            steps[name] = torch.cat(parts, 0)
        text = torch.cat([batch['text'].repeat_interleave(q, 0)]
                         + ([batch['text'].repeat_interleave(m, 0)] if use_bank else []), 0)
        perceptual, cognitive = self.encode_steps(steps, text, augment=self.training)
        p_q, c_q = perceptual[:b * q], cognitive[:b * q]  # queries first
        if use_bank:
            p_k = perceptual[b * q:].view(b, m, *perceptual.shape[1:])  # (B, M, N_p, D)
            c_k = cognitive[b * q:].view(b, m, -1)  # (B, M, D)
            fp, fc = self.retrieval.retrieve_batched(
                p_q.view(b, q, *p_q.shape[1:]), c_q.view(b, q, -1), batch['query_step'],
                p_k, c_k, batch['key_step'], batch['key_valid'], retrieved)
            cond = torch.cat([fp.flatten(0, 1), fc.flatten(0, 1).unsqueeze(1)], 1)
            retrieved = {k: v.flatten(0, 1) for k, v in retrieved.items()}
        else:
            cond = torch.cat([p_q, c_q.unsqueeze(1)], 1)  # (B*Q, N_p+1, D)
        stored = None
        if self.cfg.memory.bank_pointer:   # each query reads the keyframes before it
            stored = (batch['key_objects'].repeat_interleave(q, 0),
                      self.retrieval.tpe(batch['key_step']).repeat_interleave(q, 0),
                      self.causal_keys(batch).flatten(0, 1))
        cond, logits = self.point(cond, batch['query_objects'].flatten(0, 1), retrieved,
                                  stored)
        actions = self.normalizer.normalize('action', batch['actions'].flatten(0, 1).float())
        goal_loss = self._goal_loss(cond, batch) if self.goal_head is not None else None
        pointer_loss = (self._pointer_loss(logits, batch)
                        if self.cfg.train.pointer_loss_weight > 0 else None)
        draws = self.cfg.train.noise_draws  # several noise levels per chunk: cheap samples
        if draws > 1:
            cond = cond.repeat_interleave(draws, 0)  # (B*Q*draws, N_p+1, D)
            actions = actions.repeat_interleave(draws, 0)  # (B*Q*draws, H, A)
        noisy, t, target = self.diffusion.noisy_targets(actions)
        pred = self.denoiser(noisy, t, cond)
        loss = F.mse_loss(pred, target)
        logs = {'loss': float(loss.detach())}
        for name, extra, weight in (
                ('goal_loss', goal_loss, self.cfg.train.goal_loss_weight),
                ('pointer_loss', pointer_loss, self.cfg.train.pointer_loss_weight)):
            if extra is not None:
                logs.setdefault('diffusion_loss', logs['loss'])
                logs[name] = float(extra.detach())
                loss = loss + weight * extra
                logs['loss'] = float(loss.detach())
        return loss, logs

    def _pointer_loss(self, logits: torch.Tensor, batch: dict[str, torch.Tensor]
                      ) -> torch.Tensor:
        """Cross-entropy of the pointer on the target slot (the grasped one, or with
        'next_contact' targets the next contact's), at the query steps after the cue where
        that slot is visible (no object at the target: goal_slot -1, not scored). With
        memory.bank_pointer a step whose target no object marks is scored on the stored
        slots instead (`stored_targets`): -log of the weight on all of them together (the
        scene stood still for several entries; any of them holds the place)."""
        target, scored = self.pointer_targets(batch)
        hit = F.one_hot(target.clamp_min(0), logits.shape[1]).bool() & scored.unsqueeze(1)
        if self.cfg.memory.bank_pointer:
            unmarked = (batch['goal_slot'].flatten() < 0) & (batch['query_phase'].flatten() >= 1)
            hit[:, self.cfg.encoder.object_slots:] = (self.stored_targets(batch)
                                                      & unmarked.unsqueeze(1))
        use = hit.any(1)
        picked = logits.masked_fill(~hit, float('-inf')).logsumexp(1)
        loss = torch.where(use, logits.logsumexp(1) - picked, torch.zeros_like(picked))
        return loss.sum() / use.float().sum().clamp_min(1.0)

    @staticmethod
    def causal_keys(batch: dict[str, torch.Tensor]) -> torch.Tensor:
        """(B, Q, M): the keyframes each query step may read (valid, written before it)."""
        return batch['key_valid'].unsqueeze(1) & (batch['key_step'].unsqueeze(1)
                                                  < batch['query_step'].unsqueeze(2))

    @classmethod
    def stored_targets(cls, batch: dict[str, torch.Tensor], radius: float = STORED_RADIUS_M
                       ) -> torch.Tensor:
        """(B*Q, M*K) bool: the keyframes' object slots a query may read that stood within
        `radius` metres (x, y) of its goal point, visible: where the remembered place is."""
        goal = batch['goal'].float()[:, :, None, None, :2]  # (B, Q, 1, 1, 2)
        objects = batch['key_objects'].float()  # (B, M, K, D_OBJ)
        xy = objects[..., POSITION.start:POSITION.start + 2].unsqueeze(1)  # (B, 1, M, K, 2)
        near = torch.linalg.norm(xy - goal, dim=-1) <= radius  # (B, Q, M, K)
        seen = (objects[..., VISIBLE] > 0.5).unsqueeze(1)
        hit = near & seen & cls.causal_keys(batch).unsqueeze(-1)
        return hit.flatten(2).flatten(0, 1)

    @staticmethod
    def pointer_targets(batch: dict[str, torch.Tensor]) -> tuple[torch.Tensor, torch.Tensor]:
        """The pointer's target slot per query (B*Q,) (-1: none) and whether it is scored:
        a query step after the cue where the target slot is visible."""
        target = batch['goal_slot'].long().flatten()  # (B, Q) -> (B*Q,)
        objects = batch['query_objects'].flatten(0, 1)  # (B*Q, K, D_OBJ)
        rows = torch.arange(target.shape[0], device=target.device)
        seen = objects[rows, target.clamp_min(0), VISIBLE] > 0.5
        return target, (target >= 0) & seen & (batch['query_phase'].flatten() >= 1)

    def _goal_loss(self, cond: torch.Tensor, batch: dict[str, torch.Tensor]) -> torch.Tensor:
        """MSE of the goal head at the query steps after the cue (normalised units)."""
        target = self.action_units(batch['goal'].flatten(0, 1))  # (B, Q, 3) -> (B*Q, 3)
        after_cue = (batch['query_phase'].flatten() >= 1).float()  # (B*Q,)
        memory = cond[:, :self.memory_tokens]   # not the point token
        error = (self.goal_head(memory.mean(1)) - target).pow(2).mean(1)
        return (error * after_cue).sum() / after_cue.sum().clamp_min(1.0)

    # -- inference -----------------------------------------------------------------------
    def set_inference_steps(self, steps: int) -> None:
        """Sample with `steps` DDIM / DPM-Solver steps from now on (a deployment setting:
        the weights do not change; fewer steps are faster and coarser)."""
        diff = replace(self.cfg.diffusion, inference_steps=int(steps))  # validates the value
        self.cfg = replace(self.cfg, diffusion=diff)
        self.diffusion = ActionDiffusion(diff)

    @torch.no_grad()
    def sample_actions(self, cond: torch.Tensor, noise: torch.Tensor | None = None,
                       fast: bool = True) -> torch.Tensor:
        """cond (B, cond_tokens, D) from `fuse` -> action chunk (B, H, A) in world units."""
        diff = self.cfg.diffusion
        if noise is None:
            noise = torch.randn(cond.shape[0], diff.horizon, diff.action_dim,
                                device=cond.device, dtype=cond.dtype)

        prepared = self.denoiser.prepare(cond)

        def denoise(x: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
            return self.denoiser.step(x, t, prepared)

        if fast and diff.scheduler == 'ddim':
            x = self.diffusion.sample_ddim_fast(denoise, noise)
        else:
            x = self.diffusion.sample(denoise, noise)
        return self.normalizer.unnormalize('action', x.float())
