"""Record scripted-expert demonstrations from the MuJoCo suite as a training dataset.

    python -m models.record_demos --out data/demos --tasks all --seeds 1000-1099 \\
        --modes memory,oracle --workers 2

Uses only the sim's public API (sim.make_env, sim.experts.make_expert, sim.dataset's
EpisodeData / save_episode / write_meta) and writes the contract's layout
`<out>/<task>/ep_<seed>_<mode>.npz` + `<out>/meta.json`. Failed expert episodes are kept out.
Training seeds must differ from the evaluation protocol's seeds (sim.evaluation.seeds_for:
0.., 100000.., 200000..): the default 1000-1099 does.

`--objects perception` records what the ROS graph's action-expert node sees instead of the
simulator's own object features and image: each step's object slots come from the scene
camera through the preprocessor's pipeline and the node's slot table, and the image is the
bridge's frame cropped and resized as the node does (memory_nodes/perception/sim_inputs.py,
the same code as `memory-eval --inputs perception`). A policy trained on such a folder is
trained on its deployment's inputs (drawers seen by their knobs, items hidden inside them,
tracks that break); keep it in its own folder (meta.json says which objects it holds).

`--knob NAME=VALUE` records the tasks with a difficulty knob set (e.g. `num_candidates=5`
for remember colour with five cubes). Episode files are named by seed and mode only, so give
such a run its own seeds: meta.json lists each recording run's seeds and knobs, and a run
whose seeds an earlier run of the same task recorded with other knobs is refused.
"""

from __future__ import annotations

import argparse
from concurrent.futures import ProcessPoolExecutor
import contextlib
import multiprocessing
from pathlib import Path
import sys

import numpy as np

from models.train import parse_seeds

OBJECT_SOURCES = ('sim', 'perception')
PERCEIVED_SLOTS = 10  # object slots of a perception-made episode (the policy's object_slots)


def record_one(task: str, seed: int, mode: str, out: str, objects: str = 'sim',
               knobs: dict | None = None) -> tuple[str, int, str, bool, int]:
    """Run the expert on one env (with the task's `knobs`) and save the episode; returns
    (task, seed, mode, ok, T)."""
    import sim
    from sim.dataset import EpisodeData, episode_filename, save_episode
    from sim.experts import make_expert

    env = sim.make_env(task, seed, mode, **(knobs or {}))
    expert = make_expert(env)
    if objects == 'perception':
        from memory_nodes.perception.sim_inputs import PerceptionInputsEnv
        env = PerceptionInputsEnv(env, PERCEIVED_SLOTS)
    elif objects != 'sim':
        raise ValueError(f'objects={objects!r}: expected one of {OBJECT_SOURCES}')
    obs, info, done = env.reset(), None, False
    steps: dict[str, list] = {k: [] for k in ('rgb', 'wrist_rgb', 'proprio', 'objects', 'phase')}
    actions, gt = [], []
    while not done:
        action = np.asarray(expert(obs, info), np.float32)
        for key in steps:
            steps[key].append(obs[key])
        actions.append(action)
        gt.append(env.gt_positions())
        obs, done, info = env.step(action)
    ok = bool(env.success())
    if ok:
        ep = EpisodeData(
            task=task, seed=seed, mode=mode, instruction=env.instruction, success=ok,
            rgb=np.stack(steps['rgb']), wrist_rgb=np.stack(steps['wrist_rgb']),
            proprio=np.stack(steps['proprio']).astype(np.float32),
            objects=np.stack(steps['objects']).astype(np.float32),
            object_names=list(env.slot_names), action=np.stack(actions),
            phase=np.asarray(steps['phase'], np.int8),
            gt_positions=np.stack(gt).astype(np.float32), hidden=dict(info['hidden']),
            dt=0.1)
        save_episode(Path(out) / task / episode_filename(seed, mode), ep)
    env.close()
    return task, seed, mode, ok, len(actions)


def folder_meta(out: Path, run: dict) -> dict:
    """meta.json's content after a recording run: the tasks and episode counts of everything
    now in the folder (earlier runs' tasks kept), and the list of recording runs."""
    from models.episodes import read_meta

    old = read_meta(out)
    runs = old.get('recordings') or ([{k: old[k] for k in ('tasks', 'modes', 'seeds')}]
                                     if {'tasks', 'modes', 'seeds'} <= set(old) else [])
    files = sorted(Path(out).glob('*/ep_*.npz'))
    episodes: dict[str, int] = {}
    for path in files:
        episodes[path.parent.name] = episodes.get(path.parent.name, 0) + 1
    return {'tasks': sorted(episodes), 'modes': sorted({m for r in [*runs, run]
                                                        for m in r['modes']}),
            'episodes': episodes, 'recordings': [*runs, run],
            'recorded_by': 'models.record_demos (scripted experts)'}


