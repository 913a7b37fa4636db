"""Plain PyTorch models of the stack (no ROS imports).

Encoders, the perceptual-cognitive memory bank (PCMB) and the memory-conditioned
diffusion action expert, with training, evaluation and safetensors checkpoints.

`DEFAULT_CHECKPOINT` is the trained checkpoint shipped inside this package and
`load_policy()` turns a checkpoint folder into a ready `MemoryDiffusionPolicy` (what the ROS
action-expert node calls in its configure step). torch is imported only when a policy is
loaded, so `import models` stays cheap.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from models.policy import MemoryDiffusionPolicy

# The shipped checkpoint (model.safetensors + config.json + text_cache.json), resolved
# relative to this package so that it works from a source checkout and an installed package:
# pcmb_recurrent plays six of the suite's seven tasks on what a robot and the ROS graph give
# it (object slots made by the preprocessor's pipeline from camera frames). It is
# checkpoints/pcmb_six_tasks (checkpoints/pcmb_perceived, four tasks, fine-tuned in six
# stages on six tasks) with the bank's recurrent summary grown onto it and five more stages,
# the last two on more count and button sequence demonstrations (scripts/train_six_tasks.sh
# STAGE=recurrent, then STAGE=more_counts; docs/models.md "Counting").
DEFAULT_CHECKPOINT = Path(__file__).resolve().parent / 'checkpoints' / 'pcmb_recurrent'


def load_policy(path: str | Path | None = None, device: str | None = None,
                memory: bool = True, batch: int = 1,
                seed: int | None = None,
                replan_every: int | None = None,
                inference_steps: int | None = None,
                hold_missed_steps: int = 0) -> MemoryDiffusionPolicy:
    """Load a checkpoint folder (default: DEFAULT_CHECKPOINT) as a closed-loop policy.

    path: folder with model.safetensors + config.json (+ text_cache.json: instruction
    embeddings precomputed at training time; instructions not in it are encoded with MiniLM
    on first use). device: 'cpu', 'cuda', or None / 'auto' (CUDA when present).
    memory=False runs the same network with the bank cleared every step (the ablation).
    replan_every: predict a new chunk every this many steps (None: the checkpoint's config).
    inference_steps: DDIM / DPM-Solver steps per chunk (None: the checkpoint's config).
    hold_missed_steps: an object slot missed for at most this many steps in a row shows its
    last features (models/slot_hold.py; 0: off).
    Call `policy.reset(instruction)` at the start of each episode, then
    `policy.select_action(obs)` every control step (see docs/models.md for `obs`).
    """
    from models.checkpoint import load_checkpoint
    from models.policy import MemoryDiffusionPolicy, pick_device
    from models.text_encoder import InstructionEncoder

    folder = Path(path) if path is not None else DEFAULT_CHECKPOINT
    if not folder.is_dir():
        raise ValueError(f'path={str(folder)!r}: no such checkpoint folder')
    dev = pick_device(device)
    net, _ = load_checkpoint(folder, dev, inference_steps)
    cache = folder / 'text_cache.json'
    text = InstructionEncoder()
    if cache.exists():
        import numpy as np

        from models.checkpoint import CheckpointError, read_json
        data = read_json(cache, 'instruction cache')
        if not isinstance(data, dict):
            raise CheckpointError(f'instruction cache {str(cache)!r}: expected a JSON object '
                                  '{instruction: vector}')
        text = InstructionEncoder(cache={t: np.asarray(v, np.float32) for t, v in data.items()})
    return MemoryDiffusionPolicy(net, text, dev, memory=memory, batch=batch, seed=seed,
                                 replan_every=replan_every, hold_missed_steps=hold_missed_steps)


__all__ = ['DEFAULT_CHECKPOINT', 'load_policy']
