"""Config dataclasses validate themselves and round-trip through a dict."""

import pytest

from models.config import DiffusionConfig, EncoderConfig, MemoryConfig, PolicyConfig


def test_round_trip_through_dict():
    cfg = PolicyConfig(memory=dict(capacity=12), denoiser=dict(kind='unet'))
    again = PolicyConfig.from_dict(cfg.to_dict())
    assert again == cfg
    assert again.memory.capacity == 12 and again.denoiser.kind == 'unet'


@pytest.mark.parametrize('build, field', [
    (lambda: MemoryConfig(capacity=1), 'capacity'),
    (lambda: MemoryConfig(write_every=0), 'write_every'),
    (lambda: EncoderConfig(tokens_per_camera=3), 'tokens_per_camera'),
    (lambda: EncoderConfig(width=130, heads=4), 'width'),
    (lambda: DiffusionConfig(n_action_steps=20, horizon=16), 'n_action_steps'),
    (lambda: DiffusionConfig(scheduler='euler'), 'scheduler'),
    (lambda: DiffusionConfig(replan_every=9, n_action_steps=8), 'replan_every'),
    (lambda: MemoryConfig(pointer_query='current'), 'pointer_query'),
    (lambda: MemoryConfig(enabled=False, pointer_query='retrieved'), 'pointer_query'),
    (lambda: PolicyConfig(denoiser=dict(kind='mlp')), 'kind'),
    (lambda: PolicyConfig(denoiser=dict(width=64)), 'denoiser.width'),
])
def test_bad_values_name_the_field(build, field):
    with pytest.raises(ValueError, match=field):
        build()


def test_unknown_field_is_refused():
    with pytest.raises(ValueError, match='capacityy'):
        PolicyConfig.from_dict({'memory': {'capacityy': 3}})
