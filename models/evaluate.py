"""`memory-eval`: closed-loop success of a checkpoint on held-out seeds, per task.

    memory-eval --checkpoint models/checkpoints/pcmb_adaln --tasks shell_game,count \\
        --protocol-episodes 50 --out runs/eval.json

Seeds: `--protocol-episodes N` takes the suite's evaluation protocol seeds
(`sim.evaluation.seeds_for(N)`: three seed groups 0.., 100000.., 200000..); `--seeds` takes
an explicit list. Seeds the checkpoint was trained on (its meta) are refused.

For each task it runs these variants on the same held-out seeds:
- `memory`: the policy with its memory bank, in the env's 'memory' mode (hidden answer);
- `memory_off`: the same network with the bank cleared every step, same env mode;
- `oracle`: the policy with memory in the env's 'oracle' mode (answer visible: motor skill);
- `wiped_at_delay` (the protocol's "wipe at the delay"): each episode's bank is emptied
  when that episode enters its delay phase; what it stores afterwards stays;
- `shuffled` (the protocol's "shuffle between episodes"): once every episode of a batch
  has entered its delay, each one's bank is swapped for the next episode's (a rotation of
  the batch: a real memory of the same task, from another seed; needs a batch of 2 or
  more);
and reports the task's chance ceiling (what a memoryless policy can reach by guessing).
`--slot-order shuffled` runs every variant with each episode's object slots in a random
order (one permutation per episode, seeded by it; `SlotShuffledEnv`) instead of the task's
order: the ROS graph lists the slots in another order than the simulator, so a policy for
the graph must not depend on the simulator's order (train with `memory-train --slot-order
first_seen`: the policy then orders the slots itself, models/slot_order.py).
`--inputs graph` gives the policy the graph's timing difference (`GraphInputsEnv`): object
slots one step old (the end-effector pose is the measured one in both: the sim bridge
publishes it as /sim/ee_pose). `--inputs perception` adds the rest of the node's
observation: the object slots come from the scene camera through the preprocessor's
pipeline and the node's slot table, and the image is the bridge's, cropped and resized as
the node does (memory_nodes/perception/sim_inputs.py: `PerceptionInputsEnv`), all in this
process: the graph without DDS.
A bank that holds the answer makes `memory` beat both ablations; if it does not, the
policy is not using what it remembers.
Tasks come from `sim.make_env`; 'synthetic_cups' is the models' own synthetic task.
`--knob NAME=VALUE` sets a difficulty knob of the tasks (e.g. `num_candidates=9`: remember
colour with nine cubes, where a policy trained on three is tested beyond its training);
the chance ceiling is then that of the knobs.
`--proprio-noise SD` adds Gaussian noise of that standard deviation to the proprioception
the policy reads (joint angles, finger opening, end-effector pose: radians and metres),
drawn every step, as a robot's encoders give it; `--object-noise SD` to the visible object
slots' positions (metres), `--image-noise SD` to the camera pixels (grey levels);
`--object-dropout P` hides each visible slot with probability P per step, as a detector's
misses do (`SensorNoiseEnv`); the simulation itself is not disturbed.
Envs of one task run in lock step in batches (`--batch`), one policy call per step.
"""

from __future__ import annotations

import argparse
import json
import os
from pathlib import Path
import sys
import time
from typing import Any

import numpy as np
import torch

from memory_nodes.file_safety import write_private_text
from models.checkpoint import load_checkpoint
from models.config import EncoderConfig
from models.goal_pointer import POSITION, VISIBLE
from models.policy import MemoryDiffusionPolicy, pick_device
from models.synthetic import CHANCE_CEILING, TASK_NAME, SyntheticCupsEnv
from models.text_encoder import InstructionEncoder
from models.train import parse_seeds

VARIANTS = ('memory', 'memory_off', 'oracle', 'wiped_at_delay', 'shuffled')
DEFAULT_VARIANTS = ('memory', 'memory_off', 'oracle')
DELAY_PHASE = 1  # sim.dataset.PHASE_NAMES: cue, delay, act
INPUTS = ('sim', 'graph', 'perception')  # --inputs: the simulator's observations, or the
# graph's timing (GraphInputsEnv), or that and the graph's perception (PerceptionInputsEnv)


