"""Why did an episode go differently through the ROS graph than in one process?

What it is for: `memory-eval --inputs perception` plays a task in one process on the graph's
perception; the main job plays it through the ROS graph. When the two disagree, this takes
one episode the action-expert node recorded (main job `--record-policy-inputs`, one `.npz`
per episode, memory_nodes/policy_inputs.py) and
1. replays the recorded observations through a fresh policy of the same checkpoint (the
   node's noise seed): its executed actions should be the node's but for a few chunks near
   a mode boundary (most chunks apart means the node ran other weights, settings or steps
   than the checkpoint says);
2. plays the same task and seed in one process (`--inputs`, default perception) and
   compares, step by step, what the policy saw there with what the node saw: the first step
   whose object slots or proprioception differ, and how many steps before the act phase
   differ (before the arm acts on the answer the two should be equal);
3. prints, per planning step, which object slot the goal pointer chose in each (does the
   policy remember the same answer and fail on the motion, or remember another one?).

    .venv/bin/python scripts/replay_policy_inputs.py \
        runs/main_job/<time>/action_expert/policy_inputs/where_did_i_leave_it-5000-*.npz \
        --checkpoint models/checkpoints/pcmb_seven_pr
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
import sys

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from memory_nodes.policy_inputs import load_policy_inputs  # noqa: E402
from models import DEFAULT_CHECKPOINT, load_policy  # noqa: E402
from models.evaluate import DELAY_PHASE, INPUTS, make_env, stack_obs, wrap_inputs  # noqa: E402
from models.goal_pointer import watch_logits  # noqa: E402

ACT_PHASE = DELAY_PHASE + 1  # sim.dataset.PHASE_NAMES: cue, delay, act


def parse_episode_id(episode_id: str) -> tuple[str, int, str]:
    """The node's episode id '<task>-<seed>-<mode>-<start ns>' -> (task, seed, mode)."""
    parts = episode_id.rsplit('-', 3)
    if len(parts) != 4 or not parts[1].isdigit():
        raise ValueError(f'episode_id={episode_id!r}: expected <task>-<seed>-<mode>-<ns>')
    return parts[0], int(parts[1]), parts[2]


def watch_pointer(policy) -> list:
    """Record the goal pointer's slot weights (K + stored slots) at every fuse of `policy`;
    -> the list it fills (stays empty for a network without a pointer)."""
    seen = []
    if policy.net.pointer is not None:
        watch_logits(policy.net, lambda logits: seen.append(
            torch.softmax(logits.float(), -1)[0].cpu().numpy()))
    return seen


def replay(policy, recording: dict, instruction: str) -> dict:
    """Feed the recorded observations through `policy` as the node does (`act_chunk` every
    step); -> how far the executed actions (each chunk's first replan_every rows) are from
    the recorded ones (the median over chunks of each one's largest difference, and the
    number of chunks more than 0.01 apart), and the pointer's weights per planning step.
    Exact agreement is not to be had: near a boundary between two modes of the action
    distribution (the gripper's open / shut, a far row's place) a 1e-4 difference of
    summation order takes a row to the other mode, so a few chunks of an episode are apart."""
    pointer = watch_pointer(policy)
    policy.reset(instruction)
    camera = policy.cfg.encoder.cameras[0]
    diffs = []
    for i in range(len(recording['step'])):
        obs = {camera: recording['image'][i], 'proprio': recording['proprio'][i],
               'objects': recording['objects'][i], 'phase': recording['phase'][i]}
        chunk = policy.act_chunk(obs)
        if chunk is not None and np.all(np.isfinite(recording['chunk'][i])):
            rows = slice(0, policy.replan_every)
            diffs.append(float(np.abs(chunk[0, rows] - recording['chunk'][i][rows]).max()))
    return {'action_median_diff': float(np.median(diffs)) if diffs else None,
            'chunks_apart': int(np.sum(np.asarray(diffs) > 0.01)), 'chunks': len(diffs),
            'pointer': pointer}


def play_in_process(policy, task: str, seed: int, mode: str, inputs: str) -> dict:
    """The same episode in one process (`select_action`, as memory-eval plays it); -> what
    the policy saw per step, the pointer's weights per planning step and the outcome."""
    pointer = watch_pointer(policy)
    env = wrap_inputs([make_env(task, seed, mode)], inputs,
                      policy.cfg.encoder.object_slots)[0]
    policy.reset(env.instruction)
    obs, done, seen = env.reset(), False, []
    while not done:
        seen.append({k: np.asarray(obs[k]).copy() for k in ('objects', 'proprio', 'phase')})
        action = policy.select_action(stack_obs([obs])).reshape(-1)
        obs, done, _ = env.step(action)
    return {'instruction': env.instruction, 'seen': seen, 'pointer': pointer,
            'success': bool(env.success())}


