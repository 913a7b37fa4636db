"""Observation encoders: per-step perceptual tokens and the cognitive token.

- `VisionCNN`: a small CNN trained from scratch on the simulation images (colour, optionally
  with depth as a 4th channel), pooled to a few tokens per camera.
- `PretrainedVisionBackbone`: a user's own transformers vision model from a local folder
  (`EncoderConfig.pretrained_vision_path`), its patch features pooled to the same tokens.
- `ObservationEncoder`: vision + object + proprio/phase + instruction tokens, compressed by
  learned queries into N_p perceptual tokens (fine detail), plus one cognitive token: the
  instruction embedding attending over the step's tokens (an instruction-conditioned summary).
  The last perceptual token is the low-dimensional state (proprio, phase, all object slots)
  through an MLP, a direct path for exact positions. Together they are the working memory
  of one step.
"""

from __future__ import annotations

import math

import torch
from torch import nn
import torch.nn.functional as F

from models.config import NUM_PHASES, EncoderConfig


class CrossAttention(nn.Module):
    """Multi-head attention of queries over keys/values with an optional boolean mask."""

    def __init__(self, width: int, heads: int) -> None:
        super().__init__()
        self.heads = heads
        self.q = nn.Linear(width, width)
        self.kv = nn.Linear(width, 2 * width)
        self.out = nn.Linear(width, width)

    def project_kv(self, context: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """context (B, Lk, D) -> keys, values (B, h, Lk, D/h); reusable across queries."""
        b, lk, d = context.shape
        h = self.heads
        k, v = self.kv(context).view(b, lk, 2, h, d // h).permute(2, 0, 3, 1, 4)
        return k, v

    def forward(self, x: torch.Tensor, context: torch.Tensor | None = None,
                mask: torch.Tensor | None = None,
                kv: tuple[torch.Tensor, torch.Tensor] | None = None) -> torch.Tensor:
        """x (B, Lq, D), context (B, Lk, D) (or precomputed kv), mask (B, Lk) or per query
        (B, Lq, Lk), True = may attend."""
        b, lq, d = x.shape
        h = self.heads
        q = self.q(x).view(b, lq, h, d // h).transpose(1, 2)  # (B, h, Lq, d/h)
        k, v = kv if kv is not None else self.project_kv(context)  # (B, h, Lk, d/h)
        attn_mask = None
        if mask is not None:  # (B, 1, 1, Lk) or (B, 1, Lq, Lk), broadcast over heads
            attn_mask = mask[:, None, None, :] if mask.dim() == 2 else mask[:, None]
        y = F.scaled_dot_product_attention(q, k, v, attn_mask=attn_mask)  # (B, h, Lq, d/h)
        return self.out(y.transpose(1, 2).reshape(b, lq, d))


class SelfAttention(nn.Module):
    """Multi-head self-attention with one fused qkv projection (scaled_dot_product_attention)."""

    def __init__(self, width: int, heads: int, dropout: float = 0.0) -> None:
        super().__init__()
        self.heads = heads
        self.dropout = dropout
        self.qkv = nn.Linear(width, 3 * width)
        self.out = nn.Linear(width, width)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b, n, d = x.shape
        h = self.heads
        q, k, v = self.qkv(x).view(b, n, 3, h, d // h).permute(2, 0, 3, 1, 4)  # (B, h, n, d/h)
        y = F.scaled_dot_product_attention(q, k, v,
                                           dropout_p=self.dropout if self.training else 0.0)
        return self.out(y.transpose(1, 2).reshape(b, n, d))


class AttentionPool(nn.Module):
    """Pre-norm cross-attention block: queries gather from a token set, then an MLP."""

    def __init__(self, width: int, heads: int) -> None:
        super().__init__()
        self.norm_q = nn.LayerNorm(width)
        self.norm_kv = nn.LayerNorm(width)
        self.attn = CrossAttention(width, heads)
        self.norm_mlp = nn.LayerNorm(width)
        self.mlp = nn.Sequential(nn.Linear(width, 2 * width), nn.GELU(),
                                 nn.Linear(2 * width, width))

    def forward(self, queries: torch.Tensor, tokens: torch.Tensor) -> torch.Tensor:
        x = queries + self.attn(self.norm_q(queries), self.norm_kv(tokens))
        return x + self.mlp(self.norm_mlp(x))


class VisionCNN(nn.Module):
    """Stride-2 conv stages (GroupNorm + SiLU), pooled to a square grid of tokens."""

    def __init__(self, cfg: EncoderConfig) -> None:
        super().__init__()
        layers: list[nn.Module] = []
        channels = cfg.image_channels
        for i, out in enumerate(cfg.cnn_channels):
            kernel = 5 if i == 0 else 3
            layers += [nn.Conv2d(channels, out, kernel, stride=2, padding=kernel // 2),
                       nn.GroupNorm(8 if out % 8 == 0 else 1, out), nn.SiLU()]
            channels = out
        self.net = nn.Sequential(*layers)
        self.side = int(round(math.sqrt(cfg.tokens_per_camera)))
        self.proj = nn.Linear(channels, cfg.width)

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        """images (N, C, H, W) float in [0, 1] -> tokens (N, tokens_per_camera, D)."""
        feats = self.net(images * 2.0 - 1.0)  # (N, C', H', W')
        feats = F.adaptive_avg_pool2d(feats, self.side)  # (N, C', s, s)
        return self.proj(feats.flatten(2).transpose(1, 2))  # (N, s*s, D)


class PretrainedVisionBackbone(nn.Module):
    """A local transformers vision model (e.g. a ViT folder) used as the image encoder."""

    def __init__(self, cfg: EncoderConfig) -> None:
        super().__init__()
        from transformers import AutoModel

        self.model = AutoModel.from_pretrained(cfg.pretrained_vision_path,
                                               local_files_only=True,
                                               use_safetensors=True)  # never a pickle
        mcfg = self.model.config
        self.input_size = int(getattr(mcfg, 'image_size', cfg.image_size))
        self.channels = int(getattr(mcfg, 'num_channels', 3))
        hidden = int(getattr(mcfg, 'hidden_size', 0) or mcfg.hidden_sizes[-1])
        self.tokens = cfg.tokens_per_camera
        self.proj = nn.Linear(hidden, cfg.width)

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        """images (N, C, H, W) in [0, 1] -> tokens (N, tokens_per_camera, D)."""
        x = images[:, :self.channels]
        if x.shape[-1] != self.input_size:
            x = F.interpolate(x, size=(self.input_size, self.input_size), mode='bilinear',
                              align_corners=False)
        hidden = self.model(pixel_values=x * 2.0 - 1.0).last_hidden_state
        if hidden.dim() == 4:  # conv backbones: (N, C, h, w) -> (N, h*w, C)
            hidden = hidden.flatten(2).transpose(1, 2)
        pooled = F.adaptive_avg_pool1d(hidden.transpose(1, 2), self.tokens)  # (N, Dh, n)
        return self.proj(pooled.transpose(1, 2))  # (N, n, D)


class ObservationEncoder(nn.Module):
    """One control step's observation -> perceptual tokens (N_p, D) + cognitive token (D)."""

    def __init__(self, cfg: EncoderConfig) -> None:
        super().__init__()
        self.cfg = cfg
        d = cfg.width
        self.vision = (PretrainedVisionBackbone(cfg) if cfg.pretrained_vision_path
                       else VisionCNN(cfg))
        n_vision = len(cfg.cameras) * cfg.tokens_per_camera
        self.vision_pos = nn.Parameter(torch.randn(n_vision, d) * 0.02)
        self.object_mlp = nn.Sequential(nn.Linear(cfg.object_dim, d), nn.GELU(), nn.Linear(d, d))
        self.object_slot = nn.Parameter(torch.randn(cfg.object_slots, d) * 0.02)
        self.proprio_mlp = nn.Sequential(nn.Linear(cfg.proprio_dim + NUM_PHASES, d), nn.GELU(),
                                         nn.Linear(d, d))
        self.text_proj = nn.Linear(cfg.text_dim, d)
        self.type_embed = nn.Parameter(torch.randn(4, d) * 0.02)  # vision/object/proprio/text
        # the low-dimensional state (proprio, phase, every object slot) also enters directly
        # as one perceptual token, so exact positions need not survive attention pooling
        state_dim = cfg.proprio_dim + NUM_PHASES + cfg.object_slots * cfg.object_dim
        self.state_mlp = nn.Sequential(nn.Linear(state_dim, 2 * d), nn.GELU(),
                                       nn.Linear(2 * d, d))
        self.perceptual_queries = nn.Parameter(
            torch.randn(cfg.perceptual_tokens - 1, d) * 0.02)
        self.compress = AttentionPool(d, cfg.heads)
        self.summarise = AttentionPool(d, cfg.heads)

    def forward(self, images: dict[str, torch.Tensor], proprio: torch.Tensor,
                objects: torch.Tensor, phase: torch.Tensor,
                text: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Encode N steps.

        images[cam] (N, C, H, W) float in [0, 1]; proprio (N, P) and objects (N, K, D_OBJ)
        already normalised; phase (N,) long; text (N, text_dim).
        Returns perceptual (N, N_p, D) and cognitive (N, D).
        """
        n = proprio.shape[0]
        cams = torch.cat([images[c] for c in self.cfg.cameras], 0)  # (n_cam*N, C, H, W)
        vis = self.vision(cams)  # (n_cam*N, t, D)
        vis = vis.view(len(self.cfg.cameras), n, -1, vis.shape[-1])  # (n_cam, N, t, D)
        vis = vis.transpose(0, 1).reshape(n, -1, vis.shape[-1])  # (N, n_cam*t, D)
        vis = vis + self.vision_pos + self.type_embed[0]
        obj = self.object_mlp(objects) + self.object_slot + self.type_embed[1]  # (N, K, D)
        # one-hot by comparison (F.one_hot syncs with the host: no CUDA-graph capture)
        phases = torch.arange(NUM_PHASES, device=phase.device)
        phase_1hot = (phase.long().unsqueeze(-1) == phases).to(proprio)  # (N, 3)
        prop = self.proprio_mlp(torch.cat([proprio, phase_1hot], -1))  # (N, D)
        prop = (prop + self.type_embed[2]).unsqueeze(1)  # (N, 1, D)
        txt = (self.text_proj(text) + self.type_embed[3]).unsqueeze(1)  # (N, 1, D)
        tokens = torch.cat([vis, obj, prop, txt], 1)  # (N, L, D)
        queries = self.perceptual_queries.expand(n, -1, -1)  # (N, N_p - 1, D)
        state = torch.cat([proprio, phase_1hot, objects.flatten(1)], -1)  # (N, state_dim)
        perceptual = torch.cat([self.compress(queries, tokens),
                                self.state_mlp(state).unsqueeze(1)], 1)  # (N, N_p, D)
        cognitive = self.summarise(txt, tokens).squeeze(1)  # (N, D)
        return perceptual, cognitive
