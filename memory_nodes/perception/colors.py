"""Colour names for objects from the mean colour of their pixels.

Names come from hue, saturation and value (HSV) bins, so that shading and lighting (a lit
button is brighter, a shadowed face darker) change the name less than they change RGB:
achromatic colours (saturation below ``GRAY_SATURATION``) are black / gray / white by value,
chromatic ones are named by hue. ``chromaticity_distance`` compares two colours independent
of brightness, which the tracker uses to gate associations. ``ColorVote`` keeps one name per
tracked object (its majority name over the frames where it was not lit), so that a button
that lights up, or a colour on the border of two bins, does not change its name frame by frame.

The bins are set from colours as a camera sees them, not as they are painted: measured on
MuJoCo-rendered frames (128x96 and 320x240, every task of sim/), a white button (0.95 paint)
has a mean value of 0.72-0.74, so white starts at value 0.7 (gray (0.35, 0.35, 0.4) paint
renders at 0.50-0.52); orange paint (1.0, 0.5, 0.05) renders at hue 38-42 degrees and yellow
at 54-58, so orange ends at 48; purple renders at 282-287 degrees, so purple ends at 300.
"""

from collections import Counter
import colorsys

import numpy as np

GRAY_SATURATION = 0.25  # below this saturation a colour has no hue worth naming
BLACK_VALUE = 0.18  # below this value (max channel) everything is black
WHITE_VALUE = 0.7  # achromatic colours brighter than this are white
# (upper bound of the hue bin in degrees, name); hue 0 = red
HUE_NAMES = ((15.0, 'red'), (48.0, 'orange'), (70.0, 'yellow'), (165.0, 'green'),
             (200.0, 'cyan'), (260.0, 'blue'), (300.0, 'purple'), (345.0, 'magenta'),
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


class ColorVote:
    """The colour name of one tracked object: the name it was given most often.

    Votes are cast by the tracker for frames where the object is not lit, so a lit button
    keeps its dark name; the first name wins ties, so the name an object was first reported
    with only changes when another name has been seen strictly more often.
    """

    def __init__(self, first):
        if first not in COLOR_NAMES and first != '':
            raise ValueError(f'color is {first!r}; expected one of {list(COLOR_NAMES)}')
        self.counts = Counter({first: 1})
        self.name = first

    def add(self, name):
        """Count one frame's colour name; return the (possibly new) majority name."""
        if name not in COLOR_NAMES and name != '':
            raise ValueError(f'color is {name!r}; expected one of {list(COLOR_NAMES)}')
        self.counts[name] += 1
        if self.counts[name] > self.counts[self.name]:
            self.name = name
        return self.name
