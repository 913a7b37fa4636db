"""Where did I leave it (across episodes): a scripted hand puts a named object into one of 6
identical closed drawers; later, in a probe episode, the robot is asked for the object.

Stages (knob `stage`): 'place' is the placing episode alone (the arm watches; it ends after
the delay), 'probe' starts with the object already in its drawer and nothing shown (a
memory from an earlier episode, e.g. the lifelong memory, must answer), 'full' does both in
one episode (place, delay, probe), which is what policies train on. The same seed gives the
same drawer in every stage, so a 'place' episode and a later 'probe' episode in a new
process form one trial. Success: the right drawer is the first one opened; the number of
drawers opened until the object is found is reported too (3.5 expected by random search).

Memoryless ceiling: 1/6 right-first.
"""

from __future__ import annotations

import numpy as np

from sim import motions
from sim.env import DRAWER_OPEN
from sim.scene import PARK_Z, cabinet_xml, cube_spec, drawer_spec, hand_spec, marker_spec
from sim.tasks.base import MIN_DELAY_S, PALETTE, Task, knob_choice, knob_float

NUM_DRAWERS = 6
CABINET_X = 0.62
PITCH = 0.1
ITEMS = (('key', 'yellow'), ('phone', 'black'), ('wallet', 'orange'), ('remote', 'blue'),
         ('lighter', 'red'))
IN_DRAWER = np.array([-0.02, 0.0, 0.008])  # object offset from the drawer origin
PICKUP = np.array([0.36, 0.36, 0.0])  # where the object lies before the hand takes it


