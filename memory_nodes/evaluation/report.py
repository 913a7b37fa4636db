"""The evaluation report: ``report.json`` (every figure), ``report.md`` and PNG plots, and
the side-by-side comparison of two reports.

``report.json`` holds ``replay`` (the replay's figures: speed, frames, latency per stage),
``scores`` (per question type: n, accuracy, error mean / median / p90), ``questions`` (each
question with its truth, the memory's answer, error and verdict) and ``latency_ms``
(percentiles of every measured stage). ``compare_reports`` reads two such files and writes
a markdown table of the figures with their deltas.
"""

from __future__ import annotations

import json
import math
from pathlib import Path

from memory_nodes.file_safety import private_dir, private_file, write_private_text

REPORT_FORMAT = 'memory-eval-report/1'


def build_report(replay: dict, results: list[dict], scores: dict, latency: dict,
                 extra: dict | None = None) -> dict:
    return {'format': REPORT_FORMAT, 'replay': replay, 'scores': scores,
            'latency_ms': latency, 'questions': results, **(extra or {})}


def write_report(report: dict, out_dir) -> dict[str, Path]:
    """Write report.json, report.md and the plots into ``out_dir``; return their paths."""
    out = private_dir(out_dir)   # owner-only folder (0o700) and files (0o600)
    paths = {'json': out / 'report.json', 'markdown': out / 'report.md'}
    paths.update(_plots(report, out))
    write_private_text(paths['json'], json.dumps(report, indent=1, default=_jsonable))
    write_private_text(paths['markdown'], markdown(report, {k: p.name for k, p in paths.items()
                                                            if p.suffix == '.png'}))
    return paths


def _jsonable(value):
    if hasattr(value, 'tolist'):
        return value.tolist()
    return str(value)


def markdown(report: dict, plots: dict | None = None) -> str:
    r = report.get('replay', {})
    lines = [f"# Memory evaluation: {r.get('bag', '?')}", '']
    if report.get('questions_file'):
        lines += [f"Questions: `{report['questions_file']}`", '']
    lines += ['## Replay', '', '| figure | value |', '| --- | --- |']
    for key in ('bag_duration_s', 'wall_s', 'speed_x_real_time', 'rate', 'frames_published',
                'frames_processed', 'frames_waiting', 'observation_messages',
                'observations_ingested', 'episode_id'):
        if key in r:
            lines.append(f'| {key} | {r[key]} |')
    lines += ['', '## Answers per question type', '',
              '| type | n | correct | accuracy | answered | error median | error p90 |',
              '| --- | --- | --- | --- | --- | --- | --- |']
    for kind, s in report.get('scores', {}).items():
        unit = s.get('error_unit', '')
        med = f"{s['error_median']} {unit}" if 'error_median' in s else ''
        p90 = f"{s['error_p90']} {unit}" if 'error_p90' in s else ''
        lines.append(f"| {kind} | {s['n']} | {s['correct']} | {s['accuracy']:.2f} | "
                     f"{s.get('answered', '')} | {med} | {p90} |")
    lines += ['', '## Latency per stage (ms)', '', '| stage | n | p50 | p95 | max |',
              '| --- | --- | --- | --- | --- |']
    for stage, s in report.get('latency_ms', {}).items():
        lines.append(f"| {stage} | {s.get('n', 0)} | {s.get('p50', '')} | {s.get('p95', '')}"
                     f" | {s.get('max', '')} |")
    if report.get('actions'):
        a = report['actions']
        lines += ['', "## Actions: the action expert's chunks against the actions taken", '',
                  f"{a['chunks_scored']} of {a['chunks']} chunks scored against {a['source']}.",
                  '', '| error | first action: mean | median | p90 | executed actions: mean '
                  '| median | p90 |', '| --- | --- | --- | --- | --- | --- | --- |']
        for key in ('position_m', 'yaw_rad', 'gripper'):
            f, e = a[key]['first_action'], a[key]['executed']
            lines.append(f"| {key} | {f.get('mean', '')} | {f.get('median', '')} | "
                         f"{f.get('p90', '')} | {e.get('mean', '')} | {e.get('median', '')} | "
                         f"{e.get('p90', '')} |")
    lines += ['', '## Questions', '', '| id | type | truth | answer | error | right |',
              '| --- | --- | --- | --- | --- | --- |']
    for q in report.get('questions', []):
        err = '' if q['error'] is None else f"{q['error']:.3f}"
        lines.append(f"| {q['id']} | {q['type']} | {_short(q['truth'])} | "
                     f"{_short(q['answer'])} | {err} | {'yes' if q['correct'] else 'no'} |")
    if plots:
        lines += ['', '## Plots', '']
        lines += [f'![{name}]({file})' for name, file in plots.items()]
    return '\n'.join(lines) + '\n'


def _short(value, limit: int = 60) -> str:
    text = json.dumps(value, default=_jsonable) if not isinstance(value, str) else value
    text = text.replace('|', '/')
    return text if len(text) <= limit else text[:limit - 3] + '...'


