"""Physics and rendering throughput of the memory-task env.

Prints simulated control steps per second (10 Hz policy steps, 25 physics substeps each)
without rendering, with the two policy cameras at 64x64 (and other sizes), and a bare
mj_step baseline measured in the same run, so the ratio shows what the env's IK, grasping
and bookkeeping cost on top of the physics.

    .venv/bin/python scripts/bench_sim.py [--steps 300] [--sizes 64 128] [--json out.json]

--json also writes the figures (memory_nodes.benchmarks records): per task, env steps/s
without rendering against bare mj_step, and with the two cameras against no rendering; one
320x240 scene frame against one 128x96 frame.
"""

import argparse
import os
from pathlib import Path
import sys
import time

os.environ.setdefault('MUJOCO_GL', 'egl')

import mujoco  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from memory_nodes.benchmarks import Figure, result_document, write_json  # noqa: E402
import sim  # noqa: E402
from sim.experts import make_expert  # noqa: E402


def control_steps_per_second(task: str, steps: int, image_size=None) -> float:
    render = image_size is not None
    env = sim.make_env(task, 0, render=render, **({'image_size': image_size} if render else {}))
    obs, info = env.reset(), None
    expert = make_expert(env)
    done, n, start = False, 0, time.perf_counter()
    while n < steps:
        if done:
            obs, info = env.reset(), None
        obs, done, info = env.step(expert(obs, info))
        n += 1
    return n / (time.perf_counter() - start)


def big_frame_ms(task: str, width: int, height: int, frames: int = 20) -> float:
    env = sim.make_env(task, 0, render=False)
    env.reset()
    env.render('scene', width, height)
    start = time.perf_counter()
    for _ in range(frames):
        env.render('scene', width, height)
    return 1000 * (time.perf_counter() - start) / frames


def bare_physics_steps_per_second(task: str, steps: int) -> float:
    env = sim.make_env(task, 0, render=False)
    env.reset()
    m, d = env.model, env.data
    start = time.perf_counter()
    for _ in range(steps * env.n_substeps):
        mujoco.mj_step(m, d)
    return steps / (time.perf_counter() - start)


def figures(raw: dict) -> list[Figure]:
    """The figure records of one run; the first task's figures are the headline ones."""
    figs = []
    for i, (task, r) in enumerate(raw['tasks'].items()):
        figs.append(Figure(f'{task}: env control steps/s, no rendering', r['env_no_render'],
                           'steps/s', 'bare mj_step (same substeps)', r['bare_mj_step'],
                           headline=i == 0))
        for j, (size, rendered) in enumerate(r['env_rendered'].items()):
            figs.append(Figure(f'{task}: env control steps/s, scene + wrist RGB {size}',
                               rendered, 'steps/s', 'env, no rendering', r['env_no_render'],
                               headline=i == 0 and j == 0))
    frames = raw['scene_frame_ms']
    if '320x240' in frames and '128x96' in frames:
        figs.append(Figure('one 320x240 scene frame', frames['320x240'], 'ms',
                           'one 128x96 scene frame', frames['128x96']))
    return figs


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument('--steps', type=int, default=300, help='control steps per measurement')
    p.add_argument('--tasks', nargs='*', default=['shell_game', 'button_sequence', 'put_back'])
    p.add_argument('--sizes', nargs='*', type=int, default=[64, 128])
    p.add_argument('--json', type=Path, help='also write the figures here')
    args = p.parse_args(argv)
    if args.steps < 1:
        p.error(f'--steps is {args.steps}; use at least 1')
    raw = {'steps': args.steps, 'tasks': {}, 'scene_frame_ms': {}}
    print(f'control step = 0.1 s simulated, {sim.make_env("count", 0, render=False).n_substeps}'
          f' physics substeps of 4 ms')
    for task in args.tasks:
        bare = bare_physics_steps_per_second(task, args.steps)
        plain = control_steps_per_second(task, args.steps)
        print(f'{task}: bare mj_step {bare:8.0f} ctl-steps/s | env, no render {plain:7.0f} '
              f'ctl-steps/s ({plain * 0.1:5.1f}x real time, {plain / bare:.2f} of bare)')
        row = raw['tasks'][task] = {'bare_mj_step': bare, 'env_no_render': plain,
                                    'env_rendered': {}}
        for size in args.sizes:
            rendered = control_steps_per_second(task, max(30, args.steps // 5), size)
            print(f'    env + scene & wrist RGB {size}x{size}: {rendered:6.1f} ctl-steps/s '
                  f'({rendered * 0.1:4.2f}x real time, {rendered / plain:.3f} of no-render)')
            row['env_rendered'][f'{size}x{size}'] = rendered
    for w, h in ((320, 240), (128, 96)):
        ms = raw['scene_frame_ms'][f'{w}x{h}'] = big_frame_ms('count', w, h)
        print(f'one {w}x{h} scene frame (videos, bridge): {ms:.1f} ms')
    if args.json:
        write_json(args.json, result_document('sim', figures(raw), raw))
    return 0


if __name__ == '__main__':
    sys.exit(main())
