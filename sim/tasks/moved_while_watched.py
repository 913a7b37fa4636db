"""Moved while watched (memory rewriting): an object under one of 3 cups is visibly moved to
another cup k times (0 to 4); after a delay, lift the cup that holds it now. A lift of a cup
that held it earlier is a stale error, counted apart from other failures.

Memoryless ceiling: 1/3.
"""

from __future__ import annotations

import numpy as np

from sim import motions
from sim.scene import ball_spec, cup_spec, marker_spec
from sim.tasks.base import MIN_DELAY_S, PALETTE, Task, knob_float, knob_int

CUP_PITCH = 0.14
SHOW_STEPS = 8  # first cup raised, object visible
RAISE_STEPS = 4  # cups go up / down
SLIDE_STEPS = 8  # object slides from one cup to the other
LIFTED_Z = 0.05


class MovedWhileWatched(Task):
    name = 'moved_while_watched'
    chance = 1.0 / 3.0
    chance_note = '1/3: lift any cup'
    KNOBS = {
        'num_moves': (2, knob_int(0, 4)),  # times the object changes cup
        'delay_s': (3.0, knob_float(MIN_DELAY_S, 60.0)),  # before acting
    }

    def generate(self):
        rng = self.layout_rng
        x0 = 0.45 + rng.uniform(-0.03, 0.03)
        cup_colour = PALETTE[rng.choice(['orange', 'purple', 'blue'])]
        self.cup_pos = [np.array([x0, (i - 1) * CUP_PITCH, 0.0]) for i in range(3)]
        self.cups = [self.builder.add(cup_spec(f'cup{i}', self.cup_pos[i], cup_colour)).name
                     for i in range(3)]
        path = [int(self.hidden_rng.integers(3))]
        for _ in range(self.knobs['num_moves']):
            path.append(int(self.hidden_rng.choice([c for c in range(3) if c != path[-1]])))
        self.path = path  # cup index after each move; path[-1] is the answer
        self.builder.add(ball_spec('ball', self.cup_pos[path[0]], PALETTE['yellow']))
        self.builder.add(marker_spec('cue_marker', PALETTE['yellow'], size=0.014))
        self.cue_slots = ['cue_marker']
        self.move_steps = 2 * RAISE_STEPS + SLIDE_STEPS
        self.cue_steps = SHOW_STEPS + RAISE_STEPS + self.move_steps * self.knobs['num_moves'] + 1
        self.instruction = 'Lift the cup that the yellow ball is under now.'
        self.lifted = None

    def hidden(self):
        return {'path': self.path, 'final_cup': self.cups[self.path[-1]]}

    def on_reset(self, env):
        self.lifted = None
        self.outcome = None
        self.animate(env, 0)
        super().on_reset(env)

    def _scene_at(self, step):
        """(cup heights, ball position) of the cue animation at a control step."""
        h = np.zeros(3)
        if step < SHOW_STEPS:
            h[self.path[0]] = 0.12
            return h, self.cup_pos[self.path[0]]
        t = step - SHOW_STEPS
        if t < RAISE_STEPS:
            h[self.path[0]] = 0.12 * (1 - (t + 1) / RAISE_STEPS)
            return h, self.cup_pos[self.path[0]]
        t -= RAISE_STEPS
        k, r = divmod(t, self.move_steps)
        if k >= len(self.path) - 1:
            return h, self.cup_pos[self.path[-1]]
        a, b = self.path[k], self.path[k + 1]
        if r < RAISE_STEPS:
            lift = 0.12 * (r + 1) / RAISE_STEPS
            ball = self.cup_pos[a]
        elif r < RAISE_STEPS + SLIDE_STEPS:
            lift = 0.12
            s = (r - RAISE_STEPS + 1) / SLIDE_STEPS
            ball = self.cup_pos[a] + s * (self.cup_pos[b] - self.cup_pos[a])
        else:
            lift = 0.12 * (1 - (r - RAISE_STEPS - SLIDE_STEPS + 1) / RAISE_STEPS)
            ball = self.cup_pos[b]
        h[a] = h[b] = lift
        return h, ball

    def animate(self, env, step):
        if step > self.cue_steps:
            return
        h, ball = self._scene_at(step)
        for i, cup in enumerate(self.cups):
            env.set_obj_pos(cup, self.cup_pos[i] + np.array([0.0, 0.0, h[i]]))
        env.set_obj_pos('ball', ball)
        if self.mode == 'cue_visible':  # the dot rides above the ball and its lifted cups
            env.set_obj_pos('cue_marker', ball + np.array([0.0, 0.0, 0.115 + h.max()]))

    def after_step(self, env):
        if self.lifted is None and env.phase() == 2:
            for i, cup in enumerate(self.cups):
                if env.obj_pos(cup)[2] > LIFTED_Z:
                    self.lifted = cup
                    if i == self.path[-1]:
                        self.outcome = 'success'
                    elif i in self.path[:-1]:
                        self.outcome = 'stale'
                    else:
                        self.outcome = 'other'
                    env.log_event('lifted', cup, outcome=self.outcome)
        if self.mode == 'cue_visible' and env.phase() > 0:
            cup = env.obj_pos(self.cups[self.path[-1]])
            env.set_obj_pos('cue_marker', cup + np.array([0, 0, 0.115]))
        super().after_step(env)

    def is_hidden(self, env, name):
        if name != 'ball':
            return False
        b = env.obj_pos('ball')
        return any(np.hypot(*(env.obj_pos(c)[:2] - b[:2])) < 0.03 and env.obj_pos(c)[2] < 0.03
                   for c in self.cups)

    def success(self, env):
        return self.outcome == 'success'

    def failed(self, env):
        return self.outcome in ('stale', 'other')

    def outcome_note(self, env):
        if self.lifted is None:
            return ''
        return f'lifted {self.lifted}: {self.outcome}' + (
            ' (a cup the ball was under earlier)' if self.outcome == 'stale' else '')

    def goal_position(self, env):
        return env.obj_pos(self.cups[self.path[-1]])

    def expert(self, env):
        yield from motions.wait_for_act(env)
        yield from motions.pick(env, self.cups[self.path[-1]])
        while True:
            yield from motions.hold(env, 1)

    def questions(self, env):
        out = [{'question': 'Which cup is the yellow ball under now?',
                'answer': f'cup {self.path[-1]}', 'answer_value': self.path[-1],
                'kind': 'where'}]
        if len(self.path) > 1:
            out.append({'question': 'Which cup was the yellow ball under before it last moved?',
                        'answer': f'cup {self.path[-2]}', 'answer_value': self.path[-2],
                        'kind': 'where'})
        out.append({'question': 'How many times did the yellow ball move?',
                    'answer': str(len(self.path) - 1), 'answer_value': len(self.path) - 1,
                    'kind': 'how_many'})
        return out
