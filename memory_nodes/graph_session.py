"""The main job's node graph, started for a benchmark or a load test that plays episodes back
to back (scripts/bench_graph.py, scripts/load_test.py).

``GraphSession(variant, out, overrides)`` starts the nodes of one main-job variant
(``memory_nodes.main_job.VARIANTS``) one OS process per node, with the variant's parameter
overrides plus the caller's, node logs in ``out``; then the main job's ``Orchestrator`` waits
until the bridge and every node are on the graph and data flows (``wait_for_links``).
``play`` runs episodes until the caller says stop. The memory node gets a fresh store in
``out`` unless the caller names one.
"""

import os
from pathlib import Path
import re

from memory_nodes.main_job import VARIANTS, Orchestrator
from memory_nodes.runner import StackProcesses
from memory_nodes.stack_description import load_stack

AE_STATS = re.compile(r'stats: chunks=(\d+) skipped_cycles=(\d+) dropped_late=(\d+) '
                      r'deferred_cycles=(\d+)')


def action_expert_stats(log):
    """The action expert's newest stats line in its log: {'chunks', 'skipped_cycles',
    'dropped_late', 'deferred_cycles'}, or None when it logged none."""
    found = AE_STATS.findall(log)
    if not found:
        return None
    keys = ('chunks', 'skipped_cycles', 'dropped_late', 'deferred_cycles')
    return dict(zip(keys, (int(v) for v in found[-1])))


def merge_overrides(base, extra):
    """{node: {param: value}} of ``base`` updated per node by ``extra`` (copies)."""
    merged = {name: dict(params) for name, params in base.items()}
    for name, params in (extra or {}).items():
        merged.setdefault(name, {}).update(params)
    return merged


class GraphSession:
    """One variant's graph, one process per node, with an Orchestrator (a context manager)."""

    def __init__(self, variant, out, overrides=None, extra_nodes=()):
        if variant not in VARIANTS:
            raise ValueError(f'variant is {variant!r}; expected one of {sorted(VARIANTS)}')
        nodes, base, _ = VARIANTS[variant]
        self.nodes = tuple(nodes) + tuple(n for n in extra_nodes if n not in nodes)
        self.out = Path(out).resolve()
        self.overrides = merge_overrides(base, overrides)
        if 'memory' in self.nodes:
            memory = self.overrides.setdefault('memory', {})
            memory.setdefault('store_path', str(self.out / 'memory.db'))
            memory.setdefault('storage_root', str(Path(memory['store_path']).parent))
        self.stack = StackProcesses(load_stack('sim'), only=self.nodes,
                                    extra_parameters=self.overrides, log_dir=str(self.out))
        self.orchestrator = None

    @property
    def store_path(self):
        return Path(self.overrides['memory']['store_path']) if 'memory' in self.nodes else None

    def start(self, context_args=None):
        os.environ.setdefault('ROS_AUTOMATIC_DISCOVERY_RANGE', 'LOCALHOST')
        self.out.mkdir(parents=True, exist_ok=True)
        try:
            self.stack.start()
            self.orchestrator = Orchestrator(context_args)
            self.orchestrator.wait_for_bridge()
            self.orchestrator.wait_for_graph(self.nodes)
            self.orchestrator.wait_for_links(self.nodes)
        except BaseException:
            self.stop()
            raise
        return self

    def stop(self):
        if self.orchestrator is not None:
            self.orchestrator.close()
            self.orchestrator = None
        self.stack.stop()

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()
        return False

    def pids(self):
        """{node: pid} of the node processes started (restarted ones: the newest)."""
        return {name: proc.pid for name, proc in self.stack.processes.items()}

    def play(self, tasks, first_seed, keep_going, wall_limit_s, label='graph', on_end=None):
        """Episodes of ``tasks`` in turn (seeds from ``first_seed``) while ``keep_going()``;
        ``wall_limit_s(task, seed)`` bounds each; ``on_end(outcome)`` sees each outcome.
        Returns the outcomes."""
        outcomes = []
        while keep_going():
            i = len(outcomes)
            task, seed = tasks[i % len(tasks)], first_seed + i
            outcome = self.orchestrator.run_episode(task, seed, label, wall_limit_s(task, seed))
            outcomes.append(outcome)
            if on_end is not None:
                on_end(outcome)
        return outcomes

    def log(self, node):
        """The text of a node's log so far ('' when it has none)."""
        path = self.out / f'{node}.log'
        return path.read_text(errors='replace') if path.is_file() else ''
