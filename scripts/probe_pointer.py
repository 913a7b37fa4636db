"""Where in the act phase does a checkpoint's goal pointer know the answer?

Teacher-forced on recorded demonstrations (the training path: bank keyframes and query
steps of `SequenceBatcher`, queries drawn from the act phase only), per task: the share of
query steps at which the pointer's highest logit is the slot the demonstration grasped, by
the query's offset from the act phase's first step. Offsets before the demonstrator's arm
moves (`models.episodes.onset_steps`) are where only memory can answer; from the first move
on the arm's heading gives the answer away, so a pointer that is right only from there on
reads the heading, and in closed loop (its own heading) it is right only by chance.

    .venv/bin/python scripts/probe_pointer.py --checkpoint runs/pcmb_fs3 \\
        --data data/heldout --tasks remember_color,shell_game
"""

from __future__ import annotations

import argparse
import copy
import json
from pathlib import Path
import sys

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from models.checkpoint import load_checkpoint  # noqa: E402
from models.episodes import SequenceBatcher, act_start, find_episode_files, load_episode  # noqa: E402
from models.train import parse_seeds  # noqa: E402

LAST_OFFSET = 6  # offsets from here on are pooled


def probe_task(net, text: dict[str, np.ndarray], episodes, batches: int, seed: int
               ) -> dict[int, list[bool]]:
    """-> {act-step offset: [pointer right?] per scored query}."""
    cfg = net.cfg
    batcher = SequenceBatcher(episodes, text, cfg.encoder.cameras, cfg.encoder.object_slots,
                              cfg.diffusion.horizon, cfg.memory.write_every, 12, seed=seed,
                              act_fraction=1.0, slot_order=cfg.encoder.slot_order,
                              goal_kind=cfg.train.goal_targets)
    captured: dict[str, torch.Tensor] = {}
    point = net.point

    def capture(cond, objects, retrieved=None):
        out = point(cond, objects, retrieved)
        captured['logits'] = out[1]
        return out

    net.point = capture
    by_offset: dict[int, list[bool]] = {}
    try:
        with torch.no_grad():
            for _ in range(batches):
                # the batcher's next draw of episodes, to know each row's act start
                chosen = copy.deepcopy(batcher.rng).integers(len(episodes), size=8)
                batch = batcher.sample(8)
                net.compute_loss(batch)
                q = batch['query_step'].shape[1]
                target, scored = net.pointer_targets(batch)  # the pointer loss's targets
                scored &= batch['query_phase'].flatten() >= 2  # the act phase only
                right = captured['logits'].argmax(-1) == target
                starts = torch.tensor([act_start(episodes[int(i)]) for i in chosen])
                offsets = batch['query_step'].flatten() - starts.repeat_interleave(q)
                for off, ok, use in zip(offsets.tolist(), right.tolist(), scored.tolist()):
                    if use:
                        by_offset.setdefault(min(int(off), LAST_OFFSET), []).append(ok)
    finally:
        net.point = point
    return by_offset


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    p.add_argument('--checkpoint', type=Path, required=True)
    p.add_argument('--data', type=Path, required=True, help='recorded demonstrations')
    p.add_argument('--tasks', required=True)
    p.add_argument('--seeds', default=None, help="e.g. '1300-1339' (default: all)")
    p.add_argument('--batches', type=int, default=8, help='batches of 8 episodes per task')
    p.add_argument('--seed', type=int, default=1)
    args = p.parse_args(argv)
    torch.set_num_threads(1)
    net, _ = load_checkpoint(args.checkpoint, 'cpu')
    net.eval()
    if not net.cfg.memory.goal_pointer:
        p.error(f'checkpoint={str(args.checkpoint)!r} has no goal pointer')
    cache = json.loads((args.checkpoint / 'text_cache.json').read_text())
    text = {k: np.asarray(v, np.float32) for k, v in cache.items()}
    print(f'pointer right (teacher-forced, act-phase queries) by offset from the act start; '
          f'{LAST_OFFSET} = {LAST_OFFSET} and later')
    for task in args.tasks.split(','):
        files = find_episode_files(args.data, [task], ('memory',), parse_seeds(args.seeds))
        episodes = [load_episode(f) for f in files]
        missing = {e.instruction for e in episodes} - set(text)
        if not episodes or missing:
            why = 'no episodes' if not episodes else 'instruction unknown to the checkpoint'
            print(f'{task}: skipped ({why})')
            continue
        by_offset = probe_task(net, text, episodes, args.batches, args.seed)
        cells = '  '.join(f'{o}: {np.mean(v):.2f} (n={len(v)})'
                          for o, v in sorted(by_offset.items()))
        print(f'{task} ({len(episodes)} episodes): {cells}', flush=True)
    return 0


if __name__ == '__main__':
    raise SystemExit(main())
