#!/usr/bin/env python3
"""How far the ROS graph's object slots are from the simulator's, feature by feature.

What it is for: the policy is trained on the simulator's object features (sim.env.
object_features: body origin, colour, lit, class, state); in the ROS graph the action-expert
node builds them from the preprocessor's tracks (perception/slots.py: SlotTable). This runs a
task's scripted expert in MuJoCo, renders the scene camera as the sim bridge publishes it
in the main job (colour, depth, instance ids at the main job's size), runs the preprocessor's
pipeline on each frame with the main job's settings and maps the tracks to slots with the
node's SlotTable (memory_nodes/perception/sim_inputs.py: PerceptionInputsEnv, the same as
`memory-eval --inputs perception`, no ROS), and compares each slot with the simulator's
features of the same object (matched by instance id). Prints, per object class and
feature, the mean absolute difference over the steps where both see the object, how often
one sees it and the other does not, and how many tracks the preprocessor made per object
(more than 1: a track broke and the object took a new slot).

    .venv/bin/python scripts/graph_object_gap.py --task where_did_i_leave_it --seeds 0-3
"""

import argparse
from collections import defaultdict

import numpy as np

from memory_nodes.perception.sim_inputs import PerceptionInputsEnv, bridge_image_size
import sim
from sim import instance_ids
from sim.dataset import OBJECT_FEATURE_NAMES
from sim.experts import make_expert


def episode_gap(task, seed, width, height, stats):
    env = PerceptionInputsEnv(sim.make_env(task, seed, mode='memory'), 10, (width, height))
    obs, done = env.reset(), False
    expert = make_expert(env.env)
    slot_of_id = {int(i): k for k, i in enumerate(instance_ids.slot_ids(env.env))}
    while not done:
        graph, truth = obs['objects'], env.env.object_features()
        for track in env.preprocessor.tracker.tracks.values():
            slot = env.slots.slot_of.get(track.track_id)
            k = slot_of_id.get(int(track.instance_id))
            if slot is None or k is None:
                continue
            kind = env.env.objects[env.env.slot_names[k]].kind
            stats[kind].setdefault('tracks', set()).add((seed, track.track_id))
            stats[kind].setdefault('objects', set()).add((seed, k))
            g, s = graph[slot], truth[k]
            seen_g, seen_s = g[0] > 0.5, s[0] > 0.5
            stats[kind]['steps'] += 1
            stats[kind]['graph_only'] += int(seen_g and not seen_s)
            stats[kind]['sim_only'] += int(seen_s and not seen_g)
            if seen_g and seen_s:
                stats[kind]['both'] += 1
                stats[kind]['abs'] = stats[kind].get('abs', 0) + np.abs(g - s)
                stats[kind]['max'] = np.maximum(stats[kind].get('max', 0), np.abs(g - s))
        obs, done, _ = env.step(expert())
    env.close()


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    p.add_argument('--task', required=True)
    p.add_argument('--seeds', default='0-1', help='e.g. 0-3')
    p.add_argument('--width', type=int, default=0, help="default: the main job's for the task")
    p.add_argument('--height', type=int, default=0)
    args = p.parse_args(argv)
    if not (args.width and args.height):
        args.width, args.height = bridge_image_size(args.task)
    lo, _, hi = args.seeds.partition('-')
    stats = defaultdict(lambda: defaultdict(int))
    for seed in range(int(lo), int(hi or lo) + 1):
        episode_gap(args.task, seed, args.width, args.height, stats)
    names = OBJECT_FEATURE_NAMES[1:]
    print(f'{args.task}, seeds {args.seeds}, {args.width}x{args.height}: mean |graph - sim| '
          '(max) per feature where both see the object')
    print('class    tracks/object steps  both  graph-only  sim-only  '
          + '  '.join(f'{n:>13}' for n in names))
    for kind, s in sorted(stats.items()):
        mean = s['abs'] / max(s['both'], 1) if s['both'] else np.zeros(len(OBJECT_FEATURE_NAMES))
        worst = s['max'] if s['both'] else np.zeros(len(OBJECT_FEATURE_NAMES))
        cells = '  '.join(f'{m:6.3f}({w:5.3f})' for m, w in zip(mean[1:], worst[1:]))
        per_object = len(s['tracks']) / max(len(s['objects']), 1)
        print(f"{kind:8} {per_object:13.2f} {s['steps']:5d} {s['both']:5d} {s['graph_only']:10d} "
              f"{s['sim_only']:9d}  {cells}")
    return 0


if __name__ == '__main__':
    raise SystemExit(main())
