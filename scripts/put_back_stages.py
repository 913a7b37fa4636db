"""Where put back episodes end: the task's stage (to_tray / distractor / return / done), the
red cube's distance from its start and, for the stacking subtask, where the blue cube ended
against the green one (the stack counts within 2 cm across and 4 cm +- 5 mm above, released)
and how far from the green cube the hand was at each release of the blue one (the env's
'released' events) after each of N protocol episodes, through the graph's inputs
(`memory-eval --inputs perception`), with a count per stage.

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
           ) -> list[tuple[int, str, float, bool, str]]:
    """-> (seed, final stage, cube's distance from its start in metres, success, the stack's
    state) per protocol episode."""
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
                         float(np.hypot(*(cube - env.task.start_pos[:2]))), ok, stack(env)))
    return rows


def stack(env) -> str:
    """The blue cube against the green one: offset across and height above, in cm, and what
    the gripper holds."""
    if 'blue_cube' not in env.objects:
        return ''
    a, b = env.obj_pos('blue_cube'), env.obj_pos('green_cube')
    held = f', holding {env.attached}' if env.attached else ''
    hands = [np.hypot(*(np.asarray(e['hand'][:2]) - b[:2])) * 100 for e in env.events
             if e['kind'] == 'released' and e['subject'] == 'blue_cube']
    released = (f'; released {len(hands)}x, the hand ' + ', '.join(f'{h:.1f}' for h in hands)
                + ' cm from green' if hands else '')
    return (f'blue {np.hypot(*(a[:2] - b[:2])) * 100:4.1f} cm across, '
            f'{(a[2] - b[2]) * 100:4.1f} cm above green{held}{released}')


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    p.add_argument('checkpoint', type=Path)
    p.add_argument('episodes', type=int, nargs='?', default=20)
    p.add_argument('--threads', type=int, default=2)
    args = p.parse_args(argv)
    torch.set_num_threads(args.threads)
    rows = stages(args.checkpoint, args.episodes)
    for seed, stage, distance, ok, stacked in rows:
        print(f'seed {seed}: {stage:10s} cube {distance * 100:5.1f} cm from its start; '
              f'{stacked}{"  (success)" if ok else ""}')
    print(dict(Counter(row[1] for row in rows)))
    return 0


if __name__ == '__main__':
    raise SystemExit(main())
