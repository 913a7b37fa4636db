"""Denoisers of the diffusion action expert: noisy chunk + step + memory tokens -> output.

- `TransformerDenoiser(mode='adaln')`: the memory-augmented tokens are flattened into one
  conditioning vector that modulates every block through adaLN-Zero (DiT), i.e. FiLM-style
  scale / shift / gate; the action tokens only self-attend.
- `TransformerDenoiser(mode='xattn')`: the same blocks, the diffusion step still modulates
  them, but the memory tokens enter only by cross-attention from the action tokens.
- `ConditionalUnet1D`: the 1-D temporal U-Net of Diffusion Policy (Chi et al.), FiLM-
  conditioned on the diffusion step and the flattened memory tokens: the baseline.

All take x (B, H, A) noisy actions, timestep (B,) and cond (B, L, D) tokens, and return
(B, H, A). A transformer built with ``point_residual`` (``MemoryConfig.point_residual``)
reads cond's last token as the goal pointer's pointed position (`PointResidual`), not as
a memory token.
"""

from __future__ import annotations

import torch
from torch import nn

from models.config import DenoiserConfig
from models.encoders import CrossAttention, SelfAttention
from models.memory_bank import sinusoid


class StepEmbedding(nn.Module):
    """Diffusion-step embedding: sinusoid then MLP."""

    def __init__(self, width: int) -> None:
        super().__init__()
        self.width = width
        self.mlp = nn.Sequential(nn.Linear(width, 2 * width), nn.SiLU(),
                                 nn.Linear(2 * width, width))

    def forward(self, t: torch.Tensor) -> torch.Tensor:
        return self.mlp(sinusoid(t, self.width, 10000.0))


def modulate(x: torch.Tensor, shift: torch.Tensor, scale: torch.Tensor) -> torch.Tensor:
    return x * (1.0 + scale.unsqueeze(1)) + shift.unsqueeze(1)


class DenoiserBlock(nn.Module):
    """Self-attention (+ optional cross-attention) + MLP, adaLN-Zero modulated by a vector."""

    def __init__(self, width: int, heads: int, mlp_ratio: int, dropout: float,
                 cross: bool) -> None:
        super().__init__()
        self.norm1 = nn.LayerNorm(width, elementwise_affine=False)
        self.attn = SelfAttention(width, heads, dropout)
        self.cross = cross
        if cross:
            self.norm_x = nn.LayerNorm(width)
            self.norm_ctx = nn.LayerNorm(width)
            self.xattn = CrossAttention(width, heads)
        self.norm2 = nn.LayerNorm(width, elementwise_affine=False)
        self.mlp = nn.Sequential(nn.Linear(width, mlp_ratio * width), nn.GELU(),
                                 nn.Dropout(dropout), nn.Linear(mlp_ratio * width, width))
        self.ada = nn.Sequential(nn.SiLU(), nn.Linear(width, 6 * width))
        nn.init.zeros_(self.ada[1].weight)
        nn.init.zeros_(self.ada[1].bias)

    def forward(self, x: torch.Tensor, vec: torch.Tensor,
                kv: tuple[torch.Tensor, torch.Tensor] | None) -> torch.Tensor:
        """x (B, H, D) action tokens, vec (B, D) modulation vector, kv: this block's
        projected memory tokens (cross-attention mode)."""
        s1, c1, g1, s2, c2, g2 = self.ada(vec).chunk(6, -1)  # each (B, D)
        x = x + g1.unsqueeze(1) * self.attn(modulate(self.norm1(x), s1, c1))
        if self.cross:
            x = x + self.xattn(self.norm_x(x), kv=kv)
        return x + g2.unsqueeze(1) * self.mlp(modulate(self.norm2(x), s2, c2))


# the point token's leading channels: the pointed x, y, z in normalised action units and
# the pointer's total weight (1 when it points at something, 0 when nothing is visible)
POINT_FEATURES = 4


class PointResidual(nn.Module):
    """The pointed position given to the denoiser at full resolution.

    It is added (projected) to every action token, and added to the predicted clean chunk's
    x, y, z through a gate per action step and axis read from the denoiser's last hidden
    state: where the chunk should end at the pointed object the gate goes to 1 and the
    network predicts only the offset. Both layers start at zero, so growing it onto a
    trained denoiser leaves its output unchanged until training moves them."""

    def __init__(self, width: int) -> None:
        super().__init__()
        self.inp = nn.Linear(POINT_FEATURES, width)
        self.gate = nn.Linear(width, 3)
        for layer in (self.inp, self.gate):
            nn.init.zeros_(layer.weight)
            nn.init.zeros_(layer.bias)

    def tokens(self, point: torch.Tensor) -> torch.Tensor:
        """point (B, POINT_FEATURES) -> (B, 1, D), added to the action tokens."""
        return self.inp(point).unsqueeze(1)

    def output(self, out: torch.Tensor, hidden: torch.Tensor, point: torch.Tensor
               ) -> torch.Tensor:
        """out (B, H, A) the denoiser's prediction, hidden (B, H, D) its last hidden state
        -> out with gate * pointed position added to x, y, z."""
        shifted = self.gate(hidden) * point[:, None, :3]  # (B, H, 3)
        return torch.cat([out[..., :3] + shifted, out[..., 3:]], -1)


