"""`memory-train`: train the memory-conditioned diffusion policy on recorded demonstrations.

    memory-train --data data/demos --out runs/pcmb --steps 3000
    memory-train --synthetic 200 --out runs/synthetic     # no sim needed: synthetic task

Reads `<data>/<task>/ep_<seed>_<mode>.npz` (the sim contract), encodes each distinct
instruction once with MiniLM, fits the min-max normaliser, trains with AdamW + cosine decay
and an EMA of the weights (diffusers EMAModel), shows a progress bar, and writes
`<out>/model.safetensors` + `<out>/config.json` (EMA weights; command, seed, dataset and git
commit recorded), `<out>/loss.json` and the loss curve `<out>/loss.png`.

    memory-train --data data/demos_perceived --init-from models/checkpoints/pcmb_adaln ...

fine-tunes a trained checkpoint instead of starting fresh: the network (architecture,
normaliser, weights) is the checkpoint's, the training settings (steps, lr, batches, losses)
are this command's; the data must have the checkpoint's input widths.
"""

from __future__ import annotations

import argparse
from dataclasses import replace
import json
import os
from pathlib import Path
import shlex
import sys
import time

import numpy as np
import torch

from memory_nodes.file_safety import private_dir, private_file, write_private_text
from models.checkpoint import git_commit, load_checkpoint, save_checkpoint
from models.config import GOAL_TARGETS, POINTER_QUERIES, SLOT_ORDERS, PolicyConfig
from models.episodes import (
    Episode,
    SequenceBatcher,
    dataset_arrays,
    find_episode_files,
    load_episode,
)
from models.network import MemoryDiffusionNet
from models.policy import pick_device
from models.text_encoder import InstructionEncoder


def parse_seeds(text: str | None) -> set[int] | None:
    """'0-199' or '1,2,5' or '0-9,20-29' -> set of ints; None/'' -> None (all)."""
    if not text:
        return None
    seeds: set[int] = set()
    for part in text.split(','):
        part = part.strip()
        try:
            if '-' in part:
                lo, hi = part.split('-', 1)
                seeds.update(range(int(lo), int(hi) + 1))
            else:
                seeds.add(int(part))
        except ValueError as err:
            raise ValueError(f'seeds={text!r}: use forms like 0-199 or 1,2,5') from err
    return seeds


def seed_ranges(seeds: list[int]) -> str:
    """[0, 1, 2, 5] -> '0-2,5' (the form parse_seeds reads back)."""
    runs: list[list[int]] = []  # [first, last] of each run of consecutive seeds
    for seed in seeds:
        if runs and seed == runs[-1][1] + 1:
            runs[-1][1] = seed
        else:
            runs.append([seed, seed])
    return ','.join(str(a) if a == b else f'{a}-{b}' for a, b in runs)


def _csv(text: str, kind: type, flag: str) -> tuple:
    """'16,32,64' -> (16, 32, 64); a ValueError names the flag and the bad text."""
    try:
        values = tuple(kind(v.strip()) for v in text.split(',') if v.strip())
    except ValueError as err:
        raise ValueError(f'{flag}={text!r}: comma-separated {kind.__name__} values') from err
    if not values:
        raise ValueError(f'{flag}={text!r}: needs at least one value')
    return values


def _named_values(text: str, flag: str, name: str) -> dict[str, float]:
    """'remember_color=2,count=1.5' -> {'remember_color': 2.0, 'count': 1.5}; '' -> {}.
    A bad item is refused naming `flag` and the expected NAME=VALUE form."""
    weights: dict[str, float] = {}
    for item in (v.strip() for v in text.split(',') if v.strip()):
        key, _, value = (part.strip() for part in item.partition('='))
        try:
            if not key:
                raise ValueError(item)
            weights[key] = float(value)
        except ValueError:
            raise ValueError(f'{flag}={text!r}: expected {name}=VALUE[,{name}=VALUE], '
                             f'got {item!r}') from None
    return weights


