"""Physics and rendering throughput of the memory-task env.

Prints simulated control steps per second (10 Hz policy steps, 25 physics substeps each)
without rendering, with the two policy cameras at 64x64 (and other sizes), and a bare
mj_step baseline measured in the same run, so the ratio shows what the env's IK, grasping
and bookkeeping cost on top of the physics.

    .venv/bin/python scripts/bench_sim.py [--steps 300] [--sizes 64 128 320x240]
"""

import argparse
import os
import time

os.environ.setdefault('MUJOCO_GL', 'egl')

import mujoco  # noqa: E402

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


def main():
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument('--steps', type=int, default=300, help='control steps per measurement')
    p.add_argument('--tasks', nargs='*', default=['shell_game', 'button_sequence', 'put_back'])
    p.add_argument('--sizes', nargs='*', type=int, default=[64, 128])
    args = p.parse_args()
    print(f'control step = 0.1 s simulated, {sim.make_env("count", 0, render=False).n_substeps}'
          f' physics substeps of 4 ms')
    for task in args.tasks:
        bare = bare_physics_steps_per_second(task, args.steps)
        plain = control_steps_per_second(task, args.steps)
        print(f'{task}: bare mj_step {bare:8.0f} ctl-steps/s | env, no render {plain:7.0f} '
              f'ctl-steps/s ({plain * 0.1:5.1f}x real time, {plain / bare:.2f} of bare)')
        for size in args.sizes:
            rendered = control_steps_per_second(task, max(30, args.steps // 5), size)
            print(f'    env + scene & wrist RGB {size}x{size}: {rendered:6.1f} ctl-steps/s '
                  f'({rendered * 0.1:4.2f}x real time, {rendered / plain:.3f} of no-render)')
    for w, h in ((320, 240), (128, 96)):
        print(f'one {w}x{h} scene frame (videos, bridge): {big_frame_ms("count", w, h):.1f} ms')


if __name__ == '__main__':
    main()
