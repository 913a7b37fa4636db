"""``memory-eval-bag``: record, replay and score bags; report and compare.

    memory-eval-bag sim-bag count --seed 1 --out data/bags/count1          # bag + questions
    memory-eval-bag questions --truth data/bags/count1/ground_truth.json --out q.json
    memory-eval-bag replay data/bags/count1 --memory eval.db \\
        --questions data/bags/count1/questions.json --out reports/count1
    memory-eval-bag replay robot_bag --memory robot.db --questions robot_q.yaml \\
        --topic /camera/color/image_raw:=/camera/scene/color/image_raw ...
    memory-eval-bag report reports/count1/report.json --out reports/count1
    memory-eval-bag compare reports/a reports/b --out a_vs_b.md
    memory-eval-bag record data/bags/live --duration 30 [--outputs] [--storage sqlite3]

Errors print one line naming the bad value and exit with status 2 (docs/evaluation.md).
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
import sys
import time

import numpy as np
import yaml

from memory_nodes.evaluation.bagio import BagError, parse_topic_map
from memory_nodes.evaluation.questions import QuestionError


def _params(entries) -> dict[str, dict]:
    """['preprocessor.camera_pose=[0, 0, 1, 0, 0, 0, 1]'] -> {'preprocessor': {...}}."""
    out = {'preprocessor': {}, 'memory': {}, 'action_expert': {}}
    for entry in entries or ():
        name, sep, value = entry.partition('=')
        node, dot, param = name.partition('.')
        if not sep or not dot or node not in out or not param:
            raise ValueError(f'--param {entry!r} is not NODE.NAME=VALUE with NODE one of '
                             f'{sorted(out)}')
        out[node][param] = yaml.safe_load(value)
    return out


def cmd_replay(args) -> int:
    from memory_nodes.evaluation.questions import load_questions, score_questions, summarize
    from memory_nodes.evaluation.replay import ReplayConfig, ReplayGraph
    from memory_nodes.evaluation.report import build_report, write_report
    qset = load_questions(args.questions) if args.questions else None  # fail early
    params = _params(args.param)
    config = ReplayConfig(bag=args.bag, memory_path=args.memory,
                          topic_map=parse_topic_map(args.topic), rate=args.rate,
                          params_file=args.params, preprocessor_params=params['preprocessor'],
                          memory_params=params['memory'], episode_id=args.episode_id,
                          outcome=args.outcome or '', actions=args.actions,
                          action_expert_params=params['action_expert'],
                          actions_file=args.actions_file)
    with ReplayGraph(config) as graph:
        stats = graph.play()
        results = []
        if qset is not None:
            results = score_questions(
                qset, lambda *a: graph.query(*a), time_origin_s=stats.bag_start_s,
                episode_id=stats.episode_id)
        latency = graph.latency()
        chunks = list(graph.chunks)
    summary = stats.summary()
    summary['latency_ms'] = latency
    scores = summarize(results) if results else {}
    out = {'replay': summary, 'scores': scores}
    if args.actions:
        out['actions'] = _score_actions(config, chunks, stats.bag_start_s)
    if args.out:
        report = build_report(summary, results, scores, latency,
                              {'questions_file': str(args.questions or ''),
                               'memory': str(args.memory),
                               'created': time.strftime('%Y-%m-%dT%H:%M:%S'),
                               **({'actions': out['actions']} if args.actions else {})})
        out['report'] = {k: str(p) for k, p in write_report(report, args.out).items()}
    print(json.dumps(out, indent=1))
    return 0


def _score_actions(config, chunks, bag_start_s) -> dict:
    """The action expert's chunks against the sidecar's or the bag's actions taken."""
    from memory_nodes.evaluation.actions import score_chunks, taken_from_bag
    from memory_nodes.evaluation.bagio import open_reader
    if config.sidecar is not None:
        return score_chunks(chunks, config.sidecar, time_offset_s=bag_start_s)
    reader = open_reader(config.bag)
    try:
        return score_chunks(chunks, taken_from_bag(reader))
    finally:
        reader.close()


