"""Noise schedules and sampling of action chunks, from diffusers.

Training adds noise with diffusers' `DDPMScheduler` (squared-cosine betas, 100 steps by
default). Inference uses diffusers' `DDIMScheduler` (10 steps by default) or
`DPMSolverMultistepScheduler` (DPM-Solver++). For DDIM there is also a fixed-coefficient
loop, `sample_ddim_fast`, with the same arithmetic as `DDIMScheduler.step` (eta = 0, clipped
x0) but with every coefficient precomputed as a tensor: no Python scalars change between
calls, so the whole loop can be captured in a CUDA graph. tests/models/test_diffusion.py
checks it against diffusers step by step.
"""

from __future__ import annotations

from typing import Callable

from diffusers import DDIMScheduler, DDPMScheduler, DPMSolverMultistepScheduler
import torch

from models.config import DiffusionConfig

DenoiseFn = Callable[[torch.Tensor, torch.Tensor], torch.Tensor]


class ActionDiffusion:
    """DDPM training noise + DDIM / DPM-Solver sampling of (B, horizon, action_dim) chunks."""

    def __init__(self, cfg: DiffusionConfig) -> None:
        self.cfg = cfg
        common = dict(num_train_timesteps=cfg.train_timesteps, beta_schedule=cfg.beta_schedule,
                      prediction_type=cfg.prediction_type)
        self.train_scheduler = DDPMScheduler(clip_sample=True, **common)
        if cfg.scheduler == 'ddim':
            self.infer_scheduler = DDIMScheduler(clip_sample=True, set_alpha_to_one=True,
                                                 **common)
        else:
            self.infer_scheduler = DPMSolverMultistepScheduler(algorithm_type='dpmsolver++',
                                                               **common)
        self.infer_scheduler.set_timesteps(cfg.inference_steps)
        self._fast: dict[torch.device, tuple[torch.Tensor, ...]] = {}

    # -- training ------------------------------------------------------------------------
    def noisy_targets(self, actions: torch.Tensor, generator: torch.Generator | None = None
                      ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """actions (B, H, A) normalised -> (noisy actions, timesteps (B,), training target)."""
        noise = torch.randn(actions.shape, generator=generator, device=actions.device)
        t = torch.randint(0, self.cfg.train_timesteps, (actions.shape[0],),
                          generator=generator, device=actions.device)
        noisy = self.train_scheduler.add_noise(actions, noise, t)
        target = noise if self.cfg.prediction_type == 'epsilon' else actions
        return noisy, t, target

    # -- inference -----------------------------------------------------------------------
    @torch.no_grad()
    def sample(self, denoise: DenoiseFn, noise: torch.Tensor) -> torch.Tensor:
        """Run the diffusers inference scheduler from `noise` (B, H, A); returns x0."""
        sched = self.infer_scheduler
        sched.set_timesteps(self.cfg.inference_steps, device=noise.device)
        x = noise
        for t in sched.timesteps:
            steps = t.expand(x.shape[0]).to(noise.device)
            x = sched.step(denoise(x, steps), t, x).prev_sample
        return x

    def _ddim_coefficients(self, device: torch.device) -> tuple[torch.Tensor, ...]:
        if device not in self._fast:
            sched = self.infer_scheduler
            if not isinstance(sched, DDIMScheduler):
                raise ValueError(f'scheduler={self.cfg.scheduler!r}: the fast loop is DDIM only')
            sched.set_timesteps(self.cfg.inference_steps)
            stride = self.cfg.train_timesteps // self.cfg.inference_steps
            ts = sched.timesteps.long()
            a_t = sched.alphas_cumprod[ts]
            prev = ts - stride
            a_prev = torch.where(prev >= 0, sched.alphas_cumprod[prev.clamp(min=0)],
                                 sched.final_alpha_cumprod.expand_as(a_t))
            self._fast[device] = tuple(v.to(device=device, dtype=torch.float32) for v in (
                ts.float(), a_t.sqrt(), (1 - a_t).sqrt(), a_prev.sqrt(), (1 - a_prev).sqrt()))
        return self._fast[device]

    def sample_ddim_fast(self, denoise: DenoiseFn, noise: torch.Tensor) -> torch.Tensor:
        """DDIM (eta = 0, x0 clipped to [-1, 1]) with precomputed tensor coefficients."""
        ts, sa, sb, sa_prev, sb_prev = self._ddim_coefficients(noise.device)
        x = noise
        b = x.shape[0]
        for i in range(ts.shape[0]):
            out = denoise(x, ts[i].expand(b))
            if self.cfg.prediction_type == 'epsilon':
                x0 = (x - sb[i] * out) / sa[i]
                eps = out
            else:
                x0 = out
                eps = (x - sa[i] * out) / sb[i]
            x0 = x0.clamp(-1.0, 1.0)
            x = sa_prev[i] * x0 + sb_prev[i] * eps
        return x
