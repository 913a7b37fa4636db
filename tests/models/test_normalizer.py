"""Min-max normalisation: a feature that hardly varied in training reads as constant."""

import torch

from models.normalizer import MIN_RANGE, MinMaxNormalizer


def test_a_feature_narrower_than_min_range_is_constant_and_ignores_sensor_noise():
    norm = MinMaxNormalizer({'proprio': 3})
    train = torch.stack([torch.linspace(0.0, 1.0, 50),            # a joint that moves
                         torch.linspace(-0.0008, 0.0008, 50),     # the sim's joint 3
                         torch.full((50,), 0.3)], -1)              # a fixed one
    norm.fit({'proprio': train})
    reading = torch.tensor([[0.5, 0.0028, 0.3 + 0.002]])  # noise of 2 mrad on joints 2, 3
    y = norm.normalize('proprio', reading)
    assert torch.allclose(y, torch.tensor([[0.0, 0.0, 0.0]]), atol=1e-6)
    assert 0.0016 < MIN_RANGE  # the sim's joint 3 span is below the threshold
    back = norm.unnormalize('proprio', torch.tensor([[1.0, 0.7, -0.4]]))
    assert torch.allclose(back, torch.tensor([[1.0, -0.0008, 0.3]]))
    wide = MinMaxNormalizer({'x': 1})
    wide.fit({'x': torch.tensor([[0.0], [2 * MIN_RANGE]])})
    assert float(wide.normalize('x', torch.tensor([[MIN_RANGE]]))) == 0.0
    assert float(wide.normalize('x', torch.tensor([[2 * MIN_RANGE]]))) == 1.0