def knob_clashes(earlier_runs: list[dict], tasks: list[str], seeds: list[int],
                 knobs: dict) -> list[str]:
    """The earlier recording runs that recorded one of these tasks and seeds with other
    knobs (their files would be taken for this run's by --resume, or overwritten), as
    'task seeds lo-hi knobs {...}' lines."""
    clashes = []
    for run in earlier_runs:
        if dict(run.get('knobs') or {}) == dict(knobs):
            continue
        shared_tasks = sorted(set(run.get('tasks', [])) & set(tasks))
        shared_seeds = sorted(set(parse_seeds(str(run.get('seeds', ''))) or []) & set(seeds))
        if shared_tasks and shared_seeds:
            clashes.append(f'{",".join(shared_tasks)} seeds {shared_seeds[0]}-'
                           f'{shared_seeds[-1]} knobs {run.get("knobs") or {}}')
    return clashes


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    p.add_argument('--out', type=Path, required=True)
    p.add_argument('--tasks', default='all', help="comma-separated task names or 'all'")
    p.add_argument('--seeds', default='1000-1099')
    p.add_argument('--modes', default='memory,oracle')
    p.add_argument('--workers', type=int, default=2)
    p.add_argument('--resume', action='store_true',
                   help='skip the episodes already in --out (an interrupted recording goes on; '
                        'failed expert episodes, never saved, are run again)')
    p.add_argument('--objects', default='sim', choices=OBJECT_SOURCES,
                   help="object slots and image: the simulator's, or as the ROS graph's "
                        'perception makes them (see the module docstring)')
    p.add_argument('--knob', action='append', default=[], metavar='NAME=VALUE',
                   help='a difficulty knob of the tasks (sim.TASKS[task].KNOBS), e.g. '
                        'num_candidates=5; repeatable; give such a run its own seeds')
    args = p.parse_args(argv)
    from tqdm import tqdm

    from models.episodes import read_meta
    import sim
    from sim.dataset import episode_filename, write_meta
    from sim.knobs import parse_knobs

    tasks = sorted(sim.TASKS) if args.tasks == 'all' else args.tasks.split(',')
    for task in tasks:
        if task not in sim.TASKS:
            raise ValueError(f'tasks: {task!r} is not one of {sorted(sim.TASKS)}')
    seeds = sorted(parse_seeds(args.seeds) or [])
    modes = [m for m in args.modes.split(',') if m]
    knobs = parse_knobs(args.knob)
    for task in tasks:  # a bad knob is refused (named) before anything runs
        sim.TASKS[task](seeds[0] if seeds else 0, **knobs)
    clashes = knob_clashes(read_meta(args.out).get('recordings', []), tasks, seeds, knobs)
    if clashes:
        raise ValueError(f'--knob {knobs}: {args.out} holds ' + '; '.join(clashes)
                         + '; record these knobs with other seeds')
    jobs = [(t, s, m, str(args.out), args.objects, knobs) for t in tasks for s in seeds
            for m in modes
            if not (args.resume and (args.out / t / episode_filename(s, m)).exists())]
    done = {r.get('objects', 'sim') for r in read_meta(args.out).get('recordings', [])}
    if done - {args.objects}:  # one folder, one kind of objects: training reads them all
        raise ValueError(f'--objects {args.objects}: {args.out} holds episodes recorded with '
                         f'--objects {sorted(done)[0]}; record into another folder')
    counts: dict[str, list[int]] = {}
    # worker processes are spawned, not forked: a fork of a process with threads (a test
    # run's rclpy executors, torch's pools) can hang in the child; one worker runs in-process
    pool = (ProcessPoolExecutor(args.workers, mp_context=multiprocessing.get_context('spawn'))
            if args.workers > 1 and len(jobs) > 1 else None)
    results = (pool.map if pool else map)(record_one, *zip(*jobs)) if jobs else []
    with pool or contextlib.nullcontext():
        for task, _, _, ok, length in tqdm(results, total=len(jobs), desc='record'):
            counts.setdefault(task, [0, 0, 0])
            counts[task][0] += 1
            counts[task][1] += int(ok)
            counts[task][2] += length if ok else 0
    write_meta(args.out, folder_meta(args.out, {'tasks': tasks, 'modes': modes,
                                                'seeds': args.seeds,
                                                'objects': args.objects, 'knobs': knobs}))
    for task, (n, ok, steps) in counts.items():
        print(f'[record] {task:22s} {ok}/{n} expert successes kept, {steps} steps')
    return 0


if __name__ == '__main__':
    sys.exit(main())