class WhereDidILeaveIt(Task):
    name = 'where_did_i_leave_it'
    chance = 1.0 / NUM_DRAWERS
    chance_note = '1/6: open any drawer first (random search opens 3.5 on average)'
    act_seconds = 30.0
    KNOBS = {
        'stage': ('full', knob_choice('full', 'place', 'probe')),  # see the module docstring
        'delay_s': (3.0, knob_float(MIN_DELAY_S, 600.0)),  # after placing, before probing
    }

    def generate(self):
        rng = self.layout_rng
        self.item, color = ITEMS[int(rng.integers(len(ITEMS)))]
        self.drawer_index = int(self.hidden_rng.integers(NUM_DRAWERS))
        self.builder.add_static(cabinet_xml('cabinet', (CABINET_X, 0.0, 0.0), NUM_DRAWERS,
                                            PITCH))
        self.drawers = []
        for i in range(NUM_DRAWERS):
            y = (i - (NUM_DRAWERS - 1) / 2) * PITCH
            self.drawers.append(self.builder.add(
                drawer_spec(f'drawer{i}', (CABINET_X, y, 0.0))).name)
        self.builder.add(cube_spec(self.item, PICKUP, PALETTE[color], half=0.018))
        self.builder.add(hand_spec('helper_hand'))
        self.builder.add(marker_spec('cue_marker', (1.0, 1.0, 1.0, 1.0), size=0.015))
        self.cue_slots = ['cue_marker']
        stage = self.knobs['stage']
        self.keys = self._keyframes()
        if stage == 'probe':
            self.cue_steps, self.delay_steps = 1, 0
        else:
            self.cue_steps = sum(k[0] for k in self.keys) + 1
        if stage == 'place':
            self.act_seconds = 0.0
        self.instruction = (f'Watch which drawer the {self.item} goes into.' if stage == 'place'
                            else f'Find the {self.item}: open the drawer you saw it go into.')
        self.opened = []

    def _drawer_y(self, i):
        return (i - (NUM_DRAWERS - 1) / 2) * PITCH

    def _keyframes(self):
        """(steps, hand position, drawer opening, where the object is) of the placing hand."""
        y = self._drawer_y(self.drawer_index)
        knob = np.array([CABINET_X - 0.075, y, 0.045])
        out = np.array([0.1, 0.0, 0.0])
        inside = np.array([CABINET_X - 0.1, y, 0.0]) + IN_DRAWER
        up = np.array([0.0, 0.0, 0.12])
        return [
            (1, PICKUP + up * 2, 0.0, 'table'),
            (8, knob + up, 0.0, 'table'),
            (4, knob, 0.0, 'table'),
            (6, knob - out, 0.1, 'table'),
            (8, PICKUP + up, 0.1, 'table'),
            (3, PICKUP + np.array([0, 0, 0.02]), 0.1, 'table'),
            (8, inside + up, 0.1, 'hand'),
            (3, inside + np.array([0, 0, 0.02]), 0.1, 'hand'),
            (3, inside + up, 0.1, 'drawer'),
            (4, knob - out, 0.1, 'drawer'),
            (6, knob, 0.0, 'drawer'),
            (6, knob + up * 2, 0.0, 'drawer'),
        ]

    def hidden(self):
        return {'item': self.item, 'drawer': self.drawer_index,
                'drawer_name': self.drawers[self.drawer_index]}

    def slot_names(self):
        return [self.item] + self.drawers + ['helper_hand', 'cue_marker', 'goal']

    def on_reset(self, env):
        self.opened = []
        super().on_reset(env)
        env.park('helper_hand')
        if self.knobs['stage'] == 'probe':
            self._put_in_drawer(env)
        else:
            self.animate(env, 0)
        if self.mode == 'cue_visible':
            env.set_obj_pos('cue_marker', (CABINET_X, self._drawer_y(self.drawer_index), 0.106))

    def _put_in_drawer(self, env):
        drawer = self.drawers[self.drawer_index]
        env.set_obj_pos(self.item, env.obj_pos(drawer) + IN_DRAWER)
        env.carried[self.item] = (drawer, IN_DRAWER.copy())

    def animate(self, env, step):
        if self.knobs['stage'] == 'probe' or step >= self.cue_steps:
            return
        drawer = self.drawers[self.drawer_index]
        closed = np.array(env.objects[drawer].pos)
        t, prev = step, self.keys[0]
        for key in self.keys[1:]:
            if t < key[0]:
                s = (t + 1) / key[0]
                hand = prev[1] + s * (key[1] - prev[1])
                opening = prev[2] + s * (key[2] - prev[2])
                where = key[3]
                break
            t -= key[0]
            prev = key
        else:
            env.park('helper_hand')
            self._put_in_drawer(env)
            return
        env.set_obj_pos('helper_hand', hand)
        env.set_obj_pos(drawer, closed - np.array([opening, 0.0, 0.0]))
        if where == 'hand':
            env.set_obj_pos(self.item, hand - np.array([0.0, 0.0, 0.02]))
        elif where == 'drawer':
            self._put_in_drawer(env)

    def after_step(self, env):
        if env.phase() == 2:
            for d in self.drawers:
                if d not in self.opened and env.drawer_opening(d) > DRAWER_OPEN:
                    self.opened.append(d)
                    env.log_event('opened', d)
        super().after_step(env)

    def is_hidden(self, env, name):
        if name != self.item or env.is_parked('helper_hand'):
            in_drawer = self.item in env.carried
            if name == self.item and in_drawer:
                return env.drawer_opening(self.drawers[self.drawer_index]) < 0.06
        return False

    def finished(self, env):
        if self.knobs['stage'] == 'place':
            return False
        return self.drawers[self.drawer_index] in self.opened

    def success(self, env):
        if self.knobs['stage'] == 'place':
            return self.item in env.carried and env.phase() > 0
        return bool(self.opened) and self.opened[0] == self.drawers[self.drawer_index]

    def drawers_opened(self) -> int:
        return len(self.opened)

    def outcome_note(self, env):
        if self.knobs['stage'] == 'place':
            return f'the {self.item} is in a drawer' if self.item in env.carried else ''
        return f'drawers opened: {len(self.opened)}'

    def goal_position(self, env):
        if env.phase() < 2:
            return None
        return motions.grasp_point(env, self.drawers[self.drawer_index])

    def true_position(self, env, name):
        if name == 'helper_hand' and env.is_parked('helper_hand'):
            return np.array([0.0, 0.0, PARK_Z])
        return super().true_position(env, name)

    def expert(self, env):
        yield from motions.wait_for_act(env)
        yield from motions.pull_drawer(env, self.drawers[self.drawer_index], 0.1)
        while True:
            yield from motions.hold(env, 1)

    def questions(self, env):
        return [{'question': f'Where did you leave the {self.item}?',
                 'answer': f'in drawer {self.drawer_index + 1} from the right (robot view: '
                           f'from the left)', 'answer_value': self.drawer_index,
                 'kind': 'where'}]
