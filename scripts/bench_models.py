#!/usr/bin/env python3
"""Latency of one action chunk (encode + bank retrieval + all denoising steps).

    .venv/bin/python scripts/bench_models.py                      # CPU, 2 threads
    .venv/bin/python scripts/bench_models.py --device cuda        # + CUDA graph, batch 256

Measures the shipped checkpoint (or --checkpoint) with a full memory bank and, in the same
run, a Diffusion-Policy-shaped memoryless baseline (1-D U-Net denoiser, no bank, same
encoder and the same number of DDIM steps) of similar size; prints p50 / p95 and the ratio.
On CUDA it also measures batch 1 with the chunk captured in a CUDA graph and chunks per
second at batch 256. Targets (issue 5): p50 <= 25 ms on 2 CPU cores; p50 <= 3 ms on an H100.
--json also writes the figures (memory_nodes.benchmarks records) beside the raw results.
"""

from __future__ import annotations

import argparse
from pathlib import Path
import statistics
import sys
import time

import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from memory_nodes.benchmarks import Figure, result_document, write_json  # noqa: E402
from models import DEFAULT_CHECKPOINT  # noqa: E402
from models.checkpoint import load_checkpoint  # noqa: E402
from models.chunk_runner import ChunkRunner  # noqa: E402
from models.config import PolicyConfig  # noqa: E402
from models.memory_bank import MemoryBank  # noqa: E402
from models.network import MemoryDiffusionNet  # noqa: E402


def fake_obs(cfg: PolicyConfig, batch: int, device: torch.device) -> dict[str, torch.Tensor]:
    enc = cfg.encoder
    g = torch.Generator().manual_seed(0)
    obs = {c: torch.randint(0, 256, (batch, enc.image_size, enc.image_size, 3),
                            generator=g, dtype=torch.uint8) for c in enc.cameras}
    obs['proprio'] = torch.randn(batch, enc.proprio_dim, generator=g)
    obs['objects'] = torch.randn(batch, enc.object_slots, enc.object_dim, generator=g)
    obs['phase'] = torch.full((batch,), 2, dtype=torch.long)
    return {k: v.to(device) for k, v in obs.items()}


def filled_bank(net: MemoryDiffusionNet, batch: int, device: torch.device) -> MemoryBank:
    """A bank at capacity, as late in a long episode (every later write consolidates)."""
    enc, mem = net.cfg.encoder, net.cfg.memory
    slots = (enc.object_slots, enc.object_dim) if mem.bank_pointer else None
    bank = MemoryBank(mem.capacity, enc.perceptual_tokens, enc.width, batch, device,
                      objects=slots)
    for step in range(mem.capacity):
        objects = None if slots is None else torch.randn(batch, *slots, device=device)
        bank.write(torch.randn(batch, enc.perceptual_tokens, enc.width, device=device),
                   torch.randn(batch, enc.width, device=device), step * mem.write_every,
                   objects)
    return bank