class TransformerDenoiser(nn.Module):
    """Transformer over the H action tokens, conditioned by adaLN ('adaln') or x-attn."""

    def __init__(self, cfg: DenoiserConfig, action_dim: int, horizon: int, cond_tokens: int,
                 mode: str, point_residual: bool = False) -> None:
        super().__init__()
        if mode not in ('adaln', 'xattn'):
            raise ValueError(f"mode={mode!r}: must be 'adaln' or 'xattn'")
        d = cfg.width
        self.mode = mode
        self.point = PointResidual(d) if point_residual else None
        self.inp = nn.Linear(action_dim, d)
        self.pos = nn.Parameter(torch.randn(horizon, d) * 0.02)
        self.step_embed = StepEmbedding(d)
        if mode == 'adaln':  # flattened memory tokens -> one modulation vector
            self.cond = nn.Sequential(nn.Linear(cond_tokens * d, d), nn.SiLU(), nn.Linear(d, d))
        self.blocks = nn.ModuleList(
            DenoiserBlock(d, cfg.heads, cfg.mlp_ratio, cfg.dropout, cross=mode == 'xattn')
            for _ in range(cfg.layers))
        self.norm_out = nn.LayerNorm(d, elementwise_affine=False)
        self.ada_out = nn.Sequential(nn.SiLU(), nn.Linear(d, 2 * d))
        self.out = nn.Linear(d, action_dim)
        for layer in (self.ada_out[1], self.out):
            nn.init.zeros_(layer.weight)
            nn.init.zeros_(layer.bias)

    def prepare(self, cond: torch.Tensor) -> dict[str, object]:
        """The conditioning work done once per chunk, not once per denoising step."""
        prepared: dict[str, object] = {}
        if self.point is not None:   # the last token is the pointed position
            prepared['point'] = cond[:, -1, :POINT_FEATURES]
            cond = cond[:, :-1]
        if self.mode == 'adaln':
            prepared['vec'] = self.cond(cond.flatten(1))  # (B, L*D) -> (B, D)
        else:
            prepared['kv'] = [blk.xattn.project_kv(blk.norm_ctx(cond)) for blk in self.blocks]
        return prepared

    def step(self, x: torch.Tensor, timestep: torch.Tensor,
             prepared: dict[str, object]) -> torch.Tensor:
        """One denoiser evaluation: x (B, H, A), timestep (B,) -> (B, H, A)."""
        vec = self.step_embed(timestep)  # (B, D)
        if self.mode == 'adaln':
            vec = vec + prepared['vec']
        kvs = prepared.get('kv') or [None] * len(self.blocks)
        h = self.inp(x) + self.pos  # (B, H, D)
        if self.point is not None:
            h = h + self.point.tokens(prepared['point'])
        for block, kv in zip(self.blocks, kvs):
            h = block(h, vec, kv)
        shift, scale = self.ada_out(vec).chunk(2, -1)
        h = modulate(self.norm_out(h), shift, scale)
        out = self.out(h)  # (B, H, A)
        if self.point is not None:
            out = self.point.output(out, h, prepared['point'])
        return out

    def forward(self, x: torch.Tensor, timestep: torch.Tensor,
                cond: torch.Tensor) -> torch.Tensor:
        return self.step(x, timestep, self.prepare(cond))


