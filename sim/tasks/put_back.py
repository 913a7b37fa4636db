"""Put it back after a distraction: a cube starts at an unmarked random place; move it to the
tray; do a distractor subtask (stack two other cubes, or open and close a drawer); return the
cube to within 3 cm of its start.

`stack_slips=N` (recording only) is a disturbance for recovery demonstrations: the first N
times the blue cube is released stacked on the green one it slips off onto the table beside
it (2.5-4 cm away, the misses a learned policy makes), and the expert picks it up and stacks
it again; the task counts the stack only once it stays.

Memoryless ceiling: the chance that the start lies within 3 cm of the best fixed guess (the
centre of the start region): disc area / region area.
"""

from __future__ import annotations

import numpy as np

from sim import motions
from sim.scene import cabinet_xml, cube_spec, drawer_spec, tile_spec, tray_spec
from sim.tasks.base import MIN_DELAY_S, PALETTE, Task, knob_choice, knob_float, knob_int

START_LOW = np.array([0.34, -0.32])  # region of the cube's start (x, y)
START_HIGH = np.array([0.56, -0.06])
TRAY = np.array([0.42, 0.30, 0.0])
RETURN_TOLERANCE = 0.03  # m
DRAWER_AT = np.array([0.66, 0.08, 0.0])  # closed drawer (distractor 'drawer')


