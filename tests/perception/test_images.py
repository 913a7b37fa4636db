"""Image payload decoding: every supported encoding round-trips; malformed fields are named."""

import numpy as np
import pytest

from memory_nodes.perception.images import (
    ImageFields,
    decode_color,
    decode_depth,
    decode_segmentation,
    depth_to_16uc1_mm,
    encode_image,
)


def test_color_encodings_decode_to_rgb():
    rgb = np.random.default_rng(0).integers(0, 256, (4, 5, 3), dtype=np.uint8)
    assert np.array_equal(decode_color(encode_image(rgb, 'rgb8')), rgb)
    assert np.array_equal(decode_color(encode_image(rgb[:, :, ::-1], 'bgr8')), rgb)
    rgba = np.concatenate([rgb, np.full((4, 5, 1), 255, np.uint8)], axis=2)
    assert np.array_equal(decode_color(encode_image(rgba, 'rgba8')), rgb)
    bgra = np.concatenate([rgb[:, :, ::-1], np.full((4, 5, 1), 7, np.uint8)], axis=2)
    assert np.array_equal(decode_color(encode_image(bgra, 'bgra8')), rgb)


def test_depth_float_and_millimetres_agree_and_mark_missing_as_nan():
    depth = np.array([[0.5, 1.25], [np.nan, 2.0]], dtype=np.float32)
    from_float = decode_depth(encode_image(depth, '32FC1'))
    from_mm = decode_depth(encode_image(depth_to_16uc1_mm(depth), '16UC1'))
    assert np.allclose(from_float, depth, equal_nan=True)
    assert np.allclose(from_mm, depth, equal_nan=True, atol=5e-4)
    zero = decode_depth(encode_image(np.zeros((1, 2), np.float32), '32FC1'))
    assert np.isnan(zero).all()


def test_row_padding_and_big_endian_are_handled():
    ids = np.array([[1, 2, 3], [400, 5, 60000]], dtype=np.uint16)
    padded = b''.join(row.astype('>u2').tobytes() + b'\0\0' for row in ids)
    image = ImageFields('16UC1', 2, 3, step=8, data=padded, is_bigendian=True)
    assert np.array_equal(decode_segmentation(image), ids)


@pytest.mark.parametrize('encoding', ['32SC1', '16UC1', 'mono8'])
def test_segmentation_encodings(encoding):
    ids = np.array([[0, 1], [2, 3]])
    assert np.array_equal(decode_segmentation(encode_image(ids, encoding)), ids)


@pytest.mark.parametrize('change, field', [
    ({'encoding': 'mono8'}, 'color.encoding'),
    ({'height': 0}, 'color.height'),
    ({'width': 100000}, 'color.width'),
    ({'step': 5}, 'color.step'),
    ({'data': b'\0' * 7}, 'color.data'),
])
def test_malformed_color_images_name_the_field(change, field):
    good = encode_image(np.zeros((2, 3, 3), np.uint8), 'rgb8')
    bad = ImageFields(**{**good.__dict__, **change})
    with pytest.raises(ValueError, match=field.replace('.', r'\.')):
        decode_color(bad)


def test_depth_refuses_colour_encoding():
    with pytest.raises(ValueError, match=r"depth\.encoding is 'rgb8'"):
        decode_depth(encode_image(np.zeros((2, 2, 3), np.uint8), 'rgb8'))
