#!/usr/bin/env python3
"""How far the ROS graph's object slots are from the simulator's, feature by feature.

What it is for: the policy is trained on the simulator's object features (sim.env.
object_features: body origin, colour, lit, class, state); in the ROS graph the action-expert
node builds them from the preprocessor's tracks (action_expert_node.SlotTable). This runs a
task's scripted expert in MuJoCo, renders the scene camera as the sim bridge publishes it
in the main job (colour, depth, instance ids at the main job's size), runs the preprocessor's
pipeline on each frame with the main job's settings (memory_nodes.perception.pipeline, no
ROS), maps the tracks to slots with the node's SlotTable (memory_nodes/perception/
sim_inputs.py has these pieces), and compares each slot with the simulator's features of the
same object (matched by instance id). Prints, per object class and feature, the mean absolute
difference over the steps where both see the object, how often one sees it and the other
does not, and how many tracks the preprocessor made per object (more than 1: a track broke
and the object took a new slot).

    .venv/bin/python scripts/graph_object_gap.py --task where_did_i_leave_it --seeds 0-3
"""

import argparse
from collections import defaultdict
from types import SimpleNamespace

import numpy as np

from memory_nodes.perception.labels import DEFAULT_CLASS_NAMES, InstanceLabeler
from memory_nodes.perception.objects import ObjectConfig
from memory_nodes.perception.pipeline import Preprocessor
from memory_nodes.perception.sim_inputs import (
    CONTROL_DT,
    MAIN_JOB_MIN_OBJECT_PIXELS,
    ObservationView,
    bridge_image_size,
    camera_frame,
)
from memory_nodes.perception.slots import SlotTable
import sim
from sim import instance_ids
from sim.dataset import OBJECT_FEATURE_NAMES
from sim.experts import make_expert


def episode_gap(task, seed, width, height, stats):
    env = sim.make_env(task, seed, mode='memory')
    env.reset()
    expert = make_expert(env)
    pre = Preprocessor(InstanceLabeler(DEFAULT_CLASS_NAMES),
                       ObjectConfig(min_pixels=MAIN_JOB_MIN_OBJECT_PIXELS))
    table = SlotTable(10, DEFAULT_CLASS_NAMES)
    slot_of_id = {int(i): k for k, i in enumerate(instance_ids.slot_ids(env))}
    done, step = False, 0
    while not done:
        result = pre.process(camera_frame(env, step * CONTROL_DT, width, height),
                             with_cloud=False)
        msg = SimpleNamespace(objects=[ObservationView(t) for t in result.tracks])
        graph = table.features(msg)
        truth = env.object_features()
        for track in result.tracks:
            slot = table.slot_of.get(track.track_id)
            k = slot_of_id.get(int(track.instance_id))
            if slot is None or k is None:
                continue
            kind = env.objects[env.slot_names[k]].kind
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
        _, done, _ = env.step(expert())
        step += 1
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
