"""Figure records and machine description shared by the benchmark scripts (scripts/bench_*.py).

A *figure* is one number a benchmark measured, beside the baseline measured in the same run
and the project's target for it where there is one. Every benchmark's ``--json`` holds a
``figures`` list of ``Figure.to_dict()`` records and a ``machine`` block from
``machine_info()``; ``scripts/bench_all.py`` gathers them into one JSON and
``scripts/perf_table.py`` renders that into the README's performance table.

Record (all keys always present, JSON null where not applicable)::

    {"name": str, "value": float, "unit": str,
     "baseline_name": str | null, "baseline_value": float | null,
     "ratio": value / baseline_value | null,
     "target": "<op> <number>" or "ratio <op> <number>" | null,
     "met": bool | null, "headline": bool}

``target`` applies to ``value`` in ``unit`` (``'<= 25'``), or to ``ratio`` when it starts
with ``ratio`` (``'ratio <= 1.3'``); ``op`` is one of ``<= < >= > ==``. ``headline`` marks
the figures the README's table shows (``perf_table.py --all`` shows every figure).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timezone
import importlib.metadata
import json
import math
import operator
import os
from pathlib import Path
import platform
import re
import shutil
import subprocess
import sys

SCHEMA_VERSION = 1
FIELDS = ('name', 'value', 'unit', 'baseline_name', 'baseline_value', 'ratio', 'target',
          'met', 'headline')
OPERATORS = {'<=': operator.le, '<': operator.lt, '>=': operator.ge, '>': operator.gt,
             '==': operator.eq}
_TARGET = re.compile(r'^(ratio\s*)?(<=|>=|==|<|>)\s*([-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?)$')
VERSIONED_PACKAGES = ('torch', 'rclpy', 'mujoco', 'numpy', 'open3d')
ROOT = Path(__file__).resolve().parents[1]


def _number(field: str, value, name: str) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise ValueError(f'figure {name!r}: {field} must be a finite number, got {value!r}')
    return float(value)


def parse_target(target: str) -> tuple[bool, str, float]:
    """'<= 25' -> (False, '<=', 25.0); 'ratio <= 1.3' -> (True, '<=', 1.3)."""
    match = _TARGET.match(target.strip()) if isinstance(target, str) else None
    if match is None:
        raise ValueError(f'target {target!r}: expected "<op> <number>" or "ratio <op> <number>"'
                         f' with op one of {" ".join(OPERATORS)}')
    return bool(match.group(1)), match.group(2), float(match.group(3))


@dataclass(frozen=True)
class Figure:
    """One measured number, its same-run baseline and its target (see the module doc)."""

    name: str
    value: float
    unit: str = ''
    baseline_name: str | None = None
    baseline_value: float | None = None
    target: str | None = None
    headline: bool = True

    def __post_init__(self):
        if not isinstance(self.name, str) or not self.name.strip():
            raise ValueError(f'figure name must be a non-empty string, got {self.name!r}')
        object.__setattr__(self, 'value', _number('value', self.value, self.name))
        if not isinstance(self.unit, str):
            raise ValueError(f'figure {self.name!r}: unit must be a string, got {self.unit!r}')
        if (self.baseline_name is None) != (self.baseline_value is None):
            raise ValueError(f'figure {self.name!r}: baseline_name ({self.baseline_name!r}) and '
                             f'baseline_value ({self.baseline_value!r}) go together')
        if self.baseline_name is not None:
            if not isinstance(self.baseline_name, str) or not self.baseline_name.strip():
                raise ValueError(f'figure {self.name!r}: baseline_name must be a non-empty '
                                 f'string, got {self.baseline_name!r}')
            object.__setattr__(self, 'baseline_value',
                               _number('baseline_value', self.baseline_value, self.name))
        if self.target is not None:
            try:
                on_ratio, _, _ = parse_target(self.target)
            except ValueError as err:
                raise ValueError(f'figure {self.name!r}: {err}') from None
            if on_ratio and self.baseline_value is None:
                raise ValueError(f'figure {self.name!r}: target {self.target!r} is on the ratio'
                                 ' but the figure has no baseline')
        if not isinstance(self.headline, bool):
            raise ValueError(f'figure {self.name!r}: headline must be true or false, got '
                             f'{self.headline!r}')

    @property
    def ratio(self) -> float | None:
        """value / baseline_value (None without a baseline or with a zero baseline)."""
        if self.baseline_value in (None, 0.0):
            return None
        return self.value / self.baseline_value

    @property
    def met(self) -> bool | None:
        """Whether the target holds (None without a target or when its ratio is undefined)."""
        if self.target is None:
            return None
        on_ratio, op, bound = parse_target(self.target)
        subject = self.ratio if on_ratio else self.value
        return None if subject is None else bool(OPERATORS[op](subject, bound))

    def to_dict(self) -> dict:
        return {'name': self.name, 'value': self.value, 'unit': self.unit,
                'baseline_name': self.baseline_name, 'baseline_value': self.baseline_value,
                'ratio': self.ratio, 'target': self.target, 'met': self.met,
                'headline': self.headline}

    @classmethod
    def from_dict(cls, data) -> Figure:
        """Check a record read back from JSON; a stored ratio or met that disagrees with the
        value, baseline and target is an error (a hand-edited or corrupted file)."""
        if not isinstance(data, dict):
            raise ValueError(f'figure record must be an object, got {data!r}')
        missing = [k for k in FIELDS if k not in data]
        if missing:
            raise ValueError(f'figure record {data.get("name")!r} lacks {", ".join(missing)}')
        fig = cls(data['name'], data['value'], data['unit'], data['baseline_name'],
                  data['baseline_value'], data['target'], data['headline'])
        stored = data['ratio']
        if (stored is None) != (fig.ratio is None) or (
                stored is not None and not math.isclose(stored, fig.ratio, rel_tol=1e-6)):
            raise ValueError(f'figure {fig.name!r}: ratio {stored!r} does not equal value / '
                             f'baseline_value = {fig.ratio!r}')
        if data['met'] != fig.met:
            raise ValueError(f'figure {fig.name!r}: met {data["met"]!r} does not follow from '
                             f'value {fig.value!r} and target {fig.target!r} ({fig.met!r})')
        return fig


def figure_dicts(figures) -> list[dict]:
    return [f.to_dict() for f in figures]


# ---------------------------------------------------------------------------- machine
def _cpu_model() -> str:
    try:
        for line in Path('/proc/cpuinfo').read_text().splitlines():
            if line.startswith('model name'):
                return line.split(':', 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def _gpu() -> dict:
    """GPU names from nvidia-smi, else from torch when torch sees CUDA; empty when none."""
    names: list[str] = []
    if shutil.which('nvidia-smi'):
        try:
            res = subprocess.run(['nvidia-smi', '--query-gpu=name', '--format=csv,noheader'],
                                 capture_output=True, text=True, timeout=20)
            names = [n.strip() for n in res.stdout.splitlines() if n.strip()]
        except (OSError, subprocess.SubprocessError):
            names = []
    torch_cuda = None
    try:
        import torch
        torch_cuda = bool(torch.cuda.is_available())
        if torch_cuda and not names:
            names = [torch.cuda.get_device_name(i) for i in range(torch.cuda.device_count())]
    except ImportError:
        pass
    return {'gpu': ', '.join(names) if names else None, 'torch_cuda': torch_cuda}


def _git() -> dict:
    def git(*args):
        res = subprocess.run(['git', '-C', str(ROOT), *args], capture_output=True, text=True,
                             timeout=20)
        return res.stdout.strip() if res.returncode == 0 else None
    try:
        commit = git('rev-parse', 'HEAD')
        status = git('status', '--porcelain', '--untracked-files=no')
    except (OSError, subprocess.SubprocessError):
        return {'git_commit': None, 'git_dirty': None}
    return {'git_commit': commit, 'git_dirty': None if status is None else bool(status)}


def _version(package: str) -> str | None:
    try:
        return importlib.metadata.version(package)
    except importlib.metadata.PackageNotFoundError:
        return None


def machine_info() -> dict:
    """What the figures were measured on: CPU, cores, RAM, GPU, OS, Python, package
    versions, git commit, date (UTC) and the load average at the time of the call."""
    import psutil
    info = {
        'cpu': _cpu_model(),
        'cores_logical': os.cpu_count(),
        'cores_physical': psutil.cpu_count(logical=False),
        'ram_gb': round(psutil.virtual_memory().total / 2**30, 1),
        **_gpu(),
        'os': platform.platform(),
        'python': platform.python_version(),
        'versions': {p: _version(p) for p in VERSIONED_PACKAGES},
        **_git(),
        'date': datetime.now(timezone.utc).isoformat(timespec='seconds'),
        'loadavg': [round(x, 2) for x in os.getloadavg()],
    }
    return info


# ---------------------------------------------------------------------------- files
def _finite(data):
    """A copy with NaN and infinities (a raw percentile of nothing) as null: strict JSON."""
    if isinstance(data, float) and not math.isfinite(data):
        return None
    if isinstance(data, dict):
        return {k: _finite(v) for k, v in data.items()}
    if isinstance(data, (list, tuple)):
        return [_finite(v) for v in data]
    return data


def write_json(path, data) -> None:
    """Write ``data`` to ``path`` atomically (a reader never sees half a file)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + f'.tmp{os.getpid()}')
    tmp.write_text(json.dumps(_finite(data), indent=1, allow_nan=False) + '\n')
    os.replace(tmp, path)


def result_document(benchmark: str, figures, raw: dict | None = None) -> dict:
    """One benchmark script's --json: its raw measurements (the keys it always wrote, kept
    at the top level) plus schema, benchmark, argv, machine and figures."""
    return {**(raw or {}), 'schema': SCHEMA_VERSION, 'benchmark': benchmark,
            'argv': sys.argv[1:], 'machine': machine_info(), 'figures': figure_dicts(figures)}


def load_figures(path) -> list[Figure]:
    """The checked figures of one benchmark's --json (a clear error when it has none)."""
    data = json.loads(Path(path).read_text())
    if not isinstance(data, dict) or not isinstance(data.get('figures'), list):
        raise ValueError(f'{path}: no "figures" list (not written by a benchmark --json?)')
    return [Figure.from_dict(f) for f in data['figures']]
