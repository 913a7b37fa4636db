"""Lit / dark state of a lightable object (button, LED, lamp), judged against its own past.

What for: whether a button is lit cannot be read from one frame's brightness. A dark white
button can be brighter than a lit blue one, and at small image sizes the mean colour of a
few dozen pixels mixes in the darker rim, so an absolute threshold either never fires or
fires on bright paint. What a light does, whatever its colour and size in the image, is get
clearly brighter than the same object when it is off. So each tracked lightable object keeps
a history of its brightness (the max channel of its mean colour, i.e. HSV value) over the
frames in which it was judged dark; its dark baseline is the median of that history, and
it is lit while its brightness is at least ``rise_ratio`` times the baseline (and stays lit
down to ``hold_ratio`` times, a hysteresis against flicker at the threshold).

Consequences:
- the first frame of an object is always dark (it has no baseline yet);
- a light that stays on stays lit (lit frames never enter the baseline);
- an object first seen lit reports dark until it goes off; once its dark frames are more
  than half of its history the baseline (the median) has come down to them and it works as
  usual. The lighting seen first is missed;
- a shadow or partial occlusion lowers the brightness, which never reads as lit; but a shadow
  that lasts more than half the history (``history_frames``, 10 s at 10 Hz) pulls the median
  down with it, and when it goes the object can read lit. A scene-wide brightening (room
  light switched on) raises every lightable object at once and reads as lit until it ends.

Measured on MuJoCo frames of sim's button_sequence and count at 128x96: lit / dark
brightness ratios 1.85-2.1 for buttons and 2.8 for the LED; dark frames vary by < 5 %,
also while the arm presses buttons.
"""

from collections import deque
from dataclasses import dataclass
import math

import numpy as np

LIT, DARK = 'lit', 'dark'


@dataclass
class LightConfig:
    """When a lightable object counts as lit."""

    rise_ratio: float = 1.4  # lit when brightness >= rise_ratio x the dark baseline
    hold_ratio: float = 1.2  # a lit object stays lit while brightness >= hold_ratio x baseline
    baseline_quantile: float = 0.5  # the baseline is this quantile of the dark history
    history_frames: int = 100  # dark frames kept per object for the baseline
    min_baseline: float = 0.02  # floor of the baseline (a black object is not lit by noise)

    def __post_init__(self):
        if not (math.isfinite(self.hold_ratio) and 1.0 < self.hold_ratio):
            raise ValueError(f'lit_hold_ratio is {self.hold_ratio!r}; expected > 1')
        if not (math.isfinite(self.rise_ratio) and self.hold_ratio <= self.rise_ratio):
            raise ValueError(f'lit_rise_ratio is {self.rise_ratio!r}; expected >= '
                             f'lit_hold_ratio ({self.hold_ratio})')
        if not 0.0 <= self.baseline_quantile < 1.0:
            raise ValueError(f'lit_baseline_quantile is {self.baseline_quantile!r}; '
                             'expected 0 <= q < 1')
        if not (isinstance(self.history_frames, int) and self.history_frames >= 1):
            raise ValueError(f'lit_history_frames is {self.history_frames!r}; '
                             'expected an integer >= 1')
        if not 0.0 < self.min_baseline < 1.0:
            raise ValueError(f'lit_min_baseline is {self.min_baseline!r}; expected 0 < b < 1')


class LightState:
    """Lit / dark state of one tracked object from its brightness frame by frame."""

    def __init__(self, config=None):
        self.config = config or LightConfig()
        self.history = deque(maxlen=self.config.history_frames)  # brightness of dark frames
        self.state = DARK

    def baseline(self):
        """Dark brightness of the object (None before its first frame)."""
        if not self.history:
            return None
        value = float(np.quantile(np.fromiter(self.history, float),
                                  self.config.baseline_quantile))
        return max(value, self.config.min_baseline)

    def update(self, brightness):
        """Take one frame's brightness in [0, 1]; return the state 'lit' or 'dark'."""
        brightness = float(brightness)
        if not 0.0 <= brightness <= 1.0:
            raise ValueError(f'brightness is {brightness!r}; expected a value in [0, 1]')
        base = self.baseline()
        if base is None:
            self.state = DARK
        else:
            ratio = (self.config.hold_ratio if self.state == LIT
                     else self.config.rise_ratio)
            self.state = LIT if brightness >= ratio * base else DARK
        if self.state == DARK:
            self.history.append(brightness)
        return self.state
