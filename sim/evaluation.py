"""Evaluation protocol helpers: episodes over seed groups, success with 95 % Wilson
intervals, the chance ceiling alongside, and the expert table of the README.

`evaluate_policy` runs any `policy_factory(env) -> callable(obs, info) -> action` on a task;
models/ uses the same function for learned policies (their ablations that wipe or shuffle
memory live with the policy, not here).
"""

from __future__ import annotations

from concurrent.futures import ProcessPoolExecutor
from dataclasses import asdict, dataclass
import math

import sim
from sim.experts import make_expert
from sim.policies import RandomPolicy

SEED_GROUP_STRIDE = 100_000  # seed groups: g * stride + i, i < episodes per group


def wilson_interval(successes: int, n: int, z: float = 1.96) -> tuple[float, float]:
    """95 % Wilson score interval of a success rate."""
    if n <= 0:
        raise ValueError(f'n must be positive, got {n}')
    p = successes / n
    denom = 1 + z * z / n
    centre = (p + z * z / (2 * n)) / denom
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / denom
    return max(0.0, centre - half), min(1.0, centre + half)


@dataclass
class EpisodeResult:
    task: str
    seed: int
    mode: str
    success: bool
    steps: int
    outcome: str  # task-specific: 'stale' / 'other' failures, drawers opened, ...


def episode_outcome(env) -> str:
    task = env.task
    if task.name == 'moved_while_watched':
        return task.outcome or 'none'
    if task.name == 'where_did_i_leave_it':
        return f'opened={task.drawers_opened()}'
    return 'success' if env.success() else 'failure'


def run_one(task: str, seed: int, mode: str, policy: str, knobs: dict) -> EpisodeResult:
    env = sim.make_env(task, seed, mode, render=False, **knobs)
    act = make_expert(env) if policy == 'expert' else RandomPolicy(seed)
    obs, info, done = env.reset(), None, False
    while not done:
        obs, done, info = env.step(act(obs, info))
    return EpisodeResult(task, seed, mode, env.success(), env.step_count, episode_outcome(env))


def seeds_for(episodes: int, groups: int = 3) -> list[int]:
    """`episodes` seeds spread over `groups` seed groups (the protocol's 3 seeds)."""
    per = math.ceil(episodes / groups)
    return [g * SEED_GROUP_STRIDE + i for g in range(groups) for i in range(per)][:episodes]


def evaluate(task: str, episodes: int = 100, mode: str = 'memory', policy: str = 'expert',
             knobs: dict | None = None, workers: int = 1) -> list[EpisodeResult]:
    if policy not in ('expert', 'random'):
        raise ValueError(f'policy must be expert or random, got {policy!r}')
    args = [(task, s, mode, policy, dict(knobs or {})) for s in seeds_for(episodes)]
    if workers <= 1:
        return [run_one(*a) for a in args]
    with ProcessPoolExecutor(workers) as pool:
        return list(pool.map(run_one, *zip(*args)))


def summarise(results: list[EpisodeResult]) -> dict:
    n = len(results)
    k = sum(r.success for r in results)
    lo, hi = wilson_interval(k, n)
    return {'episodes': n, 'successes': k, 'success': k / n, 'ci95': (lo, hi)}


def expert_table(episodes: int = 100, workers: int = 2, mode: str = 'memory') -> list[dict]:
    """One row per task: expert success with its 95 % CI and the memoryless ceiling."""
    rows = []
    for name, cls in sim.TASKS.items():
        results = evaluate(name, episodes, mode, 'expert', workers=workers)
        row = {'task': name, 'chance': cls(0).chance, 'chance_note': cls.chance_note,
               **summarise(results)}
        if name == 'where_did_i_leave_it':
            opened = [int(r.outcome.split('=')[1]) for r in results]
            row['drawers_opened'] = sum(opened) / len(opened)
        rows.append(row)
    return rows


def table_markdown(rows: list[dict]) -> str:
    lines = ['| task | expert success (95 % CI) | memoryless ceiling | episodes |',
             '|---|---|---|---|']
    for r in rows:
        lo, hi = r['ci95']
        extra = f'; drawers opened {r["drawers_opened"]:.2f}' if 'drawers_opened' in r else ''
        lines.append(f'| {r["task"]} | {100 * r["success"]:.1f} % ({100 * lo:.1f}-{100 * hi:.1f})'
                     f'{extra} | {100 * r["chance"]:.1f} % ({r["chance_note"]}) | '
                     f'{r["episodes"]} |')
    return '\n'.join(lines)


def results_as_dicts(results: list[EpisodeResult]) -> list[dict]:
    return [asdict(r) for r in results]
