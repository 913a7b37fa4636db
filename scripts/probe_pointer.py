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

`--after-contacts` asks the question of tasks with several targets in turn (count, button
sequence): the queries are the `AFTER_CONTACT` steps after each contact but the last (the arm
rising from a press, before it heads anywhere: the next target must come from memory), split
by whether the target then is the slot just pressed again ('again': count's blue button
before the K-th press) or another ('next': count's white button after it).

    .venv/bin/python scripts/probe_pointer.py --checkpoint runs/pcmb_perc6r2 \\
        --data data/demos_perceived --tasks count --seeds 1100-1139 --after-contacts

`--unmarked` asks it of steps whose goal no object marks (put back's last place: where the
cube stood before it was moved): how far from the goal point the position the pointer's
weights land on is, over the current slots and, with a bank pointer
(`MemoryConfig.bank_pointer`), the slots stored in the bank, and how much weight the stored
ones get.

    .venv/bin/python scripts/probe_pointer.py --checkpoint runs/pcmb_put_back \\
        --data data/demos_put_back --tasks put_back --unmarked
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
import sys

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from models.checkpoint import load_checkpoint  # noqa: E402
from models.episodes import (  # noqa: E402
    SequenceBatcher,
    act_start,
    contact_spans,
    find_episode_files,
    load_episode,
)
from models.goal_pointer import POSITION, watch_logits  # noqa: E402
from models.train import parse_seeds  # noqa: E402

LAST_OFFSET = 6  # offsets from here on are pooled
AFTER_CONTACT = 4  # --after-contacts: steps probed after each contact's last low step


def act_batcher(net, text: dict[str, np.ndarray], episodes, seed: int) -> SequenceBatcher:
    """Batches of 12 query steps per episode, all from the act phase (and the chunk before
    it), with the checkpoint's slot order and goal targets."""
    cfg = net.cfg
    return SequenceBatcher(episodes, text, cfg.encoder.cameras, cfg.encoder.object_slots,
                           cfg.diffusion.horizon, cfg.memory.write_every, 12, seed=seed,
                           act_fraction=1.0, slot_order=cfg.encoder.slot_order,
                           goal_kind=cfg.train.goal_targets)


def probe_task(net, text: dict[str, np.ndarray], episodes, batches: int, seed: int
               ) -> dict[int, list[bool]]:
    """-> {act-step offset: [pointer right?] per scored query}."""
    batcher = act_batcher(net, text, episodes, seed)
    captured: dict[str, torch.Tensor] = {}
    point = capture_logits(net, captured)
    by_offset: dict[int, list[bool]] = {}
    try:
        with torch.no_grad():
            for _ in range(batches):
                drawn = batcher.draw(8)  # as sample(8) draws: each row's episode is known
                chosen = [idx for idx, _ in drawn]
                batch = batcher.batch_at(drawn)
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


def capture_logits(net, captured: dict):
    """Wrap net.point so that its slot logits land in captured['logits']; -> the original."""
    return watch_logits(net, lambda logits: captured.__setitem__('logits', logits))


def probe_after_contacts(net, text: dict[str, np.ndarray], episodes
                         ) -> dict[str, list[bool]]:
    """-> {'again': [...], 'next': [...]}: pointer right? at the AFTER_CONTACT steps after
    each contact but the last, by whether the target then is the contact's slot again."""
    cfg = net.cfg
    captured: dict[str, torch.Tensor] = {}
    point = capture_logits(net, captured)
    result: dict[str, list[bool]] = {'again': [], 'next': []}
    batcher = SequenceBatcher(episodes, text, cfg.encoder.cameras, cfg.encoder.object_slots,
                              cfg.diffusion.horizon, cfg.memory.write_every, AFTER_CONTACT,
                              seed=0, slot_order=cfg.encoder.slot_order,
                              goal_kind=cfg.train.goal_targets)
    try:
        with torch.no_grad():
            for i, ep in enumerate(episodes):
                _, ends = contact_spans(ep)
                steps = np.array([e + k for e in ends[:-1] for k in range(1, AFTER_CONTACT + 1)
                                  if e + k < ep.length], np.int64)
                if not len(steps):
                    continue
                batch = batcher.batch_at([(i, steps)])
                net.compute_loss(batch)
                target, scored = net.pointer_targets(batch)
                right = captured['logits'].argmax(-1) == target
                slots = batcher.goal_slots[i]
                for step, ok, use in zip(steps.tolist(), right.tolist(), scored.tolist()):
                    previous = ends[ends < step].max()  # the contact just made
                    if use:
                        kind = 'again' if slots[step] == slots[previous] else 'next'
                        result[kind].append(ok)
    finally:
        net.point = point
    return result


def probe_unmarked(net, text: dict[str, np.ndarray], episodes, batches: int, seed: int
                   ) -> tuple[np.ndarray, np.ndarray]:
    """-> (metres from the goal point to where the pointer's weights land, the weight on the
    bank's stored slots) per act-phase query step whose goal no object marks."""
    cfg = net.cfg
    batcher = act_batcher(net, text, episodes, seed)
    captured: dict[str, torch.Tensor] = {}
    point = capture_logits(net, captured)
    errors, stored_weight = [], []
    try:
        with torch.no_grad():
            for _ in range(batches):
                batch = batcher.sample(8)
                net.compute_loss(batch)
                q = batch['query_step'].shape[1]
                positions = batch['query_objects'].flatten(0, 1)[..., POSITION].float()
                if cfg.memory.bank_pointer:   # the stored slots follow the current ones
                    keys = batch['key_objects'].repeat_interleave(q, 0).flatten(1, 2)
                    positions = torch.cat([positions, keys[..., POSITION].float()], 1)
                weights = captured['logits'].softmax(-1)
                landed = torch.einsum('nk,nkc->nc', weights, positions)[:, :2]
                goal = batch['goal'].flatten(0, 1)[:, :2].float()
                use = ((batch['goal_slot'].flatten() < 0)
                       & (batch['query_phase'].flatten() >= 2))
                errors.append((landed - goal).norm(dim=1)[use].numpy())
                stored_weight.append(weights[:, cfg.encoder.object_slots:].sum(1)[use].numpy())
    finally:
        net.point = point
    return np.concatenate(errors), np.concatenate(stored_weight)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    p.add_argument('--checkpoint', type=Path, required=True)
    p.add_argument('--data', type=Path, required=True, help='recorded demonstrations')
    p.add_argument('--tasks', required=True)
    p.add_argument('--seeds', default=None, help="e.g. '1300-1339' (default: all)")
    p.add_argument('--batches', type=int, default=8, help='batches of 8 episodes per task')
    p.add_argument('--seed', type=int, default=1)
    p.add_argument('--after-contacts', action='store_true',
                   help='probe the steps after each contact (tasks with several targets)')
    p.add_argument('--unmarked', action='store_true',
                   help="probe the steps whose goal no object marks (put back's last place)")
    args = p.parse_args(argv)
    torch.set_num_threads(1)
    net, _ = load_checkpoint(args.checkpoint, 'cpu')
    net.eval()
    if not net.cfg.memory.goal_pointer:
        p.error(f'checkpoint={str(args.checkpoint)!r} has no goal pointer')
    cache = json.loads((args.checkpoint / 'text_cache.json').read_text())
    text = {k: np.asarray(v, np.float32) for k, v in cache.items()}
    if not args.after_contacts:
        print(f'pointer right (teacher-forced, act-phase queries) by offset from the act '
              f'start; {LAST_OFFSET} = {LAST_OFFSET} and later')
    for task in args.tasks.split(','):
        files = find_episode_files(args.data, [task], ('memory',), parse_seeds(args.seeds))
        episodes = [load_episode(f) for f in files]
        missing = {e.instruction for e in episodes} - set(text)
        if not episodes or missing:
            why = 'no episodes' if not episodes else 'instruction unknown to the checkpoint'
            print(f'{task}: skipped ({why})')
            continue
        if args.after_contacts:
            cells = '  '.join(f'{k}: {np.mean(v) if v else float("nan"):.2f} (n={len(v)})'
                              for k, v in probe_after_contacts(net, text, episodes).items())
            print(f'{task} ({len(episodes)} episodes), {AFTER_CONTACT} steps after each '
                  f'contact: {cells}', flush=True)
            continue
        if args.unmarked:
            errors, stored = probe_unmarked(net, text, episodes, args.batches, args.seed)
            if not len(errors):
                print(f'{task}: no act-phase step whose goal no object marks')
                continue
            print(f'{task} ({len(episodes)} episodes, {len(errors)} unmarked act steps): '
                  f'pointer lands {np.median(errors) * 100:.1f} cm from the goal (median), '
                  f'within 3 cm {np.mean(errors < 0.03):.2f}; weight on stored slots '
                  f'{np.mean(stored):.2f}', flush=True)
            continue
        by_offset = probe_task(net, text, episodes, args.batches, args.seed)
        cells = '  '.join(f'{o}: {np.mean(v):.2f} (n={len(v)})'
                          for o, v in sorted(by_offset.items()))
        print(f'{task} ({len(episodes)} episodes): {cells}', flush=True)
    return 0


if __name__ == '__main__':
    raise SystemExit(main())
