"""Shell game with swaps: a ball is shown, covered by one of N identical cups, the cups swap
places k times at visible speed; after a delay, lift the cup that hides the ball.

Memoryless ceiling: 1/N (all cups look the same after the cover).
"""

from __future__ import annotations

import numpy as np

from sim import motions
from sim.scene import ball_spec, cup_spec, marker_spec
from sim.tasks.base import (
    CONTROL_HZ,
    MIN_DELAY_S,
    PALETTE,
    Task,
    knob_float,
    knob_int,
    knob_optional,
)

CUP_X = 0.45  # m, row of cups
CUP_PITCH = 0.12  # m between neighbouring cups
SHOW_STEPS = 10  # ball shown under the raised cup
LOWER_STEPS = 6  # cup comes down over the ball
LIFTED_Z = 0.05  # m: a cup this high counts as lifted
SWAP_BULGE = 0.08  # m: swapping cups leave the row by this much, to opposite sides
SWAP_RAMP = 0.06  # m of travel along the row over which a swapping cup leaves / rejoins it
CUP_RADIUS = 0.036  # m (sim.scene.cup_spec): cups closer than 2 radii would intersect


def swap_offset(s: float, distance: float) -> float:
    """Sideways offset (m) of a swapping cup at fraction s of a swap over `distance` (m):
    a smoothstep from 0 to SWAP_BULGE over the first SWAP_RAMP of travel, back over the last.
    """
    u = np.clip(min(s, 1.0 - s) * distance / SWAP_RAMP, 0.0, 1.0)
    return SWAP_BULGE * u * u * (3.0 - 2.0 * u)


