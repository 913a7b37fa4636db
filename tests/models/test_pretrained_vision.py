"""A user's own transformers vision backbone loads from a local folder and feeds tokens."""

import torch
from transformers import ViTConfig, ViTModel

from models.config import EncoderConfig
from models.encoders import ObservationEncoder


def test_local_vit_folder_as_vision_encoder(tmp_path):
    vit = ViTModel(ViTConfig(image_size=32, patch_size=8, hidden_size=24, num_hidden_layers=1,
                             num_attention_heads=2, intermediate_size=32))
    vit.save_pretrained(tmp_path / 'my_vit')
    cfg = EncoderConfig(width=32, heads=2, proprio_dim=5, object_slots=3, object_dim=9,
                        perceptual_tokens=4, pretrained_vision_path=str(tmp_path / 'my_vit'))
    enc = ObservationEncoder(cfg)
    weights = dict(enc.vision.model.named_parameters())
    saved = dict(vit.named_parameters())
    assert all(torch.equal(weights[k], saved[k]) for k in saved)  # the user's weights
    n = 2
    images = {c: torch.rand(n, 3, 64, 64) for c in cfg.cameras}
    p, c = enc(images, torch.randn(n, 5), torch.randn(n, 3, 9), torch.tensor([0, 2]),
               torch.randn(n, 384))
    assert p.shape == (n, 4, 32) and c.shape == (n, 32)
