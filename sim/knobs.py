"""Task knobs from the outside: text (`name=value`, the CLI and the bridge's `knobs` parameter)
and numbers (the StartEpisode service, whose knob values are float64).

What it is for: every knob, the text-valued choice knobs included (`stage` of
where_did_i_leave_it, `distractor` of put_back), can be set from every entry point. Over
StartEpisode a text choice knob is sent as the index of its choice: `stage` 0 full,
1 place, 2 probe; `distractor` 0 stack, 1 drawer; numeric and boolean knobs are sent as
their value (`num_candidates` 5, `repeats` 1). The error messages name the choices.
"""

from __future__ import annotations

import json
import math

from sim.tasks import TASKS
from sim.tasks.base import COMMON_KNOBS


def parse_knobs(items) -> dict:
    """['name=value', ...] -> {name: value}; JSON numbers and booleans, else the text."""
    knobs = {}
    for item in items or []:
        if '=' not in item:
            raise ValueError(f'knob must look like name=value, got {item!r}')
        key, value = item.split('=', 1)
        try:
            knobs[key] = json.loads(value.lower() if value in ('True', 'False') else value)
        except json.JSONDecodeError:
            knobs[key] = value
    return knobs


def choices_of(task: str, name: str):
    """The choices of a choice knob of a task, or None for a numeric knob / unknown name."""
    table = {**TASKS[task].KNOBS, **COMMON_KNOBS}
    if name not in table:
        return None
    return getattr(table[name][1], 'choices', None)


def knobs_from_numbers(task: str, names, values) -> dict:
    """StartEpisode's knob_names / knob_values -> typed knobs for sim.make_env.

    Integral numbers become int; a text choice knob takes the choice at that index. The
    task's own validators then check ranges and names.
    """
    if task not in TASKS:
        raise ValueError(f'task must be one of {sorted(TASKS)}, got {task!r}')
    names, values = list(names), list(values)
    if len(names) != len(values):
        raise ValueError(f'knob_names has {len(names)} entries, knob_values {len(values)}')
    knobs = {}
    for name, value in zip(names, values):
        value = float(value)
        if not math.isfinite(value):
            raise ValueError(f'knob {name} must be finite, got {value}')
        choices = choices_of(task, name)
        if choices is not None and any(isinstance(c, str) for c in choices):
            if not value.is_integer() or not 0 <= value < len(choices):
                listing = ', '.join(f'{i} = {c!r}' for i, c in enumerate(choices))
                raise ValueError(f'knob {name} of {task} is a choice; send the index of one '
                                 f'of {listing}; got {value:g}')
            knobs[name] = choices[int(value)]
        else:
            knobs[name] = int(value) if value.is_integer() else value
    return knobs
