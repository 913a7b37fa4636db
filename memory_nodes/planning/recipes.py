"""Task recipes: what to do for an instruction, given what memory and perception say.

A recipe turns a ``TaskIntent`` into a list of ``Step``s (a verb, the object it acts on and
the point to act at). It resolves the task's hidden variable by asking the lifelong memory
(``MemoryAccess``): which cup covered the ball and where that cup is now, what colour the
shown cube had, the order in which buttons lit, how many times the light blinked. With no
memory (``memory=None``, the planner-without-lifelong-memory ablation) a recipe guesses
among the candidates the scene offers, so its success is the task's chance ceiling.

Positions come from the current scene (``SceneObject``s from the preprocessor's latest
object observations); memory supplies identities and the past. No ROS imports; the planner
node adapts the QueryMemory service to ``MemoryAccess``, tests adapt the library directly.
"""

from dataclasses import dataclass
import math
import random
from typing import Protocol

# How far below an object's top its grasp / press point lies, per label (m). A cup is
# grasped just under its rim; cubes at their top face; buttons pressed on their cap.
GRASP_BELOW_TOP = {'cup': 0.012, 'cube': 0.004, 'drawer': 0.02}
MATCH_RADIUS_M = 0.06  # a remembered position names a current object within this distance


class MissingMemoryError(RuntimeError):
    """Raised when memory does not hold what the recipe needs (the planner retries later)."""


@dataclass(frozen=True)
class SceneObject:
    """One object as perception sees it now (ObjectObservation, minus the header)."""

    track_id: str
    label: str
    color: str
    position: tuple     # (x, y, z) centroid, m
    extent: tuple       # (dx, dy, dz) bounding box, m
    visible: bool = True
    state: str = ''

    @property
    def top(self):
        return self.position[2] + self.extent[2] / 2.0

    def act_point(self):
        """Grasp or press point: above the centroid, a label-specific depth under the top."""
        return (self.position[0], self.position[1],
                self.top - GRASP_BELOW_TOP.get(self.label, 0.0))


@dataclass(frozen=True)
class Step:
    """One subgoal of a plan."""

    action: str          # verb of the Subgoal message (lift, press, pick, ...)
    target: str          # the object, in words ('orange cup', 'blue button')
    point: tuple         # (x, y, z) where to act, m
    text: str            # the step in words
    timeout_s: float = 15.0
    check: str = ''      # what the critic verifies: 'lifted' or '' (executor completion)


class MemoryAccess(Protocol):
    """What the recipes ask the lifelong memory (entries are lifelong_memory.MemoryEntry)."""

    def events(self, episode_id: str, text: str = '', t0: float = 0.0,
               t1: float = 0.0) -> list: ...

    def where(self, text: str, at: float = 0.0, k: int = 10) -> list: ...

    def count(self, text: str, episode_id: str, t0: float = 0.0, t1: float = 0.0) -> int: ...


def _words(text):
    return set(text.lower().replace('_', ' ').split())


def _nearest(objects, point, radius=MATCH_RADIUS_M):
    best = min(objects, key=lambda o: math.dist(o.position[:2], point[:2]), default=None)
    if best is None or math.dist(best.position[:2], point[:2]) > radius:
        return None
    return best


def _of(scene, label, color=''):
    return [o for o in scene if o.label == label and (not color or o.color == color)]


def _pick_step(obj, action='lift', why=''):
    name = f'{obj.color} {obj.label}'.strip()
    return Step(action, name, obj.act_point(), f'{action} the {name}{why}', check='lifted')


def _press_step(obj, why=''):
    name = f'{obj.color} {obj.label}'.strip()
    return Step('press', name, (obj.position[0], obj.position[1], obj.top),
                f'press the {name}{why}', timeout_s=8.0)


def _guess(rng, candidates, what):
    if not candidates:
        raise MissingMemoryError(f'no {what} in view to choose from')
    return rng.choice(sorted(candidates, key=lambda o: o.track_id))