def param_groups(net: torch.nn.Module, lr: float, lr_scales: dict[str, float]
                 ) -> list[dict]:
    """The optimiser's parameter groups: one at `lr`, one per prefix of `lr_scales` at
    lr * scale (a parameter takes its longest matching prefix). A prefix that names no
    parameter is refused."""
    groups: dict[str, list] = {'': []}
    for prefix in lr_scales:
        groups[prefix] = []
    for name, param in net.named_parameters():
        if param.requires_grad:
            matches = [p for p in lr_scales if name.startswith(p)]
            groups[max(matches, key=len) if matches else ''].append(param)
    for prefix in lr_scales:
        if not groups[prefix]:
            raise ValueError(f'--lr-scale {prefix!r}: no parameter of this network starts '
                             'with it')
    return [{'params': params, 'lr': lr * lr_scales.get(prefix, 1.0)}
            for prefix, params in groups.items() if params]


def load_episodes(root: Path, tasks: list[str] | None, modes: tuple[str, ...],
                  seeds: set[int] | None) -> list[Episode]:
    files = find_episode_files(root, tasks, modes, seeds)
    if not files:
        raise ValueError(f'data={str(root)!r}: no episodes for tasks={tasks} modes={modes}')
    return [load_episode(f) for f in files]


def text_vectors(episodes: list[Episode], cache_file: Path | None) -> dict[str, np.ndarray]:
    """MiniLM embedding of every distinct instruction (cached in a JSON file if given)."""
    cache: dict[str, list[float]] = {}
    if cache_file and cache_file.exists():
        cache = json.loads(cache_file.read_text())
    missing = sorted({e.instruction for e in episodes} - set(cache))
    if missing:
        vectors = InstructionEncoder().encode(missing)
        cache.update({t: v.tolist() for t, v in zip(missing, vectors)})
        if cache_file:
            write_private_text(cache_file, json.dumps(cache))
    return {t: np.asarray(v, np.float32) for t, v in cache.items()}


def config_for(episodes: list[Episode], base: PolicyConfig) -> PolicyConfig:
    """Fit the data-dependent encoder sizes (P, K, D_OBJ, image size) to the dataset."""
    first = episodes[0]
    enc = replace(base.encoder,
                  proprio_dim=int(first.proprio.shape[1]),
                  object_slots=max(int(e.objects.shape[1]) for e in episodes),
                  object_dim=int(first.objects.shape[2]),
                  image_size=int(first.rgb.shape[1]))
    for e in episodes:
        if e.proprio.shape[1] != enc.proprio_dim or e.objects.shape[2] != enc.object_dim:
            raise ValueError(f'episode {e.task}/{e.seed}: proprio/object widths '
                             f'{e.proprio.shape[1]}/{e.objects.shape[2]} differ from '
                             f'{enc.proprio_dim}/{enc.object_dim}')
    return replace(base, encoder=enc)


# what --init-from may grow onto a checkpoint without it: MemoryConfig field -> (the
# flag that asks, what it needs, the new parameters' name prefixes)
GROWABLE = {
    'recurrent': ('--recurrent-memory', 'enabled', ('retrieval.recurrent.',)),
    'bank_pointer': ('--bank-pointer', 'goal_pointer',
                     ('pointer.when.', 'pointer.stored_key', 'pointer.stored_logit')),
    'point_residual': ('--point-residual', 'goal_pointer', ('denoiser.point.',)),
}


