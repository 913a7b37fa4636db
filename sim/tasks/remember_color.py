"""Remember colour: a cube of some colour is shown, then removed; after a delay N cubes
(3, 5 or 9) appear; pick up the one of the shown colour.

Memoryless ceiling: 1/N (every candidate colour is equally likely to be the shown one).
"""

from __future__ import annotations

import numpy as np

from sim import motions
from sim.scene import cube_spec
from sim.tasks.base import (
    COLOR_NAMES,
    CONTROL_HZ,
    MIN_DELAY_S,
    PALETTE,
    Task,
    knob_choice,
    knob_float,
)

DISPLAY = np.array([0.45, 0.0, 0.0])  # where the cue cube is shown
SIDE_DISPLAY = np.array([0.30, -0.36, 0.0])  # where it stays in cue_visible mode
LIFTED_Z = 0.05


def candidate_grid(n: int) -> list[np.ndarray]:
    if n == 9:
        return [np.array([0.36 + 0.1 * i, -0.12 + 0.12 * j, 0.0])
                for i in range(3) for j in range(3)]
    ys = (np.arange(n) - (n - 1) / 2) * (0.12 if n == 3 else 0.1)
    return [np.array([0.45, y, 0.0]) for y in ys]


class RememberColor(Task):
    name = 'remember_color'
    KNOBS = {
        'num_candidates': (3, knob_choice(3, 5, 9)),  # cubes that appear after the delay
        'show_seconds': (1.5, knob_float(0.5, 5.0)),  # how long the cue cube is shown
        'delay_s': (3.0, knob_float(MIN_DELAY_S, 60.0)),  # empty table before the candidates
    }
    chance_note = '1/N: pick any cube'

    @property
    def chance(self):
        return 1.0 / self.knobs['num_candidates']

    def generate(self):
        n = self.knobs['num_candidates']
        rng = self.layout_rng
        self.colors = [str(c) for c in rng.choice(COLOR_NAMES, n, replace=False)]
        places = candidate_grid(n)
        order = rng.permutation(n)
        jitter = rng.uniform(-0.01, 0.01, size=(n, 2))
        self.cubes = []
        for i, color in enumerate(self.colors):
            p = places[order[i]] + np.array([jitter[i, 0], jitter[i, 1], 0.0])
            self.cubes.append(self.builder.add(cube_spec(f'{color}_cube', p,
                                                         PALETTE[color])).name)
        self.target = int(self.hidden_rng.integers(n))
        cue = cube_spec('cue_cube', DISPLAY, PALETTE[self.colors[self.target]])
        cue.graspable = False
        self.builder.add(cue)
        self.cue_steps = int(round(self.knobs['show_seconds'] * CONTROL_HZ))
        self.instruction = ('Remember the colour of the cube you are shown, then pick up the '
                            'cube of that colour.')
        self.picked = None

    def slot_names(self):
        return self.cubes + ['cue_cube', 'goal']

    def hidden(self):
        return {'target_color': self.colors[self.target], 'target_cube': self.cubes[self.target],
                'candidates': self.colors}

    def on_reset(self, env):
        self.picked = None
        for cube in self.cubes:
            env.park(cube)
        env.set_obj_pos('cue_cube', DISPLAY)
        super().on_reset(env)

    def animate(self, env, step):
        if step == self.cue_steps - 1:  # the cue ends: remove or set the cube aside
            if self.mode == 'cue_visible':
                env.set_obj_pos('cue_cube', SIDE_DISPLAY)
            else:
                env.park('cue_cube')
        if step == self.cue_steps + self.delay_steps - 1:  # candidates appear at act start
            for cube in self.cubes:
                env.set_obj_pos(cube, self.objects_by_name(cube).pos)

    def objects_by_name(self, name):
        return next(o for o in self.objects if o.name == name)

    def after_step(self, env):
        if self.picked is None and env.phase() == 2:
            for cube in self.cubes:
                if env.obj_pos(cube)[2] > LIFTED_Z:
                    self.picked = cube
                    env.log_event('lifted', cube)
        super().after_step(env)

    def success(self, env):
        return self.picked == self.cubes[self.target]

    def failed(self, env):
        return self.picked is not None and not self.success(env)

    def goal_position(self, env):
        if env.phase() < 2:
            return None
        return env.obj_pos(self.cubes[self.target])

    def expert(self, env):
        yield from motions.wait_for_act(env)
        yield from motions.hold(env, 1)
        yield from motions.pick(env, self.cubes[self.target])
        while True:
            yield from motions.hold(env, 1)

    def questions(self, env):
        return [{'question': 'What colour was the cube you were shown?',
                 'answer': self.colors[self.target], 'kind': 'what'}]