def time_it(fn, repeats: int, device: torch.device) -> list[float]:
    for _ in range(max(3, repeats // 10)):
        fn()
    times = []
    for _ in range(repeats):
        if device.type == 'cuda':
            torch.cuda.synchronize()
        start = time.perf_counter()
        fn()
        if device.type == 'cuda':
            torch.cuda.synchronize()
        times.append((time.perf_counter() - start) * 1000.0)
    return times


def summary(times: list[float]) -> dict[str, float]:
    qs = statistics.quantiles(times, n=20)
    return {'p50_ms': round(statistics.median(times), 3), 'p95_ms': round(qs[-1], 3)}


def bench_net(net: MemoryDiffusionNet, batch: int, device: torch.device, repeats: int,
              cuda_graph: bool = False, compile: bool = False) -> dict[str, float]:
    net = net.to(device).eval()
    bank = filled_bank(net, batch, device)
    runner = ChunkRunner(net, bank, batch, cuda_graph=cuda_graph, compile=compile)
    obs = fake_obs(net.cfg, batch, device)
    text = torch.randn(batch, net.cfg.encoder.text_dim, device=device)
    now = torch.full((batch,), float(net.cfg.memory.capacity * net.cfg.memory.write_every),
                     device=device)
    return summary(time_it(lambda: runner(obs, text, now), repeats, device))


def baseline_config(cfg: PolicyConfig, target_params: int) -> PolicyConfig:
    """Diffusion-Policy shape: 1-D U-Net denoiser, no memory bank (and no goal pointer),
    same encoder and steps;
    U-Net widths chosen so that the whole network's size is closest to `target_params`."""
    best, best_gap = None, None
    for base in (8, 12, 16, 24, 32, 48, 64):
        data = cfg.to_dict()
        data['memory'].update(enabled=False, goal_pointer=False, pointer_query='fused',
                              recurrent=False)
        data['train']['pointer_loss_weight'] = 0.0  # no pointer, no pointer loss
        data['denoiser']['kind'] = 'unet'
        data['denoiser']['unet_dims'] = (base, 2 * base, 4 * base)
        data['denoiser']['unet_cond_dim'] = 4 * base
        candidate = PolicyConfig.from_dict(data)
        gap = abs(sum(p.numel() for p in MemoryDiffusionNet(candidate).parameters())
                  - target_params)
        if best_gap is None or gap < best_gap:
            best, best_gap = candidate, gap
    return best


def parameters(net: torch.nn.Module) -> float:
    return round(sum(p.numel() for p in net.parameters()) / 1e6, 2)


def figures(results: dict, device: str, threads: int, big_batch: int) -> list[Figure]:
    """Shipped model against the DP-shaped baseline at batch 1 (eager on the CPU, CUDA graph
    on CUDA), and on CUDA the big batch's chunks/s against batch 1's. Targets: p50 <= 25 ms
    on 2 CPU threads, p50 <= 3 ms on CUDA (set for an H100)."""
    figs = []
    ours, base = results['shipped model, batch 1, eager'], \
        results['DP-shaped baseline, batch 1, eager']
    if device == 'cpu':
        where = f'CPU, {threads} threads'
        figs.append(Figure(f'one action chunk p50, batch 1 ({where})', ours['p50_ms'], 'ms',
                           'DP-shaped U-Net without memory, p50', base['p50_ms'],
                           '<= 25' if threads == 2 else None))
        figs.append(Figure(f'one action chunk p95, batch 1 ({where})', ours['p95_ms'], 'ms',
                           'DP-shaped U-Net without memory, p95', base['p95_ms'],
                           headline=False))
        return figs
    graph = results['shipped model, batch 1, CUDA graph']
    base_graph = results['DP-shaped baseline, batch 1, CUDA graph']
    figs.append(Figure('one action chunk p50, batch 1, CUDA graph', graph['p50_ms'], 'ms',
                       'DP-shaped U-Net without memory, CUDA graph, p50', base_graph['p50_ms'],
                       '<= 3'))
    figs.append(Figure('one action chunk p95, batch 1, CUDA graph', graph['p95_ms'], 'ms',
                       'DP-shaped U-Net without memory, CUDA graph, p95', base_graph['p95_ms'],
                       headline=False))
    figs.append(Figure('one action chunk p50, batch 1, CUDA eager', ours['p50_ms'], 'ms',
                       'DP-shaped U-Net without memory, eager, p50', base['p50_ms'],
                       headline=False))
    big = results[f'shipped model, batch {big_batch}, CUDA graph']
    figs.append(Figure(f'action chunks per second, batch {big_batch}, CUDA graph',
                       big['chunks_per_s'], 'chunks/s', 'batch 1, CUDA graph',
                       1000.0 / graph['p50_ms']))
    compiled = results.get('shipped model, batch 1, torch.compile + CUDA graph')
    if compiled:
        figs.append(Figure('one action chunk p50, batch 1, torch.compile + CUDA graph',
                           compiled['p50_ms'], 'ms', 'batch 1, CUDA graph, p50',
                           graph['p50_ms'], headline=False))
    return figs


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    p.add_argument('--checkpoint', type=Path, default=DEFAULT_CHECKPOINT)
    p.add_argument('--device', default='cpu')
    p.add_argument('--threads', type=int, default=2, help='torch CPU threads')
    p.add_argument('--repeats', type=int, default=100)
    p.add_argument('--big-batch', type=int, default=256, help='CUDA throughput batch')
    p.add_argument('--compile', action='store_true', help='also try torch.compile (CUDA)')
    p.add_argument('--inference-steps', type=int, default=None,
                   help="DDIM steps per chunk, for both models (default: the checkpoint's)")
    p.add_argument('--json', type=Path, help='write the figures here')
    args = p.parse_args(argv)
    torch.set_num_threads(args.threads)
    device = torch.device(args.device)
    if (args.checkpoint / 'config.json').exists():
        net, _ = load_checkpoint(args.checkpoint)
        source = str(args.checkpoint.relative_to(ROOT) if args.checkpoint.is_relative_to(ROOT)
                     else args.checkpoint)
    else:
        net = MemoryDiffusionNet(PolicyConfig())
        source = 'default PolicyConfig (no checkpoint found)'
    if args.inference_steps is not None:
        net.set_inference_steps(args.inference_steps)
    base = MemoryDiffusionNet(baseline_config(net.cfg,
                                              sum(p.numel() for p in net.parameters())))
    cfg = net.cfg
    print(f'device {device} ({torch.cuda.get_device_name() if device.type == "cuda" else "cpu"}'
          f', {torch.get_num_threads()} threads); torch {torch.__version__}')
    print(f'model: {source}: {cfg.denoiser.kind}, {parameters(net)} M params, bank capacity '
          f'{cfg.memory.capacity} x {cfg.encoder.perceptual_tokens + 1} tokens (full), '
          f'{cfg.diffusion.inference_steps} {cfg.diffusion.scheduler.upper()} steps, horizon '
          f'{cfg.diffusion.horizon}')
    print(f'baseline: DP-shaped 1-D U-Net {base.cfg.denoiser.unet_dims}, no memory, '
          f'{parameters(base)} M params')
    results: dict[str, dict] = {}
    rows = [('shipped model, batch 1, eager', net, 1, False, False),
            ('DP-shaped baseline, batch 1, eager', base, 1, False, False)]
    if device.type == 'cuda':
        rows += [('shipped model, batch 1, CUDA graph', net, 1, True, False),
                 ('DP-shaped baseline, batch 1, CUDA graph', base, 1, True, False),
                 (f'shipped model, batch {args.big_batch}, CUDA graph', net, args.big_batch,
                  True, False)]
        if args.compile:
            rows.append(('shipped model, batch 1, torch.compile + CUDA graph', net, 1, True,
                         True))
    for name, model, batch, graph, comp in rows:
        res = bench_net(model, batch, device, args.repeats, graph, comp)
        if batch > 1:
            res['chunks_per_s'] = round(batch * 1000.0 / res['p50_ms'], 1)
        results[name] = res
        extra = f', {res["chunks_per_s"]} chunks/s' if 'chunks_per_s' in res else ''
        print(f'{name:52s} p50 {res["p50_ms"]:8.3f} ms   p95 {res["p95_ms"]:8.3f} ms{extra}')
    mine = results['shipped model, batch 1, eager']['p50_ms']
    theirs = results['DP-shaped baseline, batch 1, eager']['p50_ms']
    print(f'ratio shipped / baseline (eager p50): {mine / theirs:.2f}')
    if args.json:
        raw = {'device': str(device), 'threads': torch.get_num_threads(), 'model': source,
               'results': results}
        write_json(args.json, result_document(
            'models', figures(results, device.type, torch.get_num_threads(), args.big_batch),
            raw))
    return 0


if __name__ == '__main__':
    sys.exit(main())
