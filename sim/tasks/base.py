"""What every memory task shares: seeded generation, knobs, modes, phases, slots, hooks.

A task subclass declares KNOBS, builds its objects in `generate()` from two random streams
(`self.layout_rng` for the scene and `self.hidden_rng` for the hidden variable, so that
overriding the hidden variable leaves the layout unchanged: the leakage test relies on it),
animates its cue in `animate()`, and says what the policy may see in `slot_view()`.
"""

from __future__ import annotations

import numpy as np

from sim.scene import CLASSES, SceneBuilder, marker_spec

MODES = ('memory', 'oracle', 'cue_visible')
CONTROL_HZ = 10  # policy steps per simulated second
# Every delay is longer than a policy's observation history plus its action chunk
# (2 + 16 steps = 1.8 s for the models in models/), so no chunk can bridge the gap.
MIN_DELAY_S = 2.0
GOAL_RGBA = (1.0, 0.0, 1.0, 1.0)  # the oracle's goal marker: magenta
PALETTE = {  # colour name -> rgba, distinct under the scene camera
    'red': (0.9, 0.1, 0.1, 1.0), 'green': (0.1, 0.75, 0.2, 1.0), 'blue': (0.15, 0.3, 0.95, 1.0),
    'yellow': (0.95, 0.85, 0.1, 1.0), 'purple': (0.55, 0.2, 0.8, 1.0),
    'orange': (1.0, 0.5, 0.05, 1.0), 'cyan': (0.1, 0.85, 0.9, 1.0),
    'white': (0.95, 0.95, 0.95, 1.0), 'black': (0.08, 0.08, 0.08, 1.0),
}
COLOR_NAMES = tuple(PALETTE)


def knob_int(lo: int, hi: int):
    """Validator for an integer knob in [lo, hi]; returns the int or raises ValueError."""
    def check(name, value):
        if isinstance(value, bool) or not float(value).is_integer() or not lo <= value <= hi:
            raise ValueError(f'knob {name} must be an integer in [{lo}, {hi}], got {value!r}')
        return int(value)
    return check


def knob_float(lo: float, hi: float):
    def check(name, value):
        if not isinstance(value, (int, float)) or not lo <= value <= hi:
            raise ValueError(f'knob {name} must be a number in [{lo}, {hi}], got {value!r}')
        return float(value)
    return check


def knob_choice(*choices):
    def check(name, value):
        if value not in choices:
            raise ValueError(f'knob {name} must be one of {choices}, got {value!r}')
        return choices[choices.index(value)]  # the choice itself (True, not 1)
    check.choices = choices  # read by sim.knobs to map numbers from StartEpisode
    return check


def knob_optional(check):
    """A hidden-variable override: None (draw it from the seed) or a valid value."""
    def optional(name, value):
        return None if value is None else check(name, value)
    return optional


COMMON_KNOBS = {
    # Seed of the hidden variable only (cue content), independent of the layout: the
    # leakage test varies it and checks that nothing after the cue changes.
    'hidden_seed': (None, knob_optional(knob_int(0, 2**31 - 1))),
}