def cmd_questions(args) -> int:
    from memory_nodes.evaluation.questions import (
        generate_from_sim,
        sim_object_names,
        write_questions,
    )
    import sim
    truth_path = Path(args.truth)
    if not truth_path.exists():
        raise ValueError(f'ground truth {str(truth_path)!r} does not exist')
    truth = json.loads(truth_path.read_text())
    env = sim.make_env(truth['task'], truth['seed'], truth.get('mode', 'memory'),
                       render=False, **_knobs(args.knob))
    if list(env.slot_names) != truth['object_names']:
        raise ValueError(f'{truth_path}: its objects {truth["object_names"]} differ from '
                         f'task {truth["task"]} seed {truth["seed"]}: {env.slot_names}')
    qset = generate_from_sim(truth, sim_object_names(env))
    env.close()
    write_questions(qset, args.out)
    print(json.dumps({'questions': str(args.out), 'count': len(qset['questions'])}))
    return 0


def _knobs(entries) -> dict:
    out = {}
    for entry in entries or ():
        name, sep, value = entry.partition('=')
        if not sep:
            raise ValueError(f'--knob {entry!r} is not NAME=VALUE')
        out[name] = yaml.safe_load(value)
    return out


def cmd_sim_bag(args) -> int:
    from memory_nodes.evaluation.actions import write_sim_actions
    from memory_nodes.evaluation.questions import (
        generate_from_sim,
        sim_object_names,
        write_questions,
    )
    import sim
    from sim.env import CONTROL_DT
    from sim.experts import make_expert
    from sim.recording import write_bag
    env = sim.make_env(args.task, args.seed, args.mode, render=False, **_knobs(args.knob))
    expert, taken = make_expert(env), []

    def policy(obs, info):  # the expert, with each action and its observation's time kept
        action = expert(obs, info)
        taken.append((env.step_count * CONTROL_DT, np.asarray(action, dtype=float)))
        return action

    truth = write_bag(env, policy, args.out, image_size=args.image_size)
    qset = generate_from_sim(truth, sim_object_names(env))
    env.close()
    path = write_questions(qset, Path(args.out) / 'questions.json')
    write_sim_actions(Path(args.out) / 'actions.json', [t for t, _ in taken],
                      [a for _, a in taken], CONTROL_DT, truth['phase_starts_s'])
    print(json.dumps({'bag': str(args.out), 'questions': str(path),
                      'count': len(qset['questions']), 'success': truth['success']}))
    return 0


def cmd_report(args) -> int:
    from memory_nodes.evaluation.report import load_report, write_report
    paths = write_report(load_report(args.report), args.out)
    print(json.dumps({k: str(p) for k, p in paths.items()}))
    return 0


def cmd_compare(args) -> int:
    from memory_nodes.evaluation.report import compare_reports, load_report
    a, b = load_report(args.a), load_report(args.b)
    text = compare_reports(a, b, names=(Path(args.a).name or 'A', Path(args.b).name or 'B'))
    if args.out:
        from memory_nodes.file_safety import write_private_text
        write_private_text(args.out, text)
    print(text, end='')
    return 0


