"""`memory-sim`: run a task with the scripted expert or a random policy, look at it (frame
strip PNG or GIF video), write the expert table, record datasets (.npz) and rosbag2 (MCAP).

Examples:
  memory-sim list
  memory-sim run shell_game --seed 3 --mode memory --policy expert --strip strip.png
  memory-sim run count --policy random --video count.gif --knob max_blinks=3
  memory-sim table --episodes 100
  memory-sim record --tasks shell_game count --episodes 20 --modes memory oracle --out data/sim
  memory-sim bag button_sequence --seed 1 --out data/bags/button_sequence_1
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time

os.environ.setdefault('MUJOCO_GL', 'egl')

from sim.knobs import choices_of, parse_knobs  # noqa: E402


def make_policy(name: str, env, seed: int):
    from sim.experts import make_expert
    from sim.policies import RandomPolicy
    if name == 'expert':
        return make_expert(env)
    if name == 'random':
        return RandomPolicy(seed)
    raise ValueError(f'policy must be expert or random, got {name!r}')


def cmd_list(args) -> int:
    import sim
    for name, cls in sim.TASKS.items():
        t = cls(0)
        knobs = ', '.join(f'{k}={v[0]!r}' for k, v in cls.KNOBS.items())
        print(f'{name}: chance {100 * t.chance:.1f} % ({cls.chance_note})\n'
              f'    "{t.instruction}"\n    knobs: {knobs}')
        for knob in cls.KNOBS:
            choices = choices_of(name, knob)
            if choices and any(isinstance(c, str) for c in choices):
                listing = ', '.join(f'{i} = {c}' for i, c in enumerate(choices))
                print(f'    StartEpisode knob_values for {knob}: {listing}')
    return 0


def cmd_run(args) -> int:
    import sim
    from sim.viewing import frame_strip, record_video, run_episode, save_png
    env = sim.make_env(args.task, args.seed, args.mode, render=False, **parse_knobs(args.knob))
    policy = make_policy(args.policy, env, args.seed)
    start = time.perf_counter()
    if args.strip:
        image, ok = frame_strip(env, policy, args.width, args.height)
        save_png(args.strip, image)
    elif args.video:
        ok = record_video(env, policy, args.video, args.width, args.height)
    else:
        ok = run_episode(env, policy)
    wall = time.perf_counter() - start
    print(json.dumps({'task': args.task, 'seed': args.seed, 'mode': args.mode,
                      'policy': args.policy, 'success': bool(ok), 'steps': env.step_count,
                      'sim_seconds': round(env.step_count * 0.1, 1), 'wall_seconds':
                      round(wall, 2), 'instruction': env.instruction,
                      'hidden': env.task.hidden()}))
    return 0


def cmd_table(args) -> int:
    from sim.evaluation import expert_table, table_markdown
    rows = expert_table(args.episodes, workers=args.workers, mode=args.mode)
    print(table_markdown(rows))
    if args.json:
        from memory_nodes.file_safety import write_private_text
        write_private_text(args.json, json.dumps(rows, indent=1))
    return 0


def cmd_record(args) -> int:
    from sim.recording import record_dataset
    tasks = args.tasks or list(__import__('sim').TASKS)
    total = len(tasks) * len(args.modes) * args.episodes

    def progress(path, ep):
        progress.n += 1
        print(f'[{progress.n}/{total}] {path} success={ep.success} steps={ep.length}',
              flush=True)
    progress.n = 0
    record_dataset(args.out, tasks, args.episodes, tuple(args.modes),
                   image_size=args.image_size, first_seed=args.first_seed,
                   knobs=parse_knobs(args.knob), progress=progress)
    return 0


def cmd_bag(args) -> int:
    import sim
    from sim.recording import write_bag
    env = sim.make_env(args.task, args.seed, args.mode, render=False, **parse_knobs(args.knob))
    truth = write_bag(env, make_policy(args.policy, env, args.seed), args.out, args.image_size)
    print(json.dumps({'bag': args.out, 'success': truth['success'],
                      'topic_counts': truth['topic_counts']}))
    return 0


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog='memory-sim', description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = p.add_subparsers(dest='command', required=True)
    sub.add_parser('list', help='tasks, instructions, knobs and chance ceilings')

    def common(q, task=True):
        if task:
            q.add_argument('task')
            q.add_argument('--seed', type=int, default=0)
        q.add_argument('--mode', default='memory', choices=('memory', 'oracle', 'cue_visible'))
        q.add_argument('--knob', action='append', help='task knob name=value (repeatable)')

    r = sub.add_parser('run', help='run one episode; optionally save a strip or a video')
    common(r)
    r.add_argument('--policy', default='expert', choices=('expert', 'random'))
    r.add_argument('--strip', help='PNG of key frames (rows) from both cameras')
    r.add_argument('--video', help='GIF (or .mp4 with imageio-ffmpeg) of the scene camera')
    r.add_argument('--width', type=int, default=320)
    r.add_argument('--height', type=int, default=240)
    t = sub.add_parser('table', help='expert success with 95 %% CI and memoryless ceiling')
    t.add_argument('--episodes', type=int, default=100)
    t.add_argument('--workers', type=int, default=2)
    t.add_argument('--mode', default='memory', choices=('memory', 'oracle', 'cue_visible'))
    t.add_argument('--json', help='also write the rows as JSON here')
    rec = sub.add_parser('record', help='record expert demonstrations as .npz + ground truth')
    rec.add_argument('--tasks', nargs='*')
    rec.add_argument('--episodes', type=int, default=10)
    rec.add_argument('--modes', nargs='+', default=['memory'])
    rec.add_argument('--image-size', type=int, default=64)
    rec.add_argument('--first-seed', type=int, default=0)
    rec.add_argument('--out', default='data/sim')
    rec.add_argument('--knob', action='append')
    b = sub.add_parser('bag', help='one episode as a rosbag2 MCAP + ground_truth.json')
    common(b)
    b.add_argument('--policy', default='expert', choices=('expert', 'random'))
    b.add_argument('--image-size', type=int, default=64)
    b.add_argument('--out', required=True)
    return p


def main(argv=None) -> int:
    args = build_parser().parse_args(argv)
    handler = {'list': cmd_list, 'run': cmd_run, 'table': cmd_table, 'record': cmd_record,
               'bag': cmd_bag}[args.command]
    try:
        return handler(args)
    except ValueError as err:
        print(f'memory-sim: error: {err}', file=sys.stderr)
        return 2


if __name__ == '__main__':
    sys.exit(main())
