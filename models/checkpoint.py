"""Checkpoints: model.safetensors (weights + normaliser statistics) and config.json.

config.json = {"policy": PolicyConfig as a dict, "meta": {...}} where meta records how the
weights were made (command, seed, dataset, git commit, steps, final loss). Never pickle:
loading refuses a folder that holds a pickle-format file (``*.pt``, ``*.pkl``, ...) beside or
instead of the safetensors, and a truncated or corrupted file is refused with a
``CheckpointError`` (a ValueError) naming the file; nothing is ever unpickled. Checkpoints
are written owner-only (folder 0o700, files 0o600).
"""

from __future__ import annotations

import json
from pathlib import Path
import subprocess
from typing import Any

from safetensors import SafetensorError
from safetensors.torch import load_file, save_file
import torch

from memory_nodes.file_safety import private_dir, private_file, write_private_text
from models.config import PolicyConfig
from models.network import MemoryDiffusionNet

WEIGHTS = 'model.safetensors'
CONFIG = 'config.json'
# formats that torch.load / pickle / joblib read, i.e. that can run code when loaded
PICKLE_SUFFIXES = ('.pt', '.pth', '.bin', '.ckpt', '.pkl', '.pickle', '.joblib', '.npy',
                   '.tar')


class CheckpointError(ValueError):
    """A checkpoint folder that cannot be loaded safely; the message names the file."""


def refuse_pickles(folder: str | Path) -> None:
    """Raise CheckpointError if ``folder`` holds a pickle-format file (never opened)."""
    folder = Path(folder)
    found = sorted(p.name for p in folder.iterdir() if p.suffix.lower() in PICKLE_SUFFIXES)
    if found:
        raise CheckpointError(
            f'checkpoint={str(folder)!r} holds {found[0]!r}'
            + (f' (and {len(found) - 1} more pickle-format files)' if len(found) > 1 else '')
            + f': pickle formats can run code when loaded and are refused; a checkpoint is '
            f'{WEIGHTS} + {CONFIG} only (convert the weights with safetensors, then delete '
            'the pickle file)')


def read_json(path: str | Path, what: str = 'file') -> Any:
    """json.loads of a checkpoint's JSON file; CheckpointError names the file when it
    cannot be read or is not valid JSON (e.g. truncated)."""
    path = Path(path)
    try:
        return json.loads(path.read_text(encoding='utf-8'))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as error:
        raise CheckpointError(f'{what} {str(path)!r} is unreadable or not valid JSON '
                              f'({error})') from None


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
    folder = private_dir(folder)
    tensors = {k: v.detach().cpu().contiguous() for k, v in net.state_dict().items()}
    save_file(tensors, str(private_file(folder / WEIGHTS)))
    write_config(folder, net.cfg, meta or {})
    return folder


def write_config(folder: str | Path, cfg: PolicyConfig, meta: dict[str, Any]) -> None:
    """config.json: {"policy": cfg, "meta": meta}, written whole (atomic rename), 0o600."""
    doc = {'policy': cfg.to_dict(), 'meta': meta}
    write_private_text(Path(folder) / CONFIG, json.dumps(doc, indent=1, default=str))


def load_config(folder: str | Path) -> tuple[PolicyConfig, dict[str, Any]]:
    folder = Path(folder)
    if not folder.is_dir():
        raise CheckpointError(f'checkpoint={str(folder)!r}: no such folder')
    refuse_pickles(folder)
    path = folder / CONFIG
    if not path.is_file():
        raise CheckpointError(f'checkpoint={str(folder)!r}: no {CONFIG} there')
    doc = read_json(path, 'checkpoint config')
    if not isinstance(doc, dict) or not isinstance(doc.get('policy'), dict):
        raise CheckpointError(f'checkpoint config {str(path)!r}: no "policy" section')
    try:
        cfg = PolicyConfig.from_dict(doc['policy'])
    except (TypeError, KeyError, ValueError) as error:
        raise CheckpointError(f'checkpoint config {str(path)!r}: bad "policy" section '
                              f'({error})') from None
    meta = doc.get('meta', {})
    return cfg, meta if isinstance(meta, dict) else {}


def load_checkpoint(folder: str | Path, device: str | torch.device = 'cpu',
                    inference_steps: int | None = None
                    ) -> tuple[MemoryDiffusionNet, dict[str, Any]]:
    """Rebuild the network from config.json and load model.safetensors (strictly);
    `inference_steps` overrides the config's DDIM / DPM-Solver steps (None: keep them)."""
    cfg, meta = load_config(folder)
    weights = Path(folder) / WEIGHTS
    if not weights.is_file():
        raise CheckpointError(f'checkpoint={str(folder)!r}: no {WEIGHTS} there')
    net = MemoryDiffusionNet(cfg)
    try:
        tensors = load_file(str(weights), device=str(device))
    except (SafetensorError, OSError) as error:
        raise CheckpointError(f'weights {str(weights)!r} are not a readable safetensors '
                              f'file (truncated or corrupted?): {error}') from None
    try:
        net.load_state_dict(tensors, strict=True)
    except RuntimeError as error:   # missing / unexpected keys, wrong shapes
        raise CheckpointError(f'weights {str(weights)!r} do not match {CONFIG}: '
                              f'{str(error)[:500]}') from None
    if inference_steps is not None:
        net.set_inference_steps(inference_steps)
    return net.to(device).eval(), meta
