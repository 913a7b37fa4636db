"""Count: an LED blinks K times (1 to 5) with random gaps, then goes dark; press the count
button exactly K times, then press done.

Memoryless ceiling: 1/5 (K uniform on 1..5; the cue window has a fixed length, so its
duration tells nothing).
"""

from __future__ import annotations

import numpy as np

from sim import motions
from sim.scene import button_spec, led_spec, tile_spec
from sim.tasks.base import MIN_DELAY_S, PALETTE, Task, knob_float, knob_int

BLINK_STEPS = 3  # an LED blink lasts this many control steps
SLOT_STEPS = 6  # blinks start on a grid of slots of this many steps
NUM_SLOTS = 8  # slots in the cue window: fixed, whatever K is
LED_RGBA = np.array(PALETTE['yellow'])


class Count(Task):
    name = 'count'
    KNOBS = {
        'max_blinks': (5, knob_int(1, 6)),  # K is uniform on 1..max_blinks
        'delay_s': (3.0, knob_float(MIN_DELAY_S, 60.0)),  # dark time before pressing
    }
    chance_note = '1/max_blinks: press a fixed number of times'

    @property
    def chance(self):
        return 1.0 / self.knobs['max_blinks']

    def generate(self):
        rng = self.layout_rng
        jitter = rng.uniform(-0.03, 0.03, size=3)
        self.builder.add(led_spec('led', (0.58, -0.2 + jitter[0], 0.0), LED_RGBA))
        self.builder.add(button_spec('count_button', (0.42, -0.02 + jitter[1], 0.0),
                                     PALETTE['blue']))
        self.builder.add(button_spec('done_button', (0.42, 0.18 + jitter[2], 0.0),
                                     PALETTE['white']))
        kmax = self.knobs['max_blinks']
        self.k = int(self.hidden_rng.integers(1, kmax + 1))
        slots = np.sort(self.hidden_rng.choice(NUM_SLOTS, self.k, replace=False))
        self.blink_starts = [3 + int(s) * SLOT_STEPS + int(self.hidden_rng.integers(0, 3))
                             for s in slots]
        for i in range(6):  # cue_visible display: K lit lamps
            self.builder.add(tile_spec(f'lamp{i}', (0.28, -0.2 + 0.05 * i, 0.0),
                                       LED_RGBA if i < self.k else (0.2, 0.2, 0.2, 1.0)))
        self.cue_slots = [f'lamp{i}' for i in range(6)]
        self.cue_steps = 3 + NUM_SLOTS * SLOT_STEPS + 3
        self.instruction = ('Count how many times the light blinks, then press the blue button '
                            'that many times and press the white button when done.')
        self.count = 0
        self.done_pressed = False

    def hidden(self):
        return {'blinks': self.k, 'blink_steps': self.blink_starts}

    def on_reset(self, env):
        self.count = 0
        self.done_pressed = False
        self.lit = False
        super().on_reset(env)
        self.animate(env, 0)

    def animate(self, env, step):
        self.lit = any(s <= step < s + BLINK_STEPS for s in self.blink_starts)
        rgba = LED_RGBA.copy()
        if not self.lit:
            rgba[:3] *= 0.25
        env.set_rgba('led', rgba)
        if self.lit and step in self.blink_starts:
            env.log_event('blink', 'led')

    def is_lit(self, env, name):
        return name == 'led' and self.lit

    def on_press(self, env, name):
        if env.phase() != 2 or self.done_pressed:
            return
        if name == 'count_button':
            self.count += 1
        elif name == 'done_button':
            self.done_pressed = True

    def success(self, env):
        return self.done_pressed and self.count == self.k

    def failed(self, env):
        return self.count > self.k or (self.done_pressed and self.count != self.k)

    def goal_position(self, env):
        if env.phase() < 2 or self.done_pressed:
            return None
        return env.obj_pos('count_button' if self.count < self.k else 'done_button')

    def expert(self, env):
        yield from motions.wait_for_act(env)
        for _ in range(self.k):
            yield from motions.press(env, 'count_button')
        yield from motions.press(env, 'done_button')
        while True:
            yield from motions.hold(env, 1)

    def questions(self, env):
        return [{'question': 'How many times did the LED blink?', 'answer': str(self.k),
                 'answer_value': self.k, 'kind': 'how_many'}]
