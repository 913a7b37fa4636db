"""Min-max normalisation to [-1, 1] whose statistics travel in the checkpoint.

The statistics are buffers of an nn.Module (as in Diffusion Policy), so they are saved with
the weights in model.safetensors and restored with them; nothing else has to be shipped.
"""

from __future__ import annotations

import torch
from torch import nn

# Features whose range over the training data is narrower than this are treated as
# constant: they map to 0 (and unnormalize to their minimum). In the features' own units
# (metres, radians, colour and flags in [0, 1]) 0.01 is 1 cm, 0.6 degrees, 1 % of a colour:
# a feature that varied less while the demonstrations were recorded carries no answer, and
# scaled to [-1, 1] its span would amplify a robot's sensor noise. It did: the simulated
# arm's joint 3 moves within +-0.0008 rad, so its span scaled it by about 1,300 and 0.002 rad
# of noise on the proprioception took the default checkpoint's where did I leave it from
# 92 % to 14 % (with 0.01: 94 %; docs/models.md, "Sensor noise"). Until 2026-12-05 it was
# 1e-4.
MIN_RANGE = 1e-2


class MinMaxNormalizer(nn.Module):
    """Per-feature min-max scaling of named fields (action, proprio, objects) to [-1, 1]."""

    def __init__(self, dims: dict[str, int]) -> None:
        super().__init__()
        self.names = tuple(dims)
        for name, dim in dims.items():
            self.register_buffer(f'{name}_min', torch.zeros(dim))
            self.register_buffer(f'{name}_max', torch.ones(dim))
        self.register_buffer('fitted', torch.zeros((), dtype=torch.bool))

    @torch.no_grad()
    def fit(self, data: dict[str, torch.Tensor]) -> None:
        """Set statistics from samples: data[name] is (..., dim) over the whole dataset."""
        for name in self.names:
            if name not in data:
                raise ValueError(f'fit: no samples for field {name!r}; got {sorted(data)}')
            values = data[name].reshape(-1, data[name].shape[-1]).float()
            lo = getattr(self, f'{name}_min')
            if values.shape[-1] != lo.shape[0]:
                raise ValueError(f'{name}: feature dim {values.shape[-1]} != {lo.shape[0]}')
            lo.copy_(values.min(0).values)
            getattr(self, f'{name}_max').copy_(values.max(0).values)
        self.fitted.fill_(True)

    def _scale(self, name: str) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        lo, hi = getattr(self, f'{name}_min'), getattr(self, f'{name}_max')
        span = hi - lo
        constant = span < MIN_RANGE
        return lo, torch.where(constant, torch.ones_like(span), span), constant

    def normalize(self, name: str, x: torch.Tensor) -> torch.Tensor:
        lo, span, constant = self._scale(name)
        y = (x - lo) / span * 2.0 - 1.0
        return torch.where(constant, torch.zeros_like(y), y)

    def unnormalize(self, name: str, y: torch.Tensor) -> torch.Tensor:
        lo, span, constant = self._scale(name)
        x = (y + 1.0) * 0.5 * span + lo
        return torch.where(constant, lo.expand_as(x), x)