class Task:
    """Base class of the memory tasks; see the module docstring."""

    name = 'task'
    chance = 0.0  # success of the best memoryless strategy (the chance ceiling)
    chance_note = ''  # how the chance ceiling is computed
    KNOBS: dict = {}  # knob name -> (default, validator)
    act_seconds = 20.0  # time limit of the act phase

    def __init__(self, seed: int, mode: str = 'memory', **knobs):
        if mode not in MODES:
            raise ValueError(f'mode must be one of {MODES}, got {mode!r}')
        if isinstance(seed, bool) or not float(seed).is_integer():
            raise ValueError(f'seed must be an integer, got {seed!r}')
        knob_table = {**self.KNOBS, **COMMON_KNOBS}
        unknown = sorted(set(knobs) - set(knob_table))
        if unknown:
            raise ValueError(f'unknown knob(s) {unknown} for task {self.name}; '
                             f'known: {sorted(knob_table)}')
        self.seed = int(seed)
        self.mode = mode
        self.knobs = {}
        for key, (default, check) in knob_table.items():
            self.knobs[key] = check(key, knobs.get(key, default))
        hidden_seed = self.knobs['hidden_seed']
        self.layout_rng = np.random.default_rng([self.seed, 0])
        self.hidden_rng = np.random.default_rng(
            [self.seed, 1] if hidden_seed is None else [hidden_seed, 2])
        self.builder = SceneBuilder()
        self.cue_steps = 0
        self.delay_steps = self._delay_steps()
        self.instruction = ''
        self.cue_slots = []  # slot names that exist only to show the cue (cue_visible mode)
        self.generate()
        self.builder.add(marker_spec('goal', GOAL_RGBA, size=0.014, kind='goal'))
        self.max_steps = self.cue_steps + self.delay_steps + int(self.act_seconds * CONTROL_HZ)

    def _delay_steps(self) -> int:
        delay = self.KNOBS.get('delay_s')
        if delay is None:
            return int(MIN_DELAY_S * CONTROL_HZ)
        return int(round(self.knobs['delay_s'] * CONTROL_HZ))

    # ---------------------------------------------------------------- to implement
    def generate(self) -> None:
        raise NotImplementedError

    def hidden(self) -> dict:
        raise NotImplementedError

    def success(self, env) -> bool:
        raise NotImplementedError

    def failed(self, env) -> bool:
        return False

    def goal_position(self, env):
        """Where the policy should act next (privileged), or None."""
        return None

    def expert(self, env):
        """Generator of actions of the scripted expert (privileged state allowed)."""
        raise NotImplementedError

    # ---------------------------------------------------------------- shared machinery
    @property
    def objects(self):
        return self.builder.objects

    def scene_xml(self) -> str:
        return self.builder.xml()

    def slot_names(self) -> list[str]:
        names = [o.name for o in self.objects if o.kind not in ('goal',)]
        return names + ['goal']

    def finished(self, env) -> bool:
        return env.phase() == 2 and (self.success(env) or self.failed(env))

    def is_hidden(self, env, name: str) -> bool:
        """True when the object is occluded (under a cup, in a closed drawer)."""
        return False

    def slot_view(self, env, name: str):
        """(pos, rgba, lit, kind, state) that a perception front end sees, or None."""
        if name == 'goal':
            goal = self.goal_position(env) if self.mode == 'oracle' else None
            if goal is None:
                return None
            return np.asarray(goal, float), GOAL_RGBA, False, 'goal', 0.0
        o = env.objects[name]
        if env.is_parked(name) or self.is_hidden(env, name):
            return None
        if name in self.cue_slots and self.mode != 'cue_visible':
            return None
        rgba = env.model.geom_rgba[env._geoms_of(name)[0]] if env._geoms_of(name) else o.rgba
        return env.obj_pos(name), rgba, self.is_lit(env, name), o.kind, self.state_of(env, name)

    def is_lit(self, env, name: str) -> bool:
        return False

    def state_of(self, env, name: str) -> float:
        kind = env.objects[name].kind
        if kind == 'button':
            return float(np.clip(env.button_depth(name) / 0.012, 0.0, 1.0))
        if kind == 'drawer':
            return float(np.clip(env.drawer_opening(name) / 0.11, 0.0, 1.0))
        return 0.0

    def true_position(self, env, name: str) -> np.ndarray:
        if name == 'goal':
            goal = self.goal_position(env)
            return np.zeros(3) if goal is None else np.asarray(goal, float)
        return env.obj_pos(name)

    def on_reset(self, env) -> None:
        for name in self.cue_slots:
            if self.mode != 'cue_visible':
                env.park(name)
        self._place_goal_marker(env)

    def animate(self, env, step: int) -> None:
        """Kinematic cue animation for control step `step` (before physics)."""

    def after_step(self, env) -> None:
        self._place_goal_marker(env)

    def _place_goal_marker(self, env) -> None:
        goal = self.goal_position(env) if self.mode == 'oracle' else None
        if goal is None:
            env.set_obj_pos('goal', (0.0, 0.0, -0.5))
        else:
            env.set_obj_pos('goal', np.asarray(goal, float) + np.array([0.0, 0.0, 0.14]))

    def on_grasp(self, env, name: str) -> None:
        pass

    def on_release(self, env, name: str) -> None:
        pass

    def on_press(self, env, name: str) -> None:
        pass

    def outcome_note(self, env) -> str:
        """More about how an episode went, in words, for status messages ('' = nothing)."""
        return ''

    def questions(self, env) -> list[dict]:
        """Templated questions with answers about what happened (ground truth)."""
        return []


def class_feature(kind: str) -> float:
    return CLASSES.index(kind) / len(CLASSES)
