"""Where put back episodes end: the task's stage (to_tray / distractor / return / done) and the
red cube's distance from its start after each of N protocol episodes, through the graph's
inputs (`memory-eval --inputs perception`), with a count per stage.

    .venv/bin/python scripts/put_back_stages.py models/checkpoints/pcmb_put_back 20
"""

from __future__ import annotations

import argparse
from collections import Counter
from pathlib import Path
import sys

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from models.checkpoint import load_checkpoint  # noqa: E402
from models.evaluate import make_env, run_episodes, wrap_inputs  # noqa: E402
from models.policy import MemoryDiffusionPolicy  # noqa: E402
from models.text_encoder import InstructionEncoder  # noqa: E402
from sim.evaluation import seeds_for  # noqa: E402


def stages(checkpoint: Path, episodes: int, batch: int = 10, inference_steps: int = 3
           ) -> list[tuple[int, str, float, bool]]:
    """-> (seed, final stage, cube's distance from its start in metres, success) per
    protocol episode."""
    net, _ = load_checkpoint(checkpoint, 'cpu', inference_steps)
    text = InstructionEncoder.from_cache_file(checkpoint / 'text_cache.json')
    seeds = seeds_for(episodes)
    rows = []
    for i in range(0, len(seeds), batch):
        chunk = seeds[i:i + batch]
        policy = MemoryDiffusionPolicy(net, text, 'cpu', batch=len(chunk), seed=chunk[0])
        envs = [make_env('put_back', s, 'memory') for s in chunk]
        done = run_episodes(policy, wrap_inputs(envs, 'perception', net.cfg.encoder.object_slots))
        for seed, env, ok in zip(chunk, envs, done):
            cube = env.obj_pos('red_cube')[:2]
            rows.append((seed, env.task.stage,
                         float(np.hypot(*(cube - env.task.start_pos[:2]))), ok))
    return rows


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    p.add_argument('checkpoint', type=Path)
    p.add_argument('episodes', type=int, nargs='?', default=20)
    p.add_argument('--threads', type=int, default=2)
    args = p.parse_args(argv)
    torch.set_num_threads(args.threads)
    rows = stages(args.checkpoint, args.episodes)
    for seed, stage, distance, ok in rows:
        print(f'seed {seed}: {stage:10s} cube {distance * 100:5.1f} cm from its start'
              f'{"  (success)" if ok else ""}')
    print(dict(Counter(stage for _, stage, _, _ in rows)))
    return 0


if __name__ == '__main__':
    raise SystemExit(main())
