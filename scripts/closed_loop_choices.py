"""What did the policy choose in closed loop, against the hidden answer?

`memory-eval` says how often a checkpoint succeeds; this says how it fails. It plays protocol
seeds of one task (`models.evaluate.run_episodes`, batches of 10; the simulator's objects
unless `--inputs` says otherwise) and reads, per episode, the hidden answer and what the
policy did from the task:
- count: the number of blinks K against the blue presses (and whether it pressed done);
  summary: exact, within one press, the correlation of presses with K;
- remember_color / shell_game: the object it lifted against the right one (by index);
  summary: a wrong object, none, the right one's neighbour.
`--memory-off` runs the same network with its bank cleared every step; `--inputs
perception` plays it through the graph's inputs as `memory-eval --inputs perception` does
(the preprocessor's pipeline on the camera frames, one-step-old slots).

    .venv/bin/python scripts/closed_loop_choices.py --task count --episodes 30
"""

from __future__ import annotations

import argparse
from pathlib import Path
import sys

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from models import DEFAULT_CHECKPOINT, load_policy  # noqa: E402
from models.evaluate import INPUTS, make_env, run_episodes, wrap_inputs  # noqa: E402
from sim.evaluation import seeds_for  # noqa: E402

TASKS = ('count', 'remember_color', 'shell_game')
BATCH = 10


def choice(task: str, env) -> dict:
    """The hidden answer and the policy's choice of one finished episode."""
    if task not in TASKS:
        raise ValueError(f'task={task!r}: expected one of {TASKS}')
    t = env.task
    if task == 'count':
        return {'answer': int(t.k), 'chosen': int(t.count), 'done_pressed': bool(t.done_pressed)}
    if task == 'remember_color':
        objects, answer, chosen = list(t.cubes), t.cubes[t.target], t.picked
    else:  # shell_game
        objects, answer, chosen = list(t.cups), t.cups[t.ball_cup], t.lifted
    return {'answer': objects.index(answer),
            'chosen': None if chosen is None else objects.index(chosen),
            'objects': objects}


def summarise(task: str, rows: list[dict]) -> dict:
    """Counts over episodes: exact / off by one / correlation (count), wrong / none /
    neighbour (one-object tasks)."""
    if not rows:
        raise ValueError('no episodes to summarise')
    answer = np.array([r['answer'] for r in rows])
    if task == 'count':
        chosen = np.array([r['chosen'] for r in rows])
        spread = answer.std() > 0 and chosen.std() > 0
        return {'episodes': len(rows), 'exact': int((chosen == answer).sum()),
                'within_one': int((abs(chosen - answer) <= 1).sum()),
                'too_many': int((chosen > answer).sum()),
                'too_few': int((chosen < answer).sum()),
                'done_pressed': int(sum(r['done_pressed'] for r in rows)),
                'correlation': float(np.corrcoef(answer, chosen)[0, 1]) if spread else None}
    wrong = [r for r in rows if r['chosen'] is not None and r['chosen'] != r['answer']]
    return {'episodes': len(rows),
            'right': sum(r['chosen'] == r['answer'] for r in rows),
            'wrong_object': len(wrong),
            'none': sum(r['chosen'] is None for r in rows),
            'neighbour': sum(abs(r['chosen'] - r['answer']) == 1 for r in wrong)}


def play(checkpoint: Path, task: str, seeds: list[int], memory: bool = True,
         inference_steps: int | None = 3, inputs: str = 'sim') -> list[dict]:
    """Closed-loop episodes of `task` on `seeds` -> one `choice` row per episode."""
    rows = []
    for i in range(0, len(seeds), BATCH):
        chunk = seeds[i:i + BATCH]
        policy = load_policy(checkpoint, device='cpu', seed=0, memory=memory,
                             batch=len(chunk), inference_steps=inference_steps)
        envs = [make_env(task, s, 'memory') for s in chunk]
        ok = run_episodes(policy, wrap_inputs(envs, inputs, policy.net.cfg.encoder.object_slots))
        for seed, env, success in zip(chunk, envs, ok):
            rows.append({'seed': seed, 'success': success, **choice(task, env)})
    return rows


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    p.add_argument('--checkpoint', type=Path, default=DEFAULT_CHECKPOINT)
    p.add_argument('--task', choices=TASKS, required=True)
    p.add_argument('--episodes', type=int, default=30, help='protocol seeds (seeds_for(N))')
    p.add_argument('--memory-off', action='store_true', help='bank cleared every step')
    p.add_argument('--inference-steps', type=int, default=3)
    p.add_argument('--threads', type=int, default=2)
    p.add_argument('--inputs', choices=INPUTS, default='sim',
                   help="the simulator's objects, or the graph's timing / perception "
                        '(as memory-eval --inputs)')
    args = p.parse_args(argv)
    if args.episodes < 1:
        p.error(f'--episodes is {args.episodes}; expected >= 1')
    torch.set_num_threads(args.threads)
    rows = play(args.checkpoint, args.task, seeds_for(args.episodes), not args.memory_off,
                args.inference_steps, args.inputs)
    for r in rows:
        if not r['success']:
            print(f"seed {r['seed']}: answer {r['answer']}, chosen {r['chosen']}"
                  + (f", done pressed {r['done_pressed']}" if args.task == 'count' else ''))
    print(f'{args.task} ({"bank cleared every step" if args.memory_off else "with its bank"}, '
          f'{args.inputs} inputs): '
          f'{sum(r["success"] for r in rows)}/{len(rows)} solved; '
          f'{summarise(args.task, rows)}')
    return 0


if __name__ == '__main__':
    raise SystemExit(main())