class ResidualBlock1D(nn.Module):
    """Diffusion Policy's ConditionalResidualBlock1D: two conv blocks, FiLM in between."""

    def __init__(self, c_in: int, c_out: int, cond_dim: int, kernel: int) -> None:
        super().__init__()
        groups = 8 if c_out % 8 == 0 else 1
        self.conv1 = nn.Sequential(nn.Conv1d(c_in, c_out, kernel, padding=kernel // 2),
                                   nn.GroupNorm(groups, c_out), nn.Mish())
        self.conv2 = nn.Sequential(nn.Conv1d(c_out, c_out, kernel, padding=kernel // 2),
                                   nn.GroupNorm(groups, c_out), nn.Mish())
        self.film = nn.Sequential(nn.Mish(), nn.Linear(cond_dim, 2 * c_out))
        self.skip = nn.Conv1d(c_in, c_out, 1) if c_in != c_out else nn.Identity()

    def forward(self, x: torch.Tensor, cond: torch.Tensor) -> torch.Tensor:
        h = self.conv1(x)  # (B, C, T)
        scale, bias = self.film(cond).unsqueeze(-1).chunk(2, 1)  # (B, C, 1) each
        h = self.conv2(scale * h + bias)
        return h + self.skip(x)


class ConditionalUnet1D(nn.Module):
    """Diffusion Policy's 1-D temporal U-Net with FiLM global conditioning."""

    def __init__(self, cfg: DenoiserConfig, action_dim: int, cond_tokens: int,
                 cond_width: int) -> None:
        super().__init__()
        dims = (action_dim, *cfg.unet_dims)
        step_dim = cfg.unet_dims[0]
        self.step_embed = StepEmbedding(step_dim)
        # the flattened memory tokens are projected once, then FiLM'd into every block
        self.cond = nn.Sequential(nn.Linear(cond_tokens * cond_width, cfg.unet_cond_dim),
                                  nn.Mish())
        cond_dim = step_dim + cfg.unet_cond_dim
        k = cfg.unet_kernel
        pairs = list(zip(dims[:-1], dims[1:]))
        self.down = nn.ModuleList()
        for i, (c_in, c_out) in enumerate(pairs):
            last = i == len(pairs) - 1
            self.down.append(nn.ModuleList([
                ResidualBlock1D(c_in, c_out, cond_dim, k),
                ResidualBlock1D(c_out, c_out, cond_dim, k),
                nn.Conv1d(c_out, c_out, 3, 2, 1) if not last else nn.Identity()]))
        mid = dims[-1]
        self.mid = nn.ModuleList([ResidualBlock1D(mid, mid, cond_dim, k),
                                  ResidualBlock1D(mid, mid, cond_dim, k)])
        self.up = nn.ModuleList()
        for c_in, c_out in reversed(pairs[1:]):
            self.up.append(nn.ModuleList([
                ResidualBlock1D(2 * c_out, c_in, cond_dim, k),
                ResidualBlock1D(c_in, c_in, cond_dim, k),
                nn.ConvTranspose1d(c_in, c_in, 4, 2, 1)]))
        self.final = nn.Sequential(
            nn.Conv1d(dims[1], dims[1], k, padding=k // 2),
            nn.GroupNorm(8 if dims[1] % 8 == 0 else 1, dims[1]), nn.Mish(),
            nn.Conv1d(dims[1], action_dim, 1))

    def prepare(self, cond: torch.Tensor) -> dict[str, object]:
        """The conditioning work done once per chunk, not once per denoising step."""
        return {'cond': self.cond(cond.flatten(1))}  # (B, unet_cond_dim)

    def step(self, x: torch.Tensor, timestep: torch.Tensor,
             prepared: dict[str, object]) -> torch.Tensor:
        g = torch.cat([self.step_embed(timestep), prepared['cond']], -1)  # (B, cond_dim)
        h = x.transpose(1, 2)  # (B, A, H)
        skips = []
        for res1, res2, down in self.down:
            h = res2(res1(h, g), g)
            skips.append(h)
            h = down(h)
        for block in self.mid:
            h = block(h, g)
        for res1, res2, up in self.up:
            h = torch.cat([h, skips.pop()], 1)
            h = up(res2(res1(h, g), g))
        return self.final(h).transpose(1, 2)  # (B, H, A)

    def forward(self, x: torch.Tensor, timestep: torch.Tensor,
                cond: torch.Tensor) -> torch.Tensor:
        return self.step(x, timestep, self.prepare(cond))


def build_denoiser(cfg: DenoiserConfig, action_dim: int, horizon: int, cond_tokens: int,
                   cond_width: int, point_residual: bool = False) -> nn.Module:
    """The configured denoiser; `cond_tokens` counts the memory tokens (with
    `point_residual`, cond carries one more: the point token, transformers only)."""
    if cfg.kind == 'unet':
        if point_residual:
            raise ValueError('point_residual=True: the 1-D U-Net has no point input; use a '
                             'transformer denoiser')
        return ConditionalUnet1D(cfg, action_dim, cond_tokens, cond_width)
    mode = 'adaln' if cfg.kind == 'transformer_adaln' else 'xattn'
    return TransformerDenoiser(cfg, action_dim, horizon, cond_tokens, mode, point_residual)
