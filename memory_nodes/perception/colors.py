"""Colour names for objects from the mean colour of their pixels.

Names come from hue, saturation and value (HSV) bins, so that shading and lighting (a lit
button is brighter, a shadowed face darker) change the name less than they change RGB:
achromatic colours (saturation below ``GRAY_SATURATION``) are black / gray / white by value,
chromatic ones are named by hue. ``chromaticity_distance`` compares two colours independent
of brightness, which the tracker uses to gate associations.
"""

import colorsys

import numpy as np

GRAY_SATURATION = 0.25  # below this saturation a colour has no hue worth naming
BLACK_VALUE = 0.18  # below this value (max channel) everything is black
WHITE_VALUE = 0.75  # achromatic colours brighter than this are white
# (upper bound of the hue bin in degrees, name); hue 0 = red
HUE_NAMES = ((15.0, 'red'), (40.0, 'orange'), (70.0, 'yellow'), (165.0, 'green'),
             (200.0, 'cyan'), (260.0, 'blue'), (290.0, 'purple'), (345.0, 'magenta'),
             (360.0, 'red'))
COLOR_NAMES = ('black', 'gray', 'white', 'red', 'orange', 'yellow', 'green', 'cyan', 'blue',
               'purple', 'magenta')


def color_name(rgb):
    """Mean colour (r, g, b) in [0, 1] -> one of COLOR_NAMES."""
    r, g, b = (float(v) for v in rgb)
    if not all(0.0 <= v <= 1.0 for v in (r, g, b)):
        raise ValueError(f'rgb is {(r, g, b)!r}; expected three values in [0, 1]')
    hue, saturation, value = colorsys.rgb_to_hsv(r, g, b)
    if value < BLACK_VALUE:
        return 'black'
    if saturation < GRAY_SATURATION:
        return 'white' if value > WHITE_VALUE else 'gray'
    degrees = hue * 360.0
    for upper, name in HUE_NAMES:
        if degrees < upper:
            return name
    return 'red'


def chromaticity(rgb):
    """(..., 3) colours -> (..., 3) r, g, b divided by their sum (brightness removed)."""
    rgb = np.asarray(rgb, dtype=np.float64)
    total = rgb.sum(axis=-1, keepdims=True)
    return np.where(total > 1e-6, rgb / np.maximum(total, 1e-6), 1.0 / 3.0)


def chromaticity_distance(a, b):
    """Euclidean distance between the chromaticities of colours a and b (0 = same hue mix)."""
    return np.linalg.norm(chromaticity(a) - chromaticity(b), axis=-1)