def _plots(report: dict, out: Path) -> dict[str, Path]:
    import matplotlib
    matplotlib.use('Agg')
    import matplotlib.pyplot as plt
    paths = {}
    scores = {k: v for k, v in report.get('scores', {}).items() if k != 'all'}
    if scores:
        fig, ax = plt.subplots(figsize=(6, 3.2))
        ax.bar(list(scores), [s['accuracy'] for s in scores.values()], color='tab:blue')
        for i, s in enumerate(scores.values()):
            ax.text(i, s['accuracy'] + 0.02, f"{s['correct']}/{s['n']}", ha='center')
        ax.set_ylim(0, 1.15)
        ax.set_ylabel('accuracy')
        ax.set_title('answers per question type')
        paths['accuracy_png'] = _save(fig, out / 'accuracy_per_type.png')
    for kind, unit in (('where', 'm'), ('when', 's')):
        errors = [q['error'] for q in report.get('questions', [])
                  if q['type'] == kind and q['error'] is not None]
        if errors:
            fig, ax = plt.subplots(figsize=(5, 3))
            ax.hist(errors, bins=min(20, max(5, len(errors))), color='tab:orange')
            ax.set_xlabel(f'{kind} error ({unit})')
            ax.set_ylabel('questions')
            ax.set_title(f'{kind}: error distribution ({len(errors)} answered)')
            paths[f'{kind}_errors_png'] = _save(fig, out / f'{kind}_errors.png')
    steps = (report.get('actions') or {}).get('position_m', {}).get('per_horizon_step_mean')
    if steps:
        fig, ax = plt.subplots(figsize=(5, 3))
        ax.plot(range(len(steps)), steps, marker='o')
        ax.set_xlabel('action index in the chunk')
        ax.set_ylabel('position error (m)')
        ax.set_title('action expert vs actions taken')
        paths['action_errors_png'] = _save(fig, out / 'action_errors.png')
    stages = {k: v for k, v in report.get('latency_ms', {}).items() if v.get('n')}
    if stages:
        fig, ax = plt.subplots(figsize=(6.5, 3.2))
        names = list(stages)
        x = range(len(names))
        ax.bar([i - 0.2 for i in x], [stages[n]['p50'] for n in names], 0.4, label='p50')
        ax.bar([i + 0.2 for i in x], [stages[n]['p95'] for n in names], 0.4, label='p95')
        ax.set_xticks(list(x), [n.replace('_ms', '') for n in names], rotation=15,
                      fontsize=7)
        ax.set_ylabel('ms')
        ax.set_title('latency per stage')
        ax.legend()
        paths['latency_png'] = _save(fig, out / 'latency_per_stage.png')
    return paths


def _save(fig, path: Path) -> Path:
    fig.tight_layout()
    fig.savefig(private_file(path), dpi=100)
    import matplotlib.pyplot as plt
    plt.close(fig)
    return path


# ------------------------------------------------------------------------------ compare
def load_report(path) -> dict:
    path = Path(path)
    if path.is_dir():
        path = path / 'report.json'
    if not path.exists():
        raise ValueError(f'report {str(path)!r} does not exist')
    try:
        data = json.loads(path.read_text())
    except json.JSONDecodeError as error:
        raise ValueError(f'report {str(path)!r} is not JSON: {error}') from error
    if not isinstance(data, dict) or data.get('format') != REPORT_FORMAT:
        raise ValueError(f'report {str(path)!r} is not a {REPORT_FORMAT} file')
    return data


def figures(report: dict) -> dict[str, float]:
    """Every number of a report worth comparing, flat: 'scores.where.accuracy' -> 0.8."""
    out = {}
    for key in ('speed_x_real_time', 'wall_s', 'frames_processed', 'observations_ingested'):
        if isinstance(report.get('replay', {}).get(key), (int, float)):
            out[f'replay.{key}'] = report['replay'][key]
    for kind, s in report.get('scores', {}).items():
        for key in ('accuracy', 'correct', 'n', 'error_median', 'error_p90'):
            if key in s:
                out[f'scores.{kind}.{key}'] = s[key]
    for key in ('position_m', 'yaw_rad', 'gripper'):
        value = (report.get('actions') or {}).get(key, {}).get('executed', {}).get('mean')
        if value is not None:
            out[f'actions.{key}.executed_mean'] = value
    for stage, s in report.get('latency_ms', {}).items():
        for key in ('p50', 'p95'):
            if key in s:
                out[f'latency_ms.{stage}.{key}'] = s[key]
    return out


def compare_reports(a: dict, b: dict, names=('A', 'B')) -> str:
    """Markdown table: every figure of either report, side by side, with B - A."""
    fa, fb = figures(a), figures(b)
    lines = [f'| figure | {names[0]} | {names[1]} | delta ({names[1]} - {names[0]}) |',
             '| --- | --- | --- | --- |']
    for key in list(dict.fromkeys([*fa, *fb])):
        va, vb = fa.get(key), fb.get(key)
        delta = '' if va is None or vb is None else _fmt(vb - va, signed=True)
        lines.append(f'| {key} | {_fmt(va)} | {_fmt(vb)} | {delta} |')
    changed = [q['id'] for q in b.get('questions', [])
               if any(p['id'] == q['id'] and p['correct'] != q['correct']
                      for p in a.get('questions', []))]
    if changed:
        lines += ['', f'Questions whose verdict changed: {", ".join(changed)}']
    return '\n'.join(lines) + '\n'


def _fmt(value, signed: bool = False) -> str:
    if value is None:
        return '-'
    if isinstance(value, float) and math.isfinite(value) and value != int(value):
        return f'{value:+.4g}' if signed else f'{value:.4g}'
    return f'{int(value):+d}' if signed else f'{int(value)}'