def cmd_record(args) -> int:
    import signal

    import rclpy

    from memory_nodes.evaluation.record import INPUT_TOPICS, OUTPUT_TOPICS, LiveRecorder
    topics = list(args.topics or INPUT_TOPICS) + (list(OUTPUT_TOPICS) if args.outputs else [])
    stop = {'now': False}
    signal.signal(signal.SIGINT, lambda *_: stop.update(now=True))
    signal.signal(signal.SIGTERM, lambda *_: stop.update(now=True))
    context = rclpy.Context()
    rclpy.init(context=context)
    from rclpy.executors import SingleThreadedExecutor
    executor = SingleThreadedExecutor(context=context)
    recorder = LiveRecorder(args.out, topics, args.storage, context=context,
                            use_sim_time=args.use_sim_time)
    try:
        executor.add_node(recorder.node)
        found = recorder.discover(timeout=args.discovery_s)
        print(json.dumps({'recording': found, 'not_on_graph': [t for t in topics
                                                               if t not in found]}),
              flush=True)
        end = time.monotonic() + args.duration if args.duration else float('inf')
        while not stop['now'] and time.monotonic() < end:
            executor.spin_once(timeout_sec=0.05)
    finally:
        executor.remove_node(recorder.node)
        recorder.close()
        rclpy.try_shutdown(context=context)
    print(json.dumps({'bag': str(args.out), 'counts': recorder.writer.counts}))
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog='memory-eval-bag',
                                     description='Rosbag replay evaluation of the memory '
                                                 'stack (docs/evaluation.md)')
    sub = parser.add_subparsers(dest='command', required=True)
    p = sub.add_parser('replay', help='replay a bag through preprocessor + memory; score')
    p.add_argument('bag', help='rosbag2 folder (MCAP or sqlite3) or .mcap / .db3 file')
    p.add_argument('--memory', required=True, help='SQLite memory file to fill')
    p.add_argument('--questions', help='question set (JSON / YAML) to score after replay')
    p.add_argument('--out', help='folder for report.json, report.md and the plots')
    p.add_argument('--topic', action='append', metavar='BAG:=GRAPH',
                   help='replay bag topic BAG on graph topic GRAPH (repeatable)')
    p.add_argument('--rate', type=float, default=0.0,
                   help='0: as fast as the graph takes it (default); r: r x real time')
    p.add_argument('--params', help='base parameters YAML (default config/params.yaml)')
    p.add_argument('--param', action='append', metavar='NODE.NAME=VALUE',
                   help='a preprocessor, memory or action_expert parameter (YAML value; '
                   'repeatable), e.g. action_expert.checkpoint=DIR')
    p.add_argument('--episode-id', help="episode opened in memory (default replay-<bag>; "
                   "'' for none)")
    p.add_argument('--outcome', choices=['success', 'failure', 'timeout'],
                   help='close the opened episode with this outcome')
    p.add_argument('--actions', action='store_true',
                   help='run the action expert too; score its chunks against the actions '
                   "taken (the bag's /sim/ee_target + /sim/gripper, or a sim bag's "
                   'actions.json)')
    p.add_argument('--actions-file', help='actions taken (sim sidecar JSON)')
    p.set_defaults(func=cmd_replay)
    p = sub.add_parser('questions', help="question set from a sim bag's ground truth")
    p.add_argument('--truth', required=True, help='ground_truth.json beside a sim bag')
    p.add_argument('--out', required=True, help='question set to write (.json / .yaml)')
    p.add_argument('--knob', action='append', help='task knob NAME=VALUE the bag used')
    p.set_defaults(func=cmd_questions)
    p = sub.add_parser('sim-bag', help='record a sim episode as a bag with a question set')
    p.add_argument('task')
    p.add_argument('--seed', type=int, default=0)
    p.add_argument('--mode', default='memory')
    p.add_argument('--out', required=True, help='new bag folder')
    p.add_argument('--image-size', type=int, default=128)
    p.add_argument('--knob', action='append', help='task knob NAME=VALUE (repeatable)')
    p.set_defaults(func=cmd_sim_bag)
    p = sub.add_parser('report', help='rewrite report.md and the plots from report.json')
    p.add_argument('report', help='report.json or its folder')
    p.add_argument('--out', required=True)
    p.set_defaults(func=cmd_report)
    p = sub.add_parser('compare', help='two reports side by side with deltas')
    p.add_argument('a', help='report.json or its folder')
    p.add_argument('b', help='report.json or its folder')
    p.add_argument('--out', help='markdown file to write')
    p.set_defaults(func=cmd_compare)
    p = sub.add_parser('record', help="record the stack's topics from the live graph")
    p.add_argument('out', help='new bag folder')
    p.add_argument('--topics', nargs='+', help="topics (default: the stack's inputs)")
    p.add_argument('--outputs', action='store_true', help="also the stack's outputs")
    p.add_argument('--storage', choices=['mcap', 'sqlite3'], default='mcap')
    p.add_argument('--duration', type=float, default=0.0, help='seconds (0: until Ctrl-C)')
    p.add_argument('--discovery-s', type=float, default=5.0,
                   help="how long to look for the topics' publishers")
    p.add_argument('--use-sim-time', action='store_true', help='stamp with /clock time')
    p.set_defaults(func=cmd_record)
    return parser


def main(argv=None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return args.func(args)
    except (BagError, QuestionError, ValueError, TimeoutError) as error:
        print(f'memory-eval-bag {args.command}: {error}', file=sys.stderr)
        return 2


if __name__ == '__main__':
    sys.exit(main())