def fine_tune_config(checkpoint: Path, episodes: list[Episode], train_settings: dict,
                     add_recurrent: bool = False, add_bank_pointer: bool = False,
                     add_point_residual: bool = False, widen_action_range: bool = False
                     ) -> tuple[PolicyConfig, MemoryDiffusionNet, dict]:
    """(config, network, its meta) to fine-tune `checkpoint` on `episodes`: the checkpoint's
    architecture with `train_settings`. The data's input widths must be the checkpoint's
    (names the first that differs). `add_recurrent` adds the bank's recurrent summary
    (`MemoryConfig.recurrent`) to a checkpoint without one: new weights, output at zero;
    `add_bank_pointer` lets its goal pointer point at the bank's stored object slots
    (`MemoryConfig.bank_pointer`): new weights, stored slots starting near zero weight;
    `add_point_residual` gives its denoiser the pointed position (`MemoryConfig.
    point_residual`): new weights starting at zero, the output unchanged at first.

    Sampling clips normalised actions to [-1, 1], so actions outside the checkpoint's range
    could never be produced: such data is refused (naming the dimension) unless
    `widen_action_range`, which widens the range to cover both (the denoiser then relearns
    its output scale; inputs keep their normalisation)."""
    net, meta = load_checkpoint(checkpoint)
    _fit_action_range(net, episodes, checkpoint, widen_action_range)
    for field, wanted in (('recurrent', add_recurrent), ('bank_pointer', add_bank_pointer),
                          ('point_residual', add_point_residual)):
        if wanted and not getattr(net.cfg.memory, field):
            net = _grown(net, field, checkpoint)
    doc = net.cfg.to_dict()
    cfg = PolicyConfig.from_dict({**doc, 'train': {**doc['train'], **train_settings}})
    have, want = config_for(episodes, cfg).encoder, cfg.encoder
    for name in ('proprio_dim', 'object_dim', 'image_size'):
        if getattr(have, name) != getattr(want, name):
            raise ValueError(f'--init-from {str(checkpoint)!r}: the data has {name}='
                             f'{getattr(have, name)}, the checkpoint {getattr(want, name)}')
    if have.object_slots > want.object_slots:
        raise ValueError(f'--init-from {str(checkpoint)!r}: the data has up to '
                         f'{have.object_slots} object slots, the checkpoint '
                         f'{want.object_slots}')
    return cfg, net, meta


ACTION_RANGE_SLACK = 1e-3  # data this far outside the checkpoint's action range still fits


def _fit_action_range(net: MemoryDiffusionNet, episodes: list[Episode], checkpoint: Path,
                      widen: bool) -> None:
    """Refuse (or with `widen`, cover) demonstrated actions outside `net`'s action range."""
    actions = np.concatenate([e.action for e in episodes]).astype(np.float32)
    norm = net.normalizer
    lo, hi = norm.action_min.numpy().copy(), norm.action_max.numpy().copy()
    low, high = actions.min(0), actions.max(0)
    outside = np.flatnonzero((low < lo - ACTION_RANGE_SLACK) | (high > hi + ACTION_RANGE_SLACK))
    if len(outside) == 0:
        return
    if not widen:
        d = int(outside[0])
        raise ValueError(
            f"--init-from {str(checkpoint)!r}: the data's actions span [{low[d]:.3f}, "
            f"{high[d]:.3f}] in dimension {d}, outside the checkpoint's [{lo[d]:.3f}, "
            f'{hi[d]:.3f}]; sampling clips to that range, so the policy could not act there '
            '(pass --widen-action-range to widen it)')
    with torch.no_grad():
        norm.action_min.copy_(torch.from_numpy(np.minimum(lo, low)))
        norm.action_max.copy_(torch.from_numpy(np.maximum(hi, high)))


def _grown(net: MemoryDiffusionNet, field: str, checkpoint: Path) -> MemoryDiffusionNet:
    """`net` with MemoryConfig `field` switched on: its weights, plus the new module's."""
    flag, needs, prefixes = GROWABLE[field]
    doc = net.cfg.to_dict()
    if not doc['memory'][needs]:
        raise ValueError(f'{flag}: the checkpoint {str(checkpoint)!r} has {needs}=False')
    doc['memory'] = {**doc['memory'], field: True}
    grown = MemoryDiffusionNet(PolicyConfig.from_dict(doc))
    missing, unexpected = grown.load_state_dict(net.state_dict(), strict=False)
    new = [k for k in missing if not k.startswith(prefixes)]
    if new or unexpected:
        raise ValueError(f'{flag}: {str(checkpoint)!r} does not fit the grown network '
                         f'(missing {new}, unexpected {unexpected})')
    return grown