def _hidden_under_cup(intent, memory, scene, episode_id, rng):
    """Shell game and moved-while-watched: the cup that covers the ball now."""
    cups = _of(scene, 'cup')
    if memory is None:
        return _pick_step(_guess(rng, cups, 'cup'), why=' (guess: no lifelong memory)')
    ball = intent.args.get('ball_color', '')
    gone = [e for e in memory.events(episode_id, text=f'{ball} ball')
            if 'ball' in _words(e.subject) and e.has_position
            and e.kind in ('disappeared', 'occluded', 'hidden')]
    if not gone:
        raise MissingMemoryError(f'memory holds no disappearance of the {ball} ball in episode '
                         f'{episode_id!r}')
    last = max(gone, key=lambda e: e.stamp)
    # which cup stood where the ball vanished, at that moment
    then = [e for e in memory.where('cup', at=last.stamp, k=20)
            if 'cup' in _words(e.subject) and e.has_position]
    covering = min(then, key=lambda e: math.dist(e.position[:2], last.position[:2]),
                   default=None)
    if covering is None:
        raise MissingMemoryError(f'memory has no cup positions at t={last.stamp:.2f}')
    # where that same cup (the memory's track: same entry id) is now, matched to perception
    now = [e for e in memory.where('cup', k=20)
           if e.entry_id == covering.entry_id and e.has_position]
    if not now:
        raise MissingMemoryError(f'memory lost track of {covering.subject!r} '
                                 f'(track {covering.entry_id})')
    cup = _nearest(cups, now[0].position)
    if cup is None:
        raise MissingMemoryError(f'{covering.subject} is remembered at {now[0].position} '
                                 'but no cup is seen there')
    return _pick_step(cup, why=f' ({covering.subject} covered the {ball} ball at '
                               f't={last.stamp:.1f} s)')


def shell_game(intent, memory, scene, episode_id, rng):
    return [_hidden_under_cup(intent, memory, scene, episode_id, rng)]


def moved_while_watched(intent, memory, scene, episode_id, rng):
    return [_hidden_under_cup(intent, memory, scene, episode_id, rng)]


def remember_color(intent, memory, scene, episode_id, rng):
    cubes = _of(scene, 'cube')
    if memory is None:
        return [_pick_step(_guess(rng, cubes, 'cube'), 'pick', ' (guess: no lifelong memory)')]
    seen = [e for e in memory.events(episode_id, text='cube')
            if e.kind in ('appeared', 'reappeared', 'moved') and 'cube' in _words(e.subject)]
    if not seen:
        raise MissingMemoryError(f'memory saw no cube appear in episode {episode_id!r}')
    first = min(seen, key=lambda e: e.stamp)
    color = first.subject.split()[0]
    matches = [c for c in cubes if c.color == color]
    if not matches:
        raise MissingMemoryError(f'the shown cube was {color}; no {color} cube is in view')
    return [_pick_step(matches[0], 'pick', f' (the cube shown first was {color})')]


def button_sequence(intent, memory, scene, episode_id, rng):
    buttons = _of(scene, 'button')
    if memory is None:
        order = rng.sample(sorted(buttons, key=lambda o: o.track_id), k=min(3, len(buttons)))
        return [_press_step(b, ' (guess)') for b in order]
    lit = sorted((e for e in memory.events(episode_id, text='button')
                  if e.kind == 'became_lit' and 'button' in _words(e.subject)),
                 key=lambda e: e.stamp)
    if not lit:
        raise MissingMemoryError(f'memory saw no button light up in episode {episode_id!r}')
    steps = []
    for i, e in enumerate(lit):
        color = e.subject.split()[0]
        match = _of(buttons, 'button', color)
        if not match:
            raise MissingMemoryError(f'the {color} button lit up at t={e.stamp:.1f} s but is '
                                     'not seen')
        steps.append(_press_step(match[0], f' ({i + 1} of {len(lit)})'))
    return steps


def count(intent, memory, scene, episode_id, rng):
    count_color = intent.args.get('count_button', '')
    done_color = intent.args.get('done_button', '')
    counter = _of(scene, 'button', count_color)
    done = _of(scene, 'button', done_color)
    if not counter or not done:
        raise MissingMemoryError(f'need the {count_color} and {done_color} buttons in view')
    if memory is None:
        k, why = rng.randint(1, 5), ' (guess)'
    else:
        blinks = [e for e in memory.events(episode_id, text='led')
                  if e.kind == 'became_lit' and 'led' in _words(e.subject)]
        if not blinks:
            raise MissingMemoryError(f'memory saw no light blink in episode {episode_id!r}')
        k, why = len(blinks), f' (the light blinked {len(blinks)} times)'
    steps = [_press_step(counter[0], f' {i + 1} of {k}{why}') for i in range(k)]
    return steps + [_press_step(done[0], ' (done)')]


RECIPES = {
    'shell_game': shell_game,
    'moved_while_watched': moved_while_watched,
    'remember_color': remember_color,
    'button_sequence': button_sequence,
    'count': count,
}


def plan_steps(intent, memory, scene, episode_id, seed=0):
    """Steps for ``intent``; MissingMemoryError when memory or the scene lacks what is needed.

    ``memory=None`` plans without lifelong memory (guesses, seeded by ``seed``).
    """
    recipe = RECIPES.get(intent.task)
    if recipe is None:
        raise ValueError(f'task {intent.task!r} has no recipe yet (recipes: {sorted(RECIPES)})')
    return recipe(intent, memory, list(scene), episode_id, random.Random(seed))
