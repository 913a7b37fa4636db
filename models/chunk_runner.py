"""Fast computation of one action chunk: encode + bank retrieval + all denoising steps.

`ChunkRunner` wraps a network and a memory bank with fixed-shape input buffers. In eager
mode it simply runs the computation; with `cuda_graph=True` (CUDA only) it captures the whole
chunk computation (encoder, retrieval over the bank's fixed-size buffers, every DDIM step
with its fresh noise) once into a CUDA graph and afterwards only replays it, which removes
the per-kernel launch overhead that dominates small models at batch 1. `compile=True` wraps
the network's pieces with torch.compile instead (or as well). The bank's buffers are read in
place, so writes between chunks are seen by the replayed graph.
"""

from __future__ import annotations

import torch

from models.memory_bank import MemoryBank
from models.network import MemoryDiffusionNet


class ChunkRunner:
    """Chunk computation over static buffers, optionally captured as a CUDA graph."""

    def __init__(self, net: MemoryDiffusionNet, bank: MemoryBank, batch: int,
                 cuda_graph: bool = False, compile: bool = False) -> None:
        self.net, self.bank, self.batch = net, bank, batch
        self.device = next(net.parameters()).device
        if cuda_graph and self.device.type != 'cuda':
            raise ValueError(f'cuda_graph=True needs a CUDA device; the net is on {self.device}')
        if net.cfg.diffusion.scheduler != 'ddim' and cuda_graph:
            raise ValueError('cuda_graph=True needs the DDIM scheduler (fixed coefficients)')
        self.cuda_graph = cuda_graph
        self.encoder = torch.compile(net.encoder) if compile else net.encoder
        self.denoise_step = (torch.compile(net.denoiser.step) if compile
                             else net.denoiser.step)
        self.graph: torch.cuda.CUDAGraph | None = None
        self.static_in: dict[str, torch.Tensor] = {}
        self.static_out: torch.Tensor | None = None

    @torch.no_grad()
    def _compute(self, steps: dict[str, torch.Tensor], text: torch.Tensor,
                 now: torch.Tensor) -> torch.Tensor:
        net = self.net
        enc = net.cfg.encoder
        images = {c: steps[c].permute(0, 3, 1, 2).float() / 255.0 for c in enc.cameras}
        proprio = net.normalizer.normalize('proprio', steps['proprio'].float())
        objects = net.normalizer.normalize('objects', steps['objects'].float())
        perceptual, cognitive = self.encoder(images, proprio, objects, steps['phase'], text)
        bank = self.bank.entries() if net.retrieval is not None else None
        stored = self.bank.object_entries() if self.bank.objects is not None else None
        cond = net.fuse(perceptual, cognitive, now, bank, steps['objects'], stored)
        diff = net.cfg.diffusion
        noise = torch.randn(self.batch, diff.horizon, diff.action_dim, device=self.device)

        prepared = net.denoiser.prepare(cond)

        def denoise(x: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
            return self.denoise_step(x, t, prepared)

        if diff.scheduler == 'ddim':
            x = net.diffusion.sample_ddim_fast(denoise, noise)
        else:
            x = net.diffusion.sample(denoise, noise)
        return net.normalizer.unnormalize('action', x)

    @torch.no_grad()
    def __call__(self, steps: dict[str, torch.Tensor], text: torch.Tensor,
                 now: torch.Tensor) -> torch.Tensor:
        """steps: per-step observation tensors with batch axis; -> chunk (B, H, A)."""
        if not self.cuda_graph:
            return self._compute(steps, text, now)
        if self.graph is None:
            self._capture(steps, text, now)
        for key, value in steps.items():
            self.static_in[key].copy_(value)
        self.static_in['text'].copy_(text)
        self.static_in['now'].copy_(now)
        self.graph.replay()
        return self.static_out

    def _capture(self, steps: dict[str, torch.Tensor], text: torch.Tensor,
                 now: torch.Tensor) -> None:
        self.static_in = {k: v.clone() for k, v in steps.items()}
        self.static_in['text'] = text.clone()
        self.static_in['now'] = now.clone()
        inputs = {k: v for k, v in self.static_in.items() if k not in ('text', 'now')}
        side = torch.cuda.Stream()
        side.wait_stream(torch.cuda.current_stream())
        with torch.cuda.stream(side):  # warm-up outside the graph (allocator, cuDNN plans)
            for _ in range(3):
                self._compute(inputs, self.static_in['text'], self.static_in['now'])
        torch.cuda.current_stream().wait_stream(side)
        self.graph = torch.cuda.CUDAGraph()
        with torch.cuda.graph(self.graph):
            self.static_out = self._compute(inputs, self.static_in['text'],
                                            self.static_in['now'])
