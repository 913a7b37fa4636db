"""Change a checkpoint's inference settings (no weight depends on them), with a record.

`diffusion.replan_every` (a new chunk every N control steps) and `diffusion.inference_steps`
(DDIM / DPM-Solver steps per chunk) are read by the policy at run time, not learned: a
checkpoint measured better with other values can carry them without retraining. This
rewrites config.json's two fields, leaves model.safetensors untouched, and appends to
meta["settings_changed"] what changed, from what, by which command and at which git commit,
so the checkpoint's provenance stays whole (the training command in meta["command"] is
still the one that made the weights).

    python -m models.inference_settings models/checkpoints/pcmb_recurrent --replan-every 4
"""

from __future__ import annotations

import argparse
from dataclasses import replace
from pathlib import Path
import shlex
import sys
from typing import Any

from models.checkpoint import git_commit, load_config, write_config

SETTINGS = ('replan_every', 'inference_steps')


def set_inference_settings(folder: str | Path, command: str = '',
                           **settings: int | None) -> dict[str, Any]:
    """Set the given `SETTINGS` (None: keep) in `folder`'s config.json; return the record
    appended to meta["settings_changed"] ({} and nothing written when nothing changes).
    A value the config refuses raises ValueError naming it; the file is left as it was."""
    unknown = sorted(set(settings) - set(SETTINGS))
    if unknown:
        raise ValueError(f'settings {unknown}: expected some of {list(SETTINGS)}')
    cfg, meta = load_config(folder)   # refuses pickles, a bad config
    wanted = {k: int(v) for k, v in settings.items() if v is not None}
    before = {k: getattr(cfg.diffusion, k) for k in wanted}
    changed = {k: v for k, v in wanted.items() if before[k] != v}
    if not changed:
        return {}
    cfg = replace(cfg, diffusion=replace(cfg.diffusion, **changed))   # validates the values
    record = {'command': command, 'git_commit': git_commit(),
              'from': {k: before[k] for k in changed}, 'to': changed}
    meta = dict(meta, settings_changed=[*meta.get('settings_changed', []), record])
    write_config(folder, cfg, meta)
    return record


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    p.add_argument('checkpoint', type=Path)
    p.add_argument('--replan-every', type=int, default=None,
                   help='a new chunk every N control steps (0 = n_action_steps)')
    p.add_argument('--inference-steps', type=int, default=None,
                   help='DDIM / DPM-Solver steps per chunk')
    args = p.parse_args(argv)
    command = 'python -m models.inference_settings ' + ' '.join(
        shlex.quote(a) for a in (argv if argv is not None else sys.argv[1:]))
    try:
        record = set_inference_settings(args.checkpoint, command,
                                        replan_every=args.replan_every,
                                        inference_steps=args.inference_steps)
    except ValueError as error:
        print(f'[inference-settings] {error}', file=sys.stderr)
        return 2
    print(f'[inference-settings] {args.checkpoint}: '
          + (f'{record["from"]} -> {record["to"]}' if record else 'nothing to change'))
    return 0


if __name__ == '__main__':
    sys.exit(main())
