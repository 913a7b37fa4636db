"""sensor_msgs/Image payloads <-> numpy arrays, without ROS.

The preprocessor receives colour, depth and instance-segmentation images as raw
``sensor_msgs/Image`` fields (encoding, height, width, step, is_bigendian, data). These
functions turn such fields into numpy arrays of a known dtype and shape, checking every field
so that a malformed message is refused with a ``ValueError`` that names the field and value,
and build the fields back from arrays (for tests, the benchmark and bridges).

Supported encodings (the names ``sensor_msgs/image_encodings`` uses):

- colour: ``rgb8``, ``bgr8``, ``rgba8``, ``bgra8`` -> (H, W, 3) uint8 RGB
- depth: ``32FC1`` (metres) and ``16UC1`` / ``mono16`` (millimetres) -> (H, W) float32 metres,
  invalid pixels (0, NaN, inf) become NaN
- segmentation: ``16UC1``, ``mono16``, ``32SC1``, ``32UC1``, ``8UC1``, ``mono8`` -> (H, W) int64
  instance ids (0 and negative ids are background)
"""

from dataclasses import dataclass

import numpy as np

# encoding -> (numpy dtype, channels)
ENCODINGS = {
    'rgb8': (np.uint8, 3), 'bgr8': (np.uint8, 3), 'rgba8': (np.uint8, 4),
    'bgra8': (np.uint8, 4), 'mono8': (np.uint8, 1), '8UC1': (np.uint8, 1),
    'mono16': (np.uint16, 1), '16UC1': (np.uint16, 1), '32SC1': (np.int32, 1),
    '32UC1': (np.uint32, 1), '32FC1': (np.float32, 1),
}
COLOR_ENCODINGS = ('rgb8', 'bgr8', 'rgba8', 'bgra8')
DEPTH_ENCODINGS = ('32FC1', '16UC1', 'mono16')
SEGMENTATION_ENCODINGS = ('16UC1', 'mono16', '32SC1', '32UC1', '8UC1', 'mono8')
MAX_SIDE = 16384  # refuse absurd image sizes before allocating anything


@dataclass
class ImageFields:
    """The payload fields of one sensor_msgs/Image (a ROS message has the same names)."""

    encoding: str
    height: int
    width: int
    step: int
    data: bytes
    is_bigendian: bool = False


def image_array(image, allowed, what):
    """Fields of an Image (any object with its attributes) -> (H, W, C) array of its dtype.

    ``allowed`` lists the encodings accepted for this stream; ``what`` names the stream in
    errors (e.g. 'depth'). Row padding (step > width * pixel size) is handled.
    """
    encoding = image.encoding
    if encoding not in allowed:
        raise ValueError(f'{what}.encoding is {encoding!r}; expected one of {list(allowed)}')
    dtype, channels = ENCODINGS[encoding]
    height, width, step = int(image.height), int(image.width), int(image.step)
    for name, value in (('height', height), ('width', width)):
        if not 0 < value <= MAX_SIDE:
            raise ValueError(f'{what}.{name} is {value}; expected 1..{MAX_SIDE}')
    itemsize = np.dtype(dtype).itemsize
    row_bytes = width * channels * itemsize
    if step < row_bytes or step % itemsize:
        raise ValueError(f'{what}.step is {step}; expected >= {row_bytes} '
                         f'(width {width} x {channels} channels x {itemsize} bytes)')
    data = image.data
    size = len(data)
    if size != step * height:
        raise ValueError(f'{what}.data has {size} bytes; expected step x height = '
                         f'{step} x {height} = {step * height}')
    order = '>' if image.is_bigendian else '<'
    try:
        raw = np.frombuffer(data, dtype=np.uint8)  # bytes, array.array('B'), memoryview
    except TypeError:
        raw = np.asarray(data, dtype=np.uint8)  # a plain list of ints
    rows = raw.reshape(height, step)[:, :row_bytes]  # (H, row_bytes) without padding
    pixels = np.ascontiguousarray(rows).view(np.dtype(dtype).newbyteorder(order))
    return pixels.reshape(height, width, channels).astype(dtype, copy=False)


def decode_color(image):
    """Colour Image -> (H, W, 3) uint8 RGB."""
    pixels = image_array(image, COLOR_ENCODINGS, 'color')
    if image.encoding.startswith('bgr'):
        pixels = pixels[:, :, 2::-1]
    return np.ascontiguousarray(pixels[:, :, :3])


def decode_depth(image):
    """Depth Image -> (H, W) float32 metres, NaN where there is no measurement."""
    pixels = image_array(image, DEPTH_ENCODINGS, 'depth')[:, :, 0]
    if image.encoding == '32FC1':
        depth = pixels.astype(np.float32, copy=True)
        depth[~np.isfinite(depth) | (depth <= 0)] = np.nan
        return depth
    depth = pixels.astype(np.float32) * 1e-3  # millimetres -> metres
    depth[pixels == 0] = np.nan
    return depth


def decode_segmentation(image):
    """Segmentation Image -> (H, W) int64 instance ids (<= 0 is background)."""
    return image_array(image, SEGMENTATION_ENCODINGS, 'segmentation')[:, :, 0].astype(np.int64)


def encode_image(array, encoding):
    """(H, W) or (H, W, C) array -> ImageFields with the given encoding (little-endian)."""
    if encoding not in ENCODINGS:
        raise ValueError(f'encoding is {encoding!r}; expected one of {list(ENCODINGS)}')
    dtype, channels = ENCODINGS[encoding]
    array = np.asarray(array)
    if array.ndim == 2:
        array = array[:, :, None]
    if array.ndim != 3 or array.shape[2] != channels:
        raise ValueError(f'array shape is {array.shape}; {encoding} needs (H, W, {channels})')
    pixels = np.ascontiguousarray(array.astype(np.dtype(dtype).newbyteorder('<')))
    height, width = pixels.shape[:2]
    return ImageFields(encoding=encoding, height=height, width=width,
                       step=width * channels * pixels.itemsize, data=pixels.tobytes(),
                       is_bigendian=False)


def depth_to_16uc1_mm(depth_m):
    """(H, W) metres (NaN = none) -> (H, W) uint16 millimetres (0 = none), as drivers send."""
    depth_m = np.asarray(depth_m, dtype=np.float64)
    mm = np.where(np.isfinite(depth_m) & (depth_m > 0), np.round(depth_m * 1000.0), 0)
    return np.clip(mm, 0, 65535).astype(np.uint16)


def square_resize(rgb, size):
    """(H, W, 3) uint8 -> (size, size, 3) uint8: centre square crop, then area resize."""
    import torch
    import torch.nn.functional as F

    h, w = rgb.shape[:2]
    s = min(h, w)
    top, left = (h - s) // 2, (w - s) // 2
    crop = np.ascontiguousarray(rgb[top:top + s, left:left + s])
    if s == size:
        return crop
    x = torch.from_numpy(crop).permute(2, 0, 1)[None].float()
    y = F.interpolate(x, size=(size, size), mode='area')
    return y[0].permute(1, 2, 0).round().clamp(0, 255).to(torch.uint8).numpy()