def make_env(task: str, seed: int, mode: str, knobs: dict[str, Any] | None = None) -> Any:
    """The env of one episode; `knobs` are the sim task's difficulty knobs (none for the
    models' synthetic task)."""
    if task == TASK_NAME:
        if knobs:
            raise ValueError(f'knobs: {TASK_NAME} has no knobs, got {sorted(knobs)}')
        return SyntheticCupsEnv(seed, mode)
    from sim import make_env as sim_make_env

    return sim_make_env(task, seed=seed, mode=mode, **(knobs or {}))


class ObservationWrapper:
    """An env that changes only what the policy observes, not the simulation: a subclass
    maps each observation (`observe`) and may look at an episode's first one before that
    (`begin`); everything else is the wrapped env's."""

    def __init__(self, env: Any) -> None:
        self.env = env

    def __getattr__(self, name: str) -> Any:
        return getattr(self.env, name)

    def begin(self, obs: dict[str, np.ndarray]) -> None:
        """A new episode starts with `obs` (before it is observed)."""

    def observe(self, obs: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        raise NotImplementedError

    def reset(self) -> dict[str, np.ndarray]:
        obs = self.env.reset()
        self.begin(obs)
        return self.observe(obs)

    def step(self, action: np.ndarray) -> tuple[dict[str, np.ndarray], bool, Any]:
        obs, done, info = self.env.step(action)
        return self.observe(obs), done, info


class SlotShuffledEnv(ObservationWrapper):
    """An env whose observations carry the object slots in a fixed random order (one
    permutation per episode, drawn from `seed`); everything else is the wrapped env's."""

    def __init__(self, env: Any, seed: int) -> None:
        super().__init__(env)
        self.rng = np.random.default_rng([seed, 0x510])
        self.order: np.ndarray | None = None

    def begin(self, obs: dict[str, np.ndarray]) -> None:
        self.order = self.rng.permutation(len(obs['objects']))

    def observe(self, obs: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        return dict(obs, objects=obs['objects'][self.order])


def check_noise(sd: float, name: str) -> float:
    """`sd` as a noise standard deviation: finite and >= 0, else a ValueError naming it."""
    if not (np.isfinite(sd) and sd >= 0.0):
        raise ValueError(f'{name}={sd!r}: expected a finite standard deviation >= 0')
    return float(sd)


def check_probability(p: float, name: str) -> float:
    """`p` as a probability in [0, 1), else a ValueError naming it."""
    if not (np.isfinite(p) and 0.0 <= p < 1.0):
        raise ValueError(f'{name}={p!r}: expected a probability in [0, 1)')
    return float(p)


class SensorNoiseEnv(ObservationWrapper):
    """An env whose observations carry Gaussian sensor noise, drawn afresh every step from
    `seed`: `proprio` (standard deviation in radians and metres) on the proprioception
    (joint angles, finger opening, end-effector pose), as a robot's encoders and pose
    estimate give it; `objects` (metres) on the position of every visible object slot, as a
    depth camera's jitter moves a segment's centroid; `images` (grey levels of 255) on every
    camera image's pixels, rounded and clipped back to uint8; `dropout` (a probability) that
    a visible object slot reads as not seen this step (all its features zero), as a
    detector misses an object now and then. The simulated state is the wrapped env's: only
    what the policy reads is noisy."""

    def __init__(self, env: Any, seed: int, proprio: float = 0.0, objects: float = 0.0,
                 images: float = 0.0, dropout: float = 0.0) -> None:
        super().__init__(env)
        self.proprio = check_noise(proprio, 'proprio_noise')
        self.objects = check_noise(objects, 'object_noise')
        self.images = check_noise(images, 'image_noise')
        self.dropout = check_probability(dropout, 'object_dropout')
        self.rng = np.random.default_rng([seed, 0x9A0])

    def observe(self, obs: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        out = dict(obs)
        if self.proprio > 0.0:
            proprio = np.asarray(obs['proprio'], np.float32)
            out['proprio'] = proprio + self.rng.normal(0.0, self.proprio, proprio.shape
                                                       ).astype(np.float32)
        if self.objects > 0.0 or self.dropout > 0.0:
            objects = np.array(obs['objects'], np.float32)
            visible = objects[:, VISIBLE] > 0.5
            if self.objects > 0.0:
                jitter = self.rng.normal(0.0, self.objects, (int(visible.sum()), 3))
                objects[visible, POSITION] += jitter.astype(np.float32)
            if self.dropout > 0.0:
                objects[visible & (self.rng.random(len(objects)) < self.dropout)] = 0.0
            out['objects'] = objects
        if self.images > 0.0:
            for key in EncoderConfig.cameras:
                image = np.asarray(obs.get(key, ()))
                if image.size:
                    noisy = image + self.rng.normal(0.0, self.images, image.shape)
                    out[key] = np.clip(np.rint(noisy), 0, 255).astype(np.uint8)
        return out


class GraphInputsEnv(ObservationWrapper):
    """An env whose observations differ from the simulator's as the ROS graph's do for the
    action-expert node: the object slots are one step old (the node's 'image' trigger pairs
    a frame with the newest perception output, made from the frame before). Everything else
    is the wrapped env's: the node's proprio is the joint states and the measured pinch pose
    the sim bridge publishes before each frame (/joint_states, /sim/ee_pose)."""

    def __init__(self, env: Any) -> None:
        super().__init__(env)
        self.previous_objects: np.ndarray | None = None

    def begin(self, obs: dict[str, np.ndarray]) -> None:
        self.previous_objects = None

    def observe(self, obs: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        objects = obs['objects'] if self.previous_objects is None else self.previous_objects
        self.previous_objects = np.array(obs['objects'])
        return dict(obs, objects=objects)


def chance_ceiling(task: str, knobs: dict[str, Any] | None = None) -> float | None:
    """The task's chance ceiling (best memoryless success) with these knobs, from
    sim.TASKS."""
    if task == TASK_NAME:
        return CHANCE_CEILING
    try:
        from sim import TASKS
    except ImportError:
        return None
    if task not in TASKS:
        raise ValueError(f'task={task!r}: not in sim.TASKS {sorted(TASKS)}')
    # as sim.evaluation reports it
    value = getattr(TASKS[task](0, **(knobs or {})), 'chance', None)
    if callable(value):
        value = value()
    return None if value is None else float(value)


def trained_seeds(meta: dict[str, Any]) -> set[int]:
    """The training seeds recorded in a checkpoint's meta ('lo-hi' or a seed list)."""
    dataset = meta.get('dataset', {})
    return parse_seeds(str(dataset.get('train_seeds') or dataset.get('seeds') or '')) or set()


def success_cell(successes: list[bool]) -> dict[str, Any]:
    """Success rate with its 95 % Wilson interval (sim.evaluation's)."""
    from sim.evaluation import wilson_interval

    k, n = int(np.sum(successes)), len(successes)
    lo, hi = wilson_interval(k, n)
    return {'success': k / n, 'successes': k, 'episodes': n, 'ci95': [round(lo, 3),
                                                                      round(hi, 3)]}


def stack_obs(observations: list[dict[str, np.ndarray]]) -> dict[str, np.ndarray]:
    return {k: np.stack([np.asarray(o[k]) for o in observations])
            for k in ('rgb', 'wrist_rgb', 'proprio', 'objects', 'phase')}


def wrap_inputs(envs: list[Any], inputs: str, object_slots: int) -> list[Any]:
    """The envs as `inputs` ('sim', 'graph' or 'perception', see INPUTS) shows them to the
    policy; the wrappers step the env they wrap, so its task reads the episode's outcome."""
    if inputs not in INPUTS:
        raise ValueError(f'inputs={inputs!r}: expected one of {INPUTS}')
    if inputs == 'perception':
        from memory_nodes.perception.sim_inputs import PerceptionInputsEnv
        envs = [PerceptionInputsEnv(env, object_slots) for env in envs]
    if inputs in ('graph', 'perception'):
        envs = [GraphInputsEnv(env) for env in envs]
    return envs


def run_episodes(policy: MemoryDiffusionPolicy, envs: list[Any],
                 ablation: str | None = None) -> list[bool]:
    """Run envs in lock step with one batched policy; finished envs are held, not stepped.

    ablation: None, 'wiped_at_delay' or 'shuffled' (see the module docstring); both act on
    the policy's bank at the delay onset seen in each env's observation ('phase').
    """
    if ablation not in (None, 'wiped_at_delay', 'shuffled'):
        raise ValueError(f'ablation={ablation!r}: expected None, wiped_at_delay or shuffled')
    if ablation == 'shuffled' and len(envs) < 2:
        raise ValueError('the shuffled ablation needs a batch of at least 2 episodes')
    policy.reset([env.instruction for env in envs])
    obs = [env.reset() for env in envs]
    done = [False] * len(envs)
    in_delay = [False] * len(envs)
    shuffled = False
    horizon = max(int(env.max_steps) for env in envs)
    for _ in range(horizon):
        entered = [i for i, o in enumerate(obs)
                   if not in_delay[i] and int(o['phase']) >= DELAY_PHASE]
        for i in entered:
            in_delay[i] = True
        if ablation == 'wiped_at_delay' and entered:
            policy.bank.forget_rows(entered)
        if ablation == 'shuffled' and not shuffled and all(
                in_delay[i] or done[i] for i in range(len(envs))):
            policy.bank.permute_rows([(i + 1) % len(envs) for i in range(len(envs))])
            shuffled = True
        actions = policy.select_action(stack_obs(obs))
        actions = actions.reshape(len(envs), -1)
        for i, env in enumerate(envs):
            if not done[i]:
                obs[i], done[i], _ = env.step(actions[i])
        if all(done):
            break
    return [bool(env.success()) for env in envs]


def evaluate(checkpoint: Path, tasks: list[str], seeds: list[int],
             variants: tuple[str, ...] = DEFAULT_VARIANTS, batch: int = 10,
             device: str = 'auto', progress: bool = True,
             text_cache: Path | None = None,
             replan_every: int | None = None,
             slot_order: str = 'task', inputs: str = 'sim',
             inference_steps: int | None = None,
             knobs: dict[str, Any] | None = None,
             proprio_noise: float = 0.0, object_noise: float = 0.0,
             image_noise: float = 0.0, object_dropout: float = 0.0,
             hold_missed_steps: int = 0) -> dict[str, Any]:
    """Success per task and variant; `knobs` (e.g. {'num_candidates': 9}) set a difficulty
    knob of every task evaluated (a task without that knob is refused, naming it);
    `proprio_noise`, `object_noise`, `image_noise` > 0 add sensor noise of that standard
    deviation to what the policy reads, `object_dropout` > 0 hides a visible object slot
    with that probability per step (`SensorNoiseEnv`); `hold_missed_steps` > 0 lets the
    policy bridge a slot missed for that many steps (`models.slot_hold`)."""
    from tqdm import tqdm

    dev = pick_device(device)
    net, meta = load_checkpoint(checkpoint, dev, inference_steps)
    cache = text_cache or Path(checkpoint) / 'text_cache.json'
    text = (InstructionEncoder.from_cache_file(cache) if cache.exists()
            else InstructionEncoder())
    diff = net.cfg.diffusion
    replan = int(replan_every if replan_every is not None else diff.replan_every)
    if slot_order not in ('task', 'shuffled'):
        raise ValueError(f"slot_order={slot_order!r}: expected 'task' or 'shuffled'")
    if inputs not in INPUTS:
        raise ValueError(f'inputs={inputs!r}: expected one of {INPUTS}')
    noise = {'proprio': check_noise(proprio_noise, 'proprio_noise'),
             'objects': check_noise(object_noise, 'object_noise'),
             'images': check_noise(image_noise, 'image_noise'),
             'dropout': check_probability(object_dropout, 'object_dropout')}
    results: dict[str, Any] = {'checkpoint': str(checkpoint), 'seeds': [min(seeds), max(seeds)],
                               'slot_order': slot_order, 'inputs': inputs,
                               'episodes_per_cell': len(seeds), 'trained_on': meta,
                               'replan_every': replan or diff.n_action_steps,
                               'knobs': dict(knobs or {}), 'proprio_noise': proprio_noise,
                               'object_noise': object_noise, 'image_noise': image_noise,
                               'object_dropout': object_dropout,
                               'hold_missed_steps': hold_missed_steps,
                               'inference_steps': net.cfg.diffusion.inference_steps,
                               'tasks': {}}
    overlap = sorted(trained_seeds(meta) & set(seeds))
    if overlap:
        raise ValueError(f'seeds: {len(overlap)} of them were trained on (e.g. {overlap[:5]}); '
                         'evaluate on held-out seeds')
    for task in tasks:
        row: dict[str, Any] = {'chance': chance_ceiling(task, knobs)}
        for variant in variants:
            env_mode = 'oracle' if variant == 'oracle' else 'memory'
            successes: list[bool] = []
            start = time.time()
            chunks = [seeds[i:i + batch] for i in range(0, len(seeds), batch)]
            bar = tqdm(chunks, desc=f'{task}/{variant}', disable=not progress, leave=False)
            for chunk in bar:
                policy = MemoryDiffusionPolicy(net, text, dev, memory=variant != 'memory_off',
                                               batch=len(chunk), seed=chunk[0],
                                               replan_every=replan,
                                               hold_missed_steps=hold_missed_steps)
                ablation = variant if variant in ('wiped_at_delay', 'shuffled') else None
                envs = [make_env(task, s, env_mode, knobs) for s in chunk]
                if slot_order == 'shuffled':
                    envs = [SlotShuffledEnv(env, s) for env, s in zip(envs, chunk)]
                envs = wrap_inputs(envs, inputs, net.cfg.encoder.object_slots)
                if any(sd > 0.0 for sd in noise.values()):
                    envs = [SensorNoiseEnv(env, s, **noise) for env, s in zip(envs, chunk)]
                successes += run_episodes(policy, envs, ablation)
                bar.set_postfix(success=f'{np.mean(successes):.2f}')
            row[variant] = float(np.mean(successes))
            row[f'{variant}_ci95'] = success_cell(successes)['ci95']
            row[f'{variant}_seconds'] = round(time.time() - start, 1)
            print(f'[memory-eval] {task:24s} {variant:10s} success {row[variant]:.2f} '
                  f'({len(successes)} episodes, {row[f"{variant}_seconds"]} s)', flush=True)
        results['tasks'][task] = row
    results['train_seeds'] = str(meta.get('dataset', {}).get('train_seeds', ''))
    return results


def markdown_table(results: dict[str, Any]) -> str:
    """The results table: success per task and variant, plus the chance ceiling."""
    variants = [v for v in VARIANTS if any(v in r for r in results['tasks'].values())]
    head = '| task | ' + ' | '.join(variants) + ' | chance ceiling |'
    lines = [head, '|' + ' --- |' * (len(variants) + 2)]

    def cell(row: dict[str, Any], v: str) -> str:
        if v not in row:
            return '-'
        ci = row.get(f'{v}_ci95')
        extra = f' ({100 * ci[0]:.0f}-{100 * ci[1]:.0f})' if ci else ''
        return f'{100 * row[v]:.0f} %{extra}'

    for task, row in results['tasks'].items():
        cells = [cell(row, v) for v in variants]
        chance = '-' if row.get('chance') is None else f'{100 * row["chance"]:.0f} %'
        lines.append(f'| {task} | ' + ' | '.join(cells) + f' | {chance} |')
    if len(results['tasks']) > 1:
        means = [np.mean([r[v] for r in results['tasks'].values() if v in r]) for v in variants]
        lines.append('| **mean** | ' + ' | '.join(f'{100 * m:.0f} %' for m in means) + ' | |')
    return '\n'.join(lines)


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog='memory-eval', description=__doc__.split('\n')[0])
    p.add_argument('--checkpoint', type=Path, required=True)
    p.add_argument('--tasks', required=True, help="comma-separated, e.g. 'synthetic_cups'")
    p.add_argument('--seeds', default='', help='held-out seeds, e.g. 5000-5049')
    p.add_argument('--protocol-episodes', type=int, default=0,
                   help="N episodes on the suite's protocol seeds (sim.evaluation.seeds_for)")
    p.add_argument('--variants', default=','.join(DEFAULT_VARIANTS),
                   help=f'comma-separated, of {",".join(VARIANTS)}')
    p.add_argument('--batch', type=int, default=10, help='envs run in lock step')
    p.add_argument('--device', default='auto')
    p.add_argument('--threads', type=int, default=0)
    p.add_argument('--text-cache', type=Path,
                   help='JSON {instruction: vector}; default <checkpoint>/text_cache.json')
    p.add_argument('--out', type=Path, help='write results JSON (+ .md table) here')
    p.add_argument('--replan-every', type=int, default=None,
                   help="predict a new chunk every N steps (default: the checkpoint's "
                        'diffusion.replan_every; 0 = n_action_steps)')
    p.add_argument('--inference-steps', type=int, default=None,
                   help="DDIM / DPM-Solver steps per chunk (default: the checkpoint's "
                        'diffusion.inference_steps)')
    p.add_argument('--slot-order', default='task', choices=('task', 'shuffled'),
                   help="object slots in the task's order, or shuffled per episode (as "
                        'the ROS graph, which orders them by class and track number)')
    p.add_argument('--inputs', default='sim', choices=INPUTS,
                   help="'graph': the end-effector pose in proprio is the commanded one and "
                        'the object slots are one step old, as the ROS action-expert node '
                        "sees them (GraphInputsEnv); 'perception': that, with the object "
                        "slots and image made by the preprocessor's pipeline from the "
                        "bridge's camera frames (PerceptionInputsEnv)")
    p.add_argument('--knob', action='append', default=[], metavar='NAME=VALUE',
                   help='a difficulty knob of the tasks (sim.TASKS[task].KNOBS), e.g. '
                        'num_candidates=9 for remember_color; repeatable')
    p.add_argument('--proprio-noise', type=float, default=0.0, metavar='SD',
                   help='Gaussian noise of this standard deviation (radians, metres) on the '
                        "proprioception the policy reads, as a robot's sensors give it "
                        '(SensorNoiseEnv); 0: none')
    p.add_argument('--object-noise', type=float, default=0.0, metavar='SD',
                   help='Gaussian noise of this standard deviation (metres) on the position '
                        "of every visible object slot, as a depth camera's jitter gives it "
                        '(SensorNoiseEnv); 0: none')
    p.add_argument('--image-noise', type=float, default=0.0, metavar='SD',
                   help='Gaussian noise of this standard deviation (grey levels of 255) on '
                        'every camera pixel (SensorNoiseEnv); 0: none')
    p.add_argument('--object-dropout', type=float, default=0.0, metavar='P',
                   help='probability per step that a visible object slot reads as not seen, '
                        'as a detector misses an object now and then (SensorNoiseEnv); 0: none')
    p.add_argument('--hold-missed-steps', type=int, default=0, metavar='N',
                   help='the policy shows a slot missed for at most N steps in a row as it '
                        'was last seen (models/slot_hold.py); 0: off')
    p.add_argument('--no-progress', action='store_true')
    return p


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    os.environ.setdefault('HF_HUB_OFFLINE', '1')
    if args.threads:
        torch.set_num_threads(args.threads)
    variants = tuple(v for v in args.variants.split(',') if v)
    for v in variants:
        if v not in VARIANTS:
            raise ValueError(f'variants: {v!r} is not one of {VARIANTS}')
    if args.protocol_episodes > 0:
        from sim.evaluation import seeds_for

        seeds = sorted(seeds_for(args.protocol_episodes))
    else:
        seeds = sorted(parse_seeds(args.seeds) or [])
    if not seeds:
        raise ValueError(f'seeds={args.seeds!r}: give --seeds or --protocol-episodes')
    tasks = [t for t in args.tasks.split(',') if t]
    knobs = {}
    if args.knob:
        from sim.knobs import parse_knobs

        knobs = parse_knobs(args.knob)
    results = evaluate(args.checkpoint, tasks, seeds, variants, args.batch, args.device,
                       progress=not args.no_progress, text_cache=args.text_cache,
                       replan_every=args.replan_every, slot_order=args.slot_order,
                       inputs=args.inputs, inference_steps=args.inference_steps,
                       knobs=knobs, proprio_noise=args.proprio_noise,
                       object_noise=args.object_noise, image_noise=args.image_noise,
                       object_dropout=args.object_dropout,
                       hold_missed_steps=args.hold_missed_steps)
    table = markdown_table(results)
    print(table)
    if args.out:
        write_private_text(args.out, json.dumps(results, indent=1, default=str))
        write_private_text(args.out.with_suffix('.md'), table + '\n')
    return 0


if __name__ == '__main__':
    sys.exit(main())