def first_differences(recording: dict, seen: list[dict], tol: float = 1e-3) -> dict:
    """Where the node's inputs and the in-process ones part: the first step whose slots /
    proprio differ by more than `tol`, and the number of differing steps before the act
    phase (of the steps both have)."""
    n = min(len(seen), len(recording['step']))
    out = {'steps_compared': n, 'first_objects': None, 'first_proprio': None,
           'objects_before_act': 0, 'steps_before_act': 0}
    for i in range(n):
        d_obj = np.abs(recording['objects'][i] - seen[i]['objects']).max()
        d_pro = np.abs(recording['proprio'][i] - seen[i]['proprio']).max()
        if d_obj > tol and out['first_objects'] is None:
            out['first_objects'] = i
        if d_pro > tol and out['first_proprio'] is None:
            out['first_proprio'] = i
        if int(recording['phase'][i]) < ACT_PHASE:
            out['steps_before_act'] += 1
            out['objects_before_act'] += int(d_obj > tol)
    return out


def compare(recording_path: Path, checkpoint: Path, inputs: str = 'perception',
            seed_noise: int = 0) -> dict:
    """The three comparisons of the module docstring for one recorded episode."""
    recording = load_policy_inputs(recording_path)
    task, seed, mode = parse_episode_id(recording['episode_id'])
    policy = load_policy(checkpoint, device='cpu', seed=seed_noise)
    inproc = play_in_process(policy, task, seed, mode, inputs)
    node = replay(load_policy(checkpoint, device='cpu', seed=seed_noise), recording,
                  inproc['instruction'])
    plan_steps = list(range(0, len(recording['step']), policy.replan_every))
    slots = policy.cfg.encoder.object_slots
    pointers = [{'step': s, 'phase': int(recording['phase'][s]),
                 'graph': _choice(node['pointer'], k, slots),
                 'in_process': _choice(inproc['pointer'], k, slots)}
                for k, s in enumerate(plan_steps)]
    return {'task': task, 'seed': seed, 'mode': mode, 'graph_steps': len(recording['step']),
            'in_process_steps': len(inproc['seen']), 'in_process_success': inproc['success'],
            'replay': {k: node[k] for k in ('action_median_diff', 'chunks_apart', 'chunks')},
            'inputs': first_differences(recording, inproc['seen']), 'pointer': pointers}


def _choice(weights: list, k: int, slots: int) -> list | None:
    """[what, weight] the pointer chose at its k-th planning step ('slot 3': the step's own
    slot 3; 'bank 21.3': slot 3 as stored in the bank's entry 21), or None past its end."""
    if k >= len(weights):
        return None
    i = int(np.argmax(weights[k]))
    what = f'slot {i}' if i < slots else f'bank {(i - slots) // slots}.{(i - slots) % slots}'
    return [what, round(float(weights[k][i]), 3)]


def _number(x: float | None) -> str:
    return 'none (no chunk to compare)' if x is None else f'{x:.2g}'


def report(result: dict) -> str:
    """The comparison as lines of text (the pointer's choices in the act phase only)."""
    r, d = result, result['inputs']
    lines = [f"{r['task']} seed {r['seed']}: {r['graph_steps']} steps through the graph; in "
             f"one process {r['in_process_steps']} steps, "
             f"{'success' if r['in_process_success'] else 'failure'}",
             f"replayed actions against the node's (the rows it executed): median max|diff| "
             f"{_number(r['replay']['action_median_diff'])}, {r['replay']['chunks_apart']} "
             f"of {r['replay']['chunks']} chunks more than 0.01 apart",
             f"inputs: first differing slots at step {d['first_objects']}, proprio at step "
             f"{d['first_proprio']}; before the act phase {d['objects_before_act']} of "
             f"{d['steps_before_act']} steps differ in their slots",
             'pointer per planning step in the act phase (slot, weight) graph | in process:']
    for p in r['pointer']:
        if p['phase'] >= ACT_PHASE:
            lines.append(f"  step {p['step']:4d}  {p['graph']}  |  {p['in_process']}")
    return '\n'.join(lines)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    p.add_argument('recording', type=Path, nargs='+', help='.npz files the node recorded')
    p.add_argument('--checkpoint', type=Path, default=DEFAULT_CHECKPOINT)
    p.add_argument('--inputs', choices=INPUTS, default='perception',
                   help='what the in-process run shows the policy (memory-eval --inputs)')
    p.add_argument('--noise-seed', type=int, default=0,
                   help="the diffusion noise seed (the node's parameter 'seed')")
    p.add_argument('--json', type=Path, help='also write the results here')
    args = p.parse_args(argv)
    torch.set_num_threads(1)
    results = []
    for path in args.recording:
        results.append(compare(path, args.checkpoint, args.inputs, args.noise_seed))
        print(report(results[-1]), flush=True)
    if args.json:
        args.json.write_text(json.dumps(results, indent=1))
    return 0


if __name__ == '__main__':
    sys.exit(main())
