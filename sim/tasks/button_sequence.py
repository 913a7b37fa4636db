"""Button sequence: 4 coloured buttons light up in a random order (length 3 to 5, repeats in
the hard variant), then go dark; press them in the same order with no wrong press.

Memoryless ceiling: 1 / (number of possible sequences): 1/24 for length 3 without repeats.
"""

from __future__ import annotations

from math import perm

import numpy as np

from sim import motions
from sim.scene import button_spec, tile_spec
from sim.tasks.base import (
    CONTROL_HZ,
    MIN_DELAY_S,
    PALETTE,
    Task,
    knob_choice,
    knob_float,
    knob_int,
)

COLORS = ('red', 'green', 'blue', 'yellow')
DARK = 0.3  # brightness of a dark button
MAX_LENGTH = 5


class ButtonSequence(Task):
    name = 'button_sequence'
    KNOBS = {
        'length': (3, knob_int(3, MAX_LENGTH)),  # buttons in the sequence
        'repeats': (False, knob_choice(False, True)),  # hard variant: a button may recur
        'light_seconds': (0.8, knob_float(0.3, 3.0)),  # how long each button stays lit
        'gap_seconds': (0.4, knob_float(0.1, 3.0)),  # dark time between two lights
        'delay_s': (3.0, knob_float(MIN_DELAY_S, 60.0)),  # before pressing may start
    }
    chance_note = '1/(4*3*2) without repeats (length 3 or 4), 1/4^L with repeats'

    @property
    def chance(self):
        n = self.knobs['length']
        if self.knobs['repeats']:
            return 1.0 / 4 ** n
        return 1.0 / perm(4, n)

    def generate(self):
        n = self.knobs['length']
        if n > 4 and not self.knobs['repeats']:
            raise ValueError(f'knob length={n} needs repeats=True (there are only 4 buttons)')
        rng = self.layout_rng
        order = rng.permutation(4)
        x0 = 0.45 + rng.uniform(-0.03, 0.03)
        self.buttons = []
        for slot, ci in enumerate(order):
            y = (slot - 1.5) * 0.12
            color = COLORS[ci]
            self.buttons.append(self.builder.add(
                button_spec(f'{color}_button', (x0, y, 0.0), PALETTE[color])).name)
        if self.knobs['repeats']:
            self.sequence = [int(v) for v in self.hidden_rng.integers(4, size=n)]
        else:
            self.sequence = [int(v) for v in self.hidden_rng.permutation(4)[:n]]
        for i in range(MAX_LENGTH):  # cue_visible display: the sequence as tiles
            seq_color = COLORS[order[self.sequence[i]]] if i < n else 'white'
            self.builder.add(tile_spec(f'tile{i}', (0.28, -0.1 + 0.05 * i, 0.0),
                                       PALETTE[seq_color]))
        self.cue_slots = [f'tile{i}' for i in range(MAX_LENGTH)]
        self.light = int(round(self.knobs['light_seconds'] * CONTROL_HZ))
        self.gap = int(round(self.knobs['gap_seconds'] * CONTROL_HZ))
        self.cue_steps = 5 + n * (self.light + self.gap)
        self.instruction = ('Watch the buttons light up, then press them in the same order.')
        self.presses = []

    def hidden(self):
        return {'sequence': [self.buttons[i] for i in self.sequence]}

    def _lit_index(self, step):
        t = step - 5
        if t < 0 or step >= self.cue_steps:
            return None
        k, r = divmod(t, self.light + self.gap)
        return self.sequence[k] if r < self.light else None

    def on_reset(self, env):
        self.presses = []
        self.lit = None
        n = self.knobs['length']
        super().on_reset(env)
        for i in range(n, MAX_LENGTH):
            env.park(f'tile{i}')
        self.animate(env, 0)

    def animate(self, env, step):
        self.lit = self._lit_index(step)
        for i, b in enumerate(self.buttons):
            rgba = np.array(env.objects[b].rgba)
            if i != self.lit:
                rgba[:3] *= DARK
            env.set_rgba(b, rgba)

    def is_lit(self, env, name):
        return self.lit is not None and name == self.buttons[self.lit]

    def on_press(self, env, name):
        if env.phase() == 2:
            self.presses.append(name)

    def success(self, env):
        want = [self.buttons[i] for i in self.sequence]
        return self.presses == want

    def failed(self, env):
        want = [self.buttons[i] for i in self.sequence]
        return self.presses != want[:len(self.presses)]

    def goal_position(self, env):
        k = len(self.presses)
        if env.phase() < 2 or k >= len(self.sequence):
            return None
        return env.obj_pos(self.buttons[self.sequence[k]])

    def expert(self, env):
        yield from motions.wait_for_act(env)
        for i in self.sequence:
            yield from motions.press(env, self.buttons[i])
        while True:
            yield from motions.hold(env, 1)

    def questions(self, env):
        out = []
        for e in env.events:
            if e['kind'] == 'pressed':
                color = e['subject'].split('_')[0]
                out.append({'question': f'When did you press {color}?',
                            'answer': f'{e["time"]:.1f} s after the start',
                            'answer_value': e['time'], 'kind': 'when'})
        seq = ', '.join(self.buttons[i].split('_')[0] for i in self.sequence)
        out.append({'question': 'In which order did the buttons light up?', 'answer': seq,
                    'kind': 'what'})
        return out