class PutBack(Task):
    name = 'put_back'
    act_seconds = 45.0
    KNOBS = {
        'distractor': ('stack', knob_choice('stack', 'drawer')),  # the subtask in between
        'show_seconds': (1.5, knob_float(0.5, 5.0)),  # cube shown before the arm may move
        'delay_s': (2.0, knob_float(MIN_DELAY_S, 60.0)),  # before acting
        'stack_slips': (0, knob_int(0, 3)),  # stacks that slip off (recovery demonstrations)
    }
    SLIP_OFFSET = (0.025, 0.04)  # m: how far beside the green cube a slipped blue one lands
    SLIP_X_MAX = 0.615  # m: it lands no further out (the arm's reach in the other demos)
    STACK_ATTEMPTS = 5  # the expert's tries at the stack
    chance_note = 'pi*3cm^2 / start-region area (put it at the region centre)'

    @property
    def chance(self):
        area = float(np.prod(START_HIGH - START_LOW))
        return float(np.pi * RETURN_TOLERANCE ** 2 / area)

    def generate(self):
        rng = self.layout_rng
        xy = self.hidden_rng.uniform(START_LOW, START_HIGH)
        self.start_pos = np.array([xy[0], xy[1], 0.0])
        self.builder.add(cube_spec('red_cube', self.start_pos, PALETTE['red']))
        self.builder.add(tray_spec('tray', TRAY))
        if self.knobs['distractor'] == 'stack':
            a = np.array([rng.uniform(0.36, 0.5), rng.uniform(0.04, 0.14), 0.0])
            b = np.array([rng.uniform(0.56, 0.62), rng.uniform(-0.1, 0.14), 0.0])
            self.builder.add(cube_spec('blue_cube', a, PALETTE['blue']))
            self.builder.add(cube_spec('green_cube', b, PALETTE['green']))
            self.instruction = ('Put the red cube in the tray, stack the blue cube on the green '
                                'cube, then put the red cube back exactly where it was.')
        else:
            self.builder.add_static(cabinet_xml('cabinet', DRAWER_AT, 1, 0.1))
            self.builder.add(drawer_spec('drawer', DRAWER_AT))
            self.instruction = ('Put the red cube in the tray, open and close the drawer, then '
                                'put the red cube back exactly where it was.')
        self.builder.add(tile_spec('start_marker', self.start_pos, (1.0, 1.0, 1.0, 1.0)))
        self.cue_slots = ['start_marker']
        self.cue_steps = int(round(self.knobs['show_seconds'] * 10))
        self.stage = 'to_tray'

    def hidden(self):
        return {'start_position': self.start_pos.round(4).tolist(),
                'distractor': self.knobs['distractor']}

    def on_reset(self, env):
        self.stage = 'to_tray'  # to_tray -> distractor -> return -> done
        self.drawer_was_open = False
        self.slips_left = self.knobs['stack_slips']
        self.slip_rng = np.random.default_rng([self.seed, 5])
        super().on_reset(env)
        if self.mode == 'cue_visible':
            env.set_obj_pos('start_marker', self.start_pos + np.array([0.0, 0.0, -0.001]))

    def _cube_in_tray(self, env):
        p = env.obj_pos('red_cube')
        return (env.attached != 'red_cube' and np.all(np.abs(p[:2] - TRAY[:2]) < 0.065)
                and p[2] < 0.03)

    def _distractor_done(self, env):
        if self.knobs['distractor'] == 'stack':
            a, b = env.obj_pos('blue_cube'), env.obj_pos('green_cube')
            return (env.attached is None and np.hypot(*(a[:2] - b[:2])) < 0.02
                    and abs(a[2] - b[2] - 0.04) < 0.005)
        opening = env.drawer_opening('drawer')
        if opening > 0.05:
            self.drawer_was_open = True
        return self.drawer_was_open and opening < 0.01 and env.attached is None

    def _slip(self, env) -> None:
        """A stack just released slips off: the blue cube lands on the table beside green."""
        green = env.obj_pos('green_cube')
        lo, hi = self.SLIP_OFFSET
        angle, r = self.slip_rng.uniform(0, 2 * np.pi), self.slip_rng.uniform(lo, hi)
        offset = r * np.array([np.cos(angle), np.sin(angle)])
        if green[0] + offset[0] > self.SLIP_X_MAX:
            offset[0] = -offset[0]  # the other side of the green cube, not out of reach
        xy = green[:2] + offset
        env.set_obj_pos('blue_cube', np.array([xy[0], xy[1], 0.0]))
        self.slips_left -= 1
        env.log_event('slipped', 'blue_cube')

    def on_release(self, env, name):
        if (name == 'blue_cube' and env.phase() == 2 and self.stage == 'distractor'
                and self.slips_left > 0 and self._distractor_done(env)):
            self._slip(env)

    def after_step(self, env):
        if env.phase() == 2:
            if self.stage == 'to_tray' and self._cube_in_tray(env):
                self.stage = 'distractor'
                env.log_event('in_tray', 'red_cube')
            elif self.stage == 'distractor' and self._distractor_done(env):
                self.stage = 'return'
                env.log_event('distractor_done', self.knobs['distractor'])
            elif self.stage == 'return' and env.attached is None:
                p = env.obj_pos('red_cube')
                if p[2] < 0.01 and np.hypot(*(p[:2] - self.start_pos[:2])) < RETURN_TOLERANCE:
                    self.stage = 'done'
                    env.log_event('returned', 'red_cube')
        super().after_step(env)

    def success(self, env):
        return self.stage == 'done'

    def goal_position(self, env):
        if env.phase() < 2:
            return None
        if self.stage == 'to_tray':
            return TRAY if env.attached == 'red_cube' else env.obj_pos('red_cube')
        if self.stage == 'distractor':
            if self.knobs['distractor'] == 'drawer':
                return env.obj_pos('drawer')
            held = env.attached == 'blue_cube'
            return env.obj_pos('green_cube' if held else 'blue_cube')
        if self.stage == 'return':
            return self.start_pos if env.attached == 'red_cube' else env.obj_pos('red_cube')
        return None

    def expert(self, env):
        yield from motions.wait_for_act(env)
        yield from motions.pick(env, 'red_cube')
        yield from motions.place(env, 'red_cube', TRAY[:2])
        if self.knobs['distractor'] == 'stack':
            for _ in range(self.STACK_ATTEMPTS):  # again while the stack slips off
                yield from motions.pick(env, 'blue_cube')
                yield from motions.place(env, 'blue_cube', env.obj_pos('green_cube')[:2])
                if self.stage != 'distractor':
                    break
        else:
            yield from motions.pull_drawer(env, 'drawer', 0.09)
            yield from motions.push_drawer(env, 'drawer')
        yield from motions.pick(env, 'red_cube')
        yield from motions.place(env, 'red_cube', self.start_pos[:2])
        while True:
            yield from motions.hold(env, 1)

    def questions(self, env):
        x, y, _ = self.start_pos
        return [{'question': 'Where was the red cube before you moved it?',
                 'answer': f'at x={x:.3f} m, y={y:.3f} m on the table',
                 'answer_value': [round(x, 4), round(y, 4)], 'kind': 'where'}]
