"""Checkpoints: model.safetensors (weights + normaliser statistics) and config.json.

config.json = {"policy": PolicyConfig as a dict, "meta": {...}} where meta records how the
weights were made (command, seed, dataset, git commit, steps, final loss). Never pickle.
"""

from __future__ import annotations

import json
from pathlib import Path
import subprocess
from typing import Any

from safetensors.torch import load_file, save_file
import torch

from models.config import PolicyConfig
from models.network import MemoryDiffusionNet

WEIGHTS = 'model.safetensors'
CONFIG = 'config.json'


def git_commit(cwd: str | Path | None = None) -> str:
    """The checkout's HEAD commit (with '-dirty' if it has changes), or 'unknown'."""
    try:
        here = Path(cwd or Path(__file__).parent)
        head = subprocess.run(['git', 'rev-parse', 'HEAD'], cwd=here, capture_output=True,
                              text=True, check=True).stdout.strip()
        return head
    except (OSError, subprocess.CalledProcessError):
        return 'unknown'


def save_checkpoint(folder: str | Path, net: MemoryDiffusionNet,
                    meta: dict[str, Any] | None = None) -> Path:
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    tensors = {k: v.detach().cpu().contiguous() for k, v in net.state_dict().items()}
    save_file(tensors, str(folder / WEIGHTS))
    doc = {'policy': net.cfg.to_dict(), 'meta': meta or {}}
    (folder / CONFIG).write_text(json.dumps(doc, indent=1, default=str))
    return folder


def load_config(folder: str | Path) -> tuple[PolicyConfig, dict[str, Any]]:
    folder = Path(folder)
    path = folder / CONFIG
    if not path.exists():
        raise ValueError(f'checkpoint={str(folder)!r}: no {CONFIG} there')
    doc = json.loads(path.read_text())
    if 'policy' not in doc:
        raise ValueError(f'{path}: no "policy" section')
    return PolicyConfig.from_dict(doc['policy']), doc.get('meta', {})


def load_checkpoint(folder: str | Path, device: str | torch.device = 'cpu'
                    ) -> tuple[MemoryDiffusionNet, dict[str, Any]]:
    """Rebuild the network from config.json and load model.safetensors (strictly)."""
    cfg, meta = load_config(folder)
    weights = Path(folder) / WEIGHTS
    if not weights.exists():
        raise ValueError(f'checkpoint={str(folder)!r}: no {WEIGHTS} there')
    net = MemoryDiffusionNet(cfg)
    net.load_state_dict(load_file(str(weights), device=str(device)), strict=True)
    return net.to(device).eval(), meta