def plot_losses(losses: list[float], path: Path, title: str) -> None:
    import matplotlib

    matplotlib.use('Agg')
    import matplotlib.pyplot as plt

    steps = np.arange(1, len(losses) + 1)
    window = max(1, len(losses) // 50)
    smooth = np.convolve(losses, np.ones(window) / window, mode='valid')
    fig, ax = plt.subplots(figsize=(6, 3.5))
    ax.plot(steps, losses, alpha=0.3, label='batch loss')
    ax.plot(steps[window - 1:], smooth, label=f'moving mean ({window})')
    ax.set_yscale('log')
    ax.set_xlabel('optimiser step')
    ax.set_ylabel('diffusion MSE')
    ax.set_title(title)
    ax.legend()
    fig.tight_layout()
    fig.savefig(private_file(path), dpi=100)
    plt.close(fig)


def train(cfg: PolicyConfig, episodes: list[Episode], text: dict[str, np.ndarray],
          out: Path, device: torch.device, meta: dict, progress: bool = True,
          compile_model: bool = False, max_minutes: float = 0.0,
          init: MemoryDiffusionNet | None = None, reinit: tuple[str, ...] = ()
          ) -> tuple[MemoryDiffusionNet, list[float]]:
    """Train a fresh network (or fine-tune `init`, normaliser kept, its parameters whose
    names start with one of `reinit` freshly initialised); save the EMA weights to `out`;
    return (EMA net, losses)."""
    from diffusers.optimization import get_cosine_schedule_with_warmup
    from diffusers.training_utils import EMAModel
    from tqdm import tqdm

    tc = cfg.train
    torch.manual_seed(tc.seed)
    np.random.seed(tc.seed)
    net = MemoryDiffusionNet(cfg)
    if init is None:
        net.normalizer.fit(dataset_arrays(episodes, cfg.encoder.object_slots))
    else:   # the checkpoint's weights expect the checkpoint's normalised inputs
        state = init.state_dict()
        fresh = net.state_dict()
        for prefix in reinit:
            if prefix.startswith('normalizer'):
                raise ValueError(f'--reinit {prefix!r}: the normaliser is statistics, not '
                                 'weights')
            names = [k for k in state if k.startswith(prefix)]
            if not names:
                raise ValueError(f'--reinit {prefix!r}: names no parameters of the network')
            state.update({k: fresh[k] for k in names})
        net.load_state_dict(state, strict=True)
    net.to(device).train()
    batcher = SequenceBatcher(episodes, text, cfg.encoder.cameras, cfg.encoder.object_slots,
                              cfg.diffusion.horizon, cfg.memory.write_every,
                              tc.queries_per_episode, seed=tc.seed,
                              act_fraction=tc.act_fraction,
                              onset_fraction=tc.onset_fraction,
                              task_weights=tc.task_weights, goal_kind=tc.goal_targets,
                              slot_order=cfg.encoder.slot_order)
    params = [p for p in net.parameters() if p.requires_grad]
    opt = torch.optim.AdamW(param_groups(net, tc.lr, tc.lr_scales),
                            weight_decay=tc.weight_decay)
    sched = get_cosine_schedule_with_warmup(opt, tc.warmup_steps, tc.steps)
    ema = EMAModel(params, decay=tc.ema_decay, use_ema_warmup=True, power=0.75)
    loss_fn = torch.compile(net.compute_loss) if compile_model else net.compute_loss
    losses: list[float] = []
    # the auxiliary losses alone, when they are on
    extra: dict[str, list[float]] = {'goal_loss': [], 'pointer_loss': []}
    start = time.time()
    bar = tqdm(range(tc.steps), desc='train', disable=not progress, dynamic_ncols=True)
    for _ in bar:
        batch = {k: v.to(device, non_blocking=True)
                 for k, v in batcher.sample(tc.batch_episodes).items()}
        loss, logs = loss_fn(batch)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(params, tc.grad_clip)
        opt.step()
        sched.step()
        ema.step(params)
        losses.append(float(loss.detach()))
        for name, values in extra.items():
            if name in logs:
                values.append(logs[name])
        if len(losses) % 20 == 0:
            bar.set_postfix(loss=f'{np.mean(losses[-20:]):.4f}')
        if max_minutes and time.time() - start > 60.0 * max_minutes:
            print(f'[memory-train] time limit: stopping at step {len(losses)}', flush=True)
            break
        if not progress and len(losses) % 250 == 0:
            parts = ''.join(f' {name.split("_")[0]} {np.mean(values[-50:]):.4f}'
                            for name, values in extra.items() if values)
            print(f'[memory-train] step {len(losses)}/{tc.steps} loss '
                  f'{np.mean(losses[-50:]):.4f}{parts} ({time.time() - start:.0f} s)',
                  flush=True)
    ema.copy_to(params)
    net.eval()
    private_dir(out)   # checkpoint folder 0o700, its files 0o600
    meta = dict(meta, steps=len(losses), train_seconds=round(time.time() - start, 1),
                final_loss=float(np.mean(losses[-50:])), device=str(device),
                parameters=sum(p.numel() for p in net.parameters()))
    save_checkpoint(out, net, meta)
    write_private_text(out / 'loss.json', json.dumps({'loss': losses, **extra}))
    plot_losses(losses, out / 'loss.png', f'{cfg.denoiser.kind}, memory='
                f'{cfg.memory.enabled}')
    return net, losses


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog='memory-train', description=__doc__.split('\n')[0])
    src = p.add_mutually_exclusive_group(required=True)
    src.add_argument('--data', type=Path, help='recorded dataset root (<task>/ep_*.npz)')
    src.add_argument('--synthetic', type=int, metavar='N',
                     help='train on N synthetic_cups expert episodes (made under --out)')
    p.add_argument('--tasks', default='', help='comma-separated task names (default: all)')
    p.add_argument('--modes', default='memory', help='episode modes to train on')
    p.add_argument('--seeds', default='', help='training seeds, e.g. 0-199 (default: all)')
    p.add_argument('--out', type=Path, required=True, help='output checkpoint folder')
    p.add_argument('--denoiser', default='transformer_adaln',
                   choices=('transformer_adaln', 'transformer_xattn', 'unet'))
    p.add_argument('--no-memory', action='store_true',
                   help='build a memoryless network (no bank at all): the DP-style baseline')
    p.add_argument('--prediction', default='sample', choices=('sample', 'epsilon'),
                   help='denoiser target: clean actions (sample) or noise (epsilon)')
    p.add_argument('--steps', type=int, default=3000)
    p.add_argument('--batch', type=int, default=8, help='episodes per batch')
    p.add_argument('--queries', type=int, default=8, help='query steps per episode')
    p.add_argument('--noise-draws', type=int, default=2, help='noise draws per chunk')
    p.add_argument('--lr', type=float, default=1e-3)
    p.add_argument('--width', type=int, default=128)
    p.add_argument('--layers', type=int, default=4)
    p.add_argument('--cameras', default='rgb,wrist_rgb', help='image keys the encoder reads')
    p.add_argument('--cnn-channels', default='16,32,64,128',
                   help='channels of the stride-2 CNN stages, e.g. 16,32,64,128')
    p.add_argument('--perceptual-tokens', type=int, default=8,
                   help='N_p perceptual tokens per step (N_p - 1 pooled + 1 state token)')
    p.add_argument('--act-fraction', type=float, default=0.0,
                   help='share of query steps drawn from the act phase and the chunk before')
    p.add_argument('--onset-fraction', type=float, default=0.0,
                   help="share of query steps drawn from the act phase's onset, before the "
                        "demonstrator's arm moves (TrainConfig.onset_fraction)")
    p.add_argument('--task-weights', default='', metavar='TASK=W,...',
                   help='relative share of batches per task, e.g. remember_color=2 (others '
                        '1; default: every episode equally likely; TrainConfig.task_weights)')
    p.add_argument('--goal-targets', default='episode', choices=GOAL_TARGETS,
                   help="the goal loss's and pointer's target: the episode's grasp, or at each "
                        'step the next grasp / place / press (next_contact: from its first '
                        'low step on the one after; unfinished_contact: from its last; '
                        'TrainConfig.goal_targets)')
    p.add_argument('--slot-order', default='given', choices=SLOT_ORDERS,
                   help="object slot order the network sees: as recorded, or 'first_seen' "
                        '(by first sight, class, y, x; the same in the ROS graph: '
                        'models/slot_order.py)')
    p.add_argument('--goal-loss-weight', type=float, default=0.0,
                   help='weight of the auxiliary goal loss (0 = off; see TrainConfig)')
    p.add_argument('--goal-pointer', action='store_true',
                   help='add the goal pointer (a conditioning token pointing at an object '
                        'slot; see models/goal_pointer.py)')
    p.add_argument('--pointer-query', default=None, choices=POINTER_QUERIES,
                   help="the pointer's query: the fused tokens (current frame included) or "
                        'only what retrieval read from the bank (MemoryConfig.pointer_query; '
                        "default fused; with --init-from the checkpoint's): the query's "
                        'weights have the same shape either way, so a fine-tune may switch it')
    p.add_argument('--lr-scale', default='', metavar='PREFIX=X,...',
                   help='learning-rate multipliers by parameter-name prefix, e.g. '
                        'retrieval.recurrent=10 (TrainConfig.lr_scales)')
    p.add_argument('--recurrent-memory', action='store_true',
                   help="add a GRU's summary of the bank to the fused cognitive token (it can "
                        'count repeated events; MemoryConfig.recurrent); with --init-from it '
                        "grows a checkpoint without one (new weights, output starting at 0)")
    p.add_argument('--bank-pointer', action='store_true',
                   help="let the goal pointer also point at the object slots stored with "
                        "the bank's entries: a remembered place no object marks any more "
                        "(MemoryConfig.bank_pointer); with --init-from it grows a "
                        'checkpoint without it')
    p.add_argument('--point-residual', action='store_true',
                   help="give the denoiser the goal pointer's pointed position: added to the "
                        "action tokens and, gated, to the chunk's x, y, z "
                        '(MemoryConfig.point_residual; needs --prediction sample); with '
                        '--init-from it grows a checkpoint without it (output unchanged at '
                        'first)')
    p.add_argument('--reinit', default='', metavar='PREFIX,...',
                   help='with --init-from: initialise the parameters whose names start with '
                        "these prefixes afresh (e.g. 'denoiser.': a new denoiser on the "
                        "checkpoint's encoders, memory and pointer)")
    p.add_argument('--widen-action-range', action='store_true',
                   help="with --init-from: widen the checkpoint's action normalisation to "
                        'cover demonstrations outside it (else such data is refused: '
                        'sampling clips to the range)')
    p.add_argument('--pointer-loss-weight', type=float, default=0.0,
                   help='weight of the pointer cross-entropy on the grasped slot (0 = off)')
    p.add_argument('--inference-steps', type=int, default=None,
                   help="DDIM steps per chunk written into the checkpoint (default 10; with "
                        "--init-from the checkpoint's)")
    p.add_argument('--replan-every', type=int, default=None,
                   help='the policy predicts a new chunk every N steps (0 = n_action_steps, '
                        "the default; with --init-from the checkpoint's): an inference "
                        'setting written into the config')
    p.add_argument('--capacity', type=int, default=64)
    p.add_argument('--write-every', type=int, default=None,
                   help='the bank takes an entry every N steps (default 4; with --init-from '
                        "the checkpoint's): no weight depends on it, so a fine-tune may change "
                        'it, e.g. to 2 for blinks that last 3 steps')
    p.add_argument('--seed', type=int, default=0)
    p.add_argument('--device', default='auto', help="'auto' (CUDA if present), 'cpu', 'cuda'")
    p.add_argument('--threads', type=int, default=0, help='torch CPU threads (0 = default)')
    p.add_argument('--compile', action='store_true', help='torch.compile the loss (CUDA)')
    p.add_argument('--max-minutes', type=float, default=0.0,
                   help='stop training after this many minutes (0 = no limit)')
    p.add_argument('--no-progress', action='store_true')
    p.add_argument('--init-from', type=Path, metavar='CHECKPOINT',
                   help='fine-tune this checkpoint: its architecture, normaliser and weights '
                        "(the architecture flags are ignored), this command's training")
    return p


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.reinit and args.init_from is None:
        parser.error(f'--reinit {args.reinit!r}: needs --init-from (a checkpoint to keep the '
                     'other weights of)')
    os.environ.setdefault('HF_HUB_OFFLINE', '1')
    if args.threads:
        torch.set_num_threads(args.threads)
    device = pick_device(args.device)
    tasks = [t for t in args.tasks.split(',') if t] or None
    seeds = parse_seeds(args.seeds)
    modes = tuple(m for m in args.modes.split(',') if m)
    if args.synthetic is not None:
        from models.synthetic import write_synthetic_dataset

        data_root = args.out / 'synthetic_data'
        wanted = sorted(seeds) if seeds else list(range(args.synthetic))
        wanted = wanted[:args.synthetic]
        for mode in modes:
            write_synthetic_dataset(data_root, wanted, mode)
        seeds = set(wanted)
    else:
        data_root = args.data
    episodes = load_episodes(data_root, tasks, modes, seeds)
    text = text_vectors(episodes, args.out / 'text_cache.json')
    train_settings = dict(
        steps=args.steps, batch_episodes=args.batch, queries_per_episode=args.queries,
        noise_draws=args.noise_draws, lr=args.lr, seed=args.seed,
        act_fraction=args.act_fraction, onset_fraction=args.onset_fraction,
        task_weights=_named_values(args.task_weights, '--task-weights', 'TASK'),
        goal_targets=args.goal_targets,
        lr_scales=_named_values(args.lr_scale, '--lr-scale', 'PREFIX'),
        goal_loss_weight=args.goal_loss_weight, pointer_loss_weight=args.pointer_loss_weight,
        warmup_steps=min(200, args.steps // 10))
    init = init_meta = None
    if args.init_from is not None:
        cfg, init, init_meta = fine_tune_config(args.init_from, episodes, train_settings,
                                                add_recurrent=args.recurrent_memory,
                                                add_bank_pointer=args.bank_pointer,
                                                add_point_residual=args.point_residual,
                                                widen_action_range=args.widen_action_range)
    else:
        cfg = config_for(episodes, PolicyConfig(
            encoder=dict(width=args.width, cameras=_csv(args.cameras, str, '--cameras'),
                         cnn_channels=_csv(args.cnn_channels, int, '--cnn-channels'),
                         perceptual_tokens=args.perceptual_tokens,
                         slot_order=args.slot_order),
            memory=dict(enabled=not args.no_memory, capacity=args.capacity,
                        goal_pointer=args.goal_pointer, recurrent=args.recurrent_memory,
                        bank_pointer=args.bank_pointer,
                        point_residual=args.point_residual),
            denoiser=dict(kind=args.denoiser, width=args.width, layers=args.layers),
            diffusion=dict(prediction_type=args.prediction, replan_every=args.replan_every or 0),
            train=train_settings))
    if args.write_every is not None:   # else MemoryConfig's default, or the checkpoint's
        cfg = replace(cfg, memory=replace(cfg.memory, write_every=args.write_every))
    if args.pointer_query is not None:   # likewise
        cfg = replace(cfg, memory=replace(cfg.memory, pointer_query=args.pointer_query))
    if args.inference_steps is not None:
        cfg = replace(cfg, diffusion=replace(cfg.diffusion,
                                             inference_steps=args.inference_steps))
    if args.replan_every is not None:
        cfg = replace(cfg, diffusion=replace(cfg.diffusion, replan_every=args.replan_every))
    meta = {
        'command': 'memory-train ' + ' '.join(shlex.quote(a) for a in
                                              (argv if argv is not None else sys.argv[1:])),
        'seed': args.seed, 'git_commit': git_commit(),
        'dataset': {'root': str(data_root), 'tasks': sorted({e.task for e in episodes}),
                    'modes': list(modes), 'episodes': len(episodes),
                    'seeds': f'{min(e.seed for e in episodes)}-{max(e.seed for e in episodes)}',
                    'train_seeds': seed_ranges(sorted({e.seed for e in episodes})),
                    'steps': int(sum(e.length for e in episodes))},
    }
    if init_meta is not None:
        meta['init_from'] = {'checkpoint': str(args.init_from),
                             'command': init_meta.get('command', ''),
                             'git_commit': init_meta.get('git_commit', ''),
                             'seed': init_meta.get('seed')}
    print(f'[memory-train] {len(episodes)} episodes ({meta["dataset"]["steps"]} steps) from '
          f'{data_root}; tasks {meta["dataset"]["tasks"]}; device {device}')
    _, losses = train(cfg, episodes, text, args.out, device, meta,
                      progress=not args.no_progress, compile_model=args.compile,
                      max_minutes=args.max_minutes, init=init,
                      reinit=tuple(_csv(args.reinit, str, '--reinit')) if args.reinit else ())
    print(f'[memory-train] loss {np.mean(losses[:20]):.4f} -> {np.mean(losses[-50:]):.4f}; '
          f'checkpoint in {args.out} (loss curve: {args.out / "loss.png"})')
    return 0


if __name__ == '__main__':
    sys.exit(main())