class ShellGame(Task):
    name = 'shell_game'
    KNOBS = {
        'num_cups': (3, knob_int(3, 5)),  # cups in the row
        'num_swaps': (3, knob_int(0, 6)),  # pairwise swaps after the cover
        'swap_seconds': (1.0, knob_float(0.5, 3.0)),  # duration of one swap
        'delay_s': (3.0, knob_float(MIN_DELAY_S, 60.0)),  # still time before acting
        'ball_cup': (None, knob_optional(knob_int(0, 4))),  # override the hidden cup (tests)
    }

    @property
    def chance(self):
        return 1.0 / self.knobs['num_cups']

    chance_note = '1/N: lift any cup'

    def generate(self):
        n = self.knobs['num_cups']
        rng = self.layout_rng
        cup_colour = PALETTE[rng.choice(['orange', 'purple', 'blue', 'red'])]
        ys = (np.arange(n) - (n - 1) / 2) * CUP_PITCH
        x0 = CUP_X + rng.uniform(-0.03, 0.03)
        self.start = [np.array([x0, y, 0.0]) for y in ys]
        self.cups = [self.builder.add(cup_spec(f'cup{i}', self.start[i], cup_colour)).name
                     for i in range(n)]
        self.swaps = [tuple(int(v) for v in rng.choice(n, 2, replace=False))
                      for _ in range(self.knobs['num_swaps'])]
        ball = self.hidden_rng.integers(n)
        if self.knobs['ball_cup'] is not None:
            if self.knobs['ball_cup'] >= n:
                raise ValueError(f'knob ball_cup must be < num_cups={n}, '
                                 f'got {self.knobs["ball_cup"]}')
            ball = self.knobs['ball_cup']
        self.ball_cup = int(ball)
        self.builder.add(ball_spec('ball', self.start[self.ball_cup]))
        self.builder.add(marker_spec('cue_marker', PALETTE['green'], size=0.014))
        self.cue_slots = ['cue_marker']
        self.swap_steps = int(round(self.knobs['swap_seconds'] * CONTROL_HZ))
        self.cue_steps = SHOW_STEPS + LOWER_STEPS + self.swap_steps * len(self.swaps) + 1
        self.instruction = 'Lift the cup that hides the green ball.'
        self.lifted = None

    def hidden(self):
        return {'ball_cup': self.ball_cup, 'ball_cup_name': self.cups[self.ball_cup],
                'swaps': [list(s) for s in self.swaps]}

    def _cup_positions(self, step: float) -> list[np.ndarray]:
        """Cup positions (on the table) at a control step of the cue.

        Swaps run one after the other; swap k exchanges the places of cups a and b. Both move
        along the row at constant speed while leaving it to opposite sides (+-x) within the
        first SWAP_RAMP of travel and rejoining it within the last, so they pass each other
        and every cup standing in between without touching. Every cup stands at the place
        the finished swaps left it until its next swap starts: the motion is continuous at
        every swap boundary.
        """
        t = step - SHOW_STEPS - LOWER_STEPS
        places = list(range(len(self.start)))  # places[i] = start place cup i is at now
        moving = {}  # cup -> position while its swap is under way
        for k, (a, b) in enumerate(self.swaps):
            s = (t - k * self.swap_steps) / self.swap_steps
            if s <= 0.0:
                break  # this swap and all later ones have not started
            if s >= 1.0:
                places[a], places[b] = places[b], places[a]
                continue
            pa, pb = self.start[places[a]], self.start[places[b]]
            bulge = np.array([swap_offset(s, float(np.linalg.norm(pb - pa))), 0.0, 0.0])
            moving[a] = pa + s * (pb - pa) + bulge
            moving[b] = pb + s * (pa - pb) - bulge
            break  # one swap at a time
        return [moving[i] if i in moving else self.start[places[i]].copy()
                for i in range(len(self.start))]

    def on_reset(self, env):
        self.lifted = None
        self.animate(env, 0)
        super().on_reset(env)

    def animate(self, env, step):
        if step > self.cue_steps:
            return
        pos = self._cup_positions(step)
        raise_z = 0.0
        if step < SHOW_STEPS:
            raise_z = 0.12
        elif step < SHOW_STEPS + LOWER_STEPS:
            raise_z = 0.12 * (1 - (step - SHOW_STEPS + 1) / LOWER_STEPS)
        for i, cup in enumerate(self.cups):
            lift = raise_z if i == self.ball_cup else 0.0
            env.set_obj_pos(cup, pos[i] + np.array([0.0, 0.0, lift]))
        env.set_obj_pos('ball', pos[self.ball_cup])
        self._place_cue_marker(env)

    def _place_cue_marker(self, env):
        if self.mode == 'cue_visible':
            env.set_obj_pos('cue_marker', env.obj_pos(self.cups[self.ball_cup])
                            + np.array([0.0, 0.0, 0.115]))

    def after_step(self, env):
        self._place_cue_marker(env)
        if self.lifted is None and env.phase() == 2:
            for cup in self.cups:
                if env.obj_pos(cup)[2] > LIFTED_Z:
                    self.lifted = cup
                    env.log_event('lifted', cup)
        super().after_step(env)

    def is_hidden(self, env, name):
        if name != 'ball':
            return False
        b = env.obj_pos('ball')
        return any(np.hypot(*(env.obj_pos(c)[:2] - b[:2])) < 0.03 and env.obj_pos(c)[2] < 0.03
                   for c in self.cups)

    def success(self, env):
        return self.lifted == self.cups[self.ball_cup]

    def failed(self, env):
        return self.lifted is not None and not self.success(env)

    def goal_position(self, env):
        return env.obj_pos(self.cups[self.ball_cup])

    def expert(self, env):
        yield from motions.wait_for_act(env)
        yield from motions.pick(env, self.cups[self.ball_cup])
        while True:
            yield from motions.hold(env, 1)

    def questions(self, env):
        order = sorted(self.cups, key=lambda c: env.obj_pos(c)[1])
        place = order.index(self.cups[self.ball_cup]) + 1
        return [{'question': 'Which cup hid the ball?',
                 'answer': f'cup {place} from the right (camera view: from the left)',
                 'answer_value': place, 'kind': 'where'}]
