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

from dataclasses import dataclass, replace
import math
import random
from typing import Protocol

from memory_nodes.execution.primitives import PrimitiveConfig

# How far below an object's top its grasp / press point lies, per label (m). A cup is
# grasped just under its rim; cubes at their top face; buttons pressed on their cap.
GRASP_BELOW_TOP = {'cup': 0.012, 'cube': 0.004, 'drawer': 0.02}
MATCH_RADIUS_M = 0.06  # a remembered position names a current object within this distance
EPISODE_SLACK_S = 0.5  # an observation this much before the episode's first event belongs to it


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
    check: str = ''      # what the critic verifies: 'lifted', 'opened', 'closed' (a drawer)
    #                      or '' (the executor's completion)
    # late binding: (how, label, color) re-evaluated against the scene when the step is
    # sent (``resolve_step``), for points that depend on where earlier steps left things;
    # how is 'grasp' (act point), 'on' (put on top), 'in' (put inside) or 'knob' (a drawer's)
    resolve: tuple = ()


class MemoryAccess(Protocol):
    """What the recipes ask the lifelong memory (entries are lifelong_memory.MemoryEntry)."""

    def events(self, episode_id: str, text: str = '', t0: float = 0.0,
               t1: float = 0.0) -> list: ...

    def where(self, text: str, at: float = 0.0, k: int = 10) -> list: ...

    def count(self, text: str, episode_id: str, t0: float = 0.0, t1: float = 0.0) -> int: ...

    def latest(self, text: str, t0: float = 0.0, t1: float = 0.0, k: int = 20) -> list:
        """Events matching ``text`` across every episode (no episode filter), newest first
        (QueryMemory KIND_WHEN); what recipes use to recall earlier episodes."""
        ...


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
    # the cups of this episode: the memory also remembers earlier games' cups where they
    # were last seen, and one of those may stand nearer to where the ball vanished
    start = _episode_start(memory, episode_id)
    here = {e.entry_id for e in memory.where('cup', k=50)
            if 'cup' in _words(e.subject) and e.stamp >= start - EPISODE_SLACK_S}
    # which of them stood where the ball vanished, at that moment
    then = [e for e in memory.where('cup', at=last.stamp, k=50)
            if 'cup' in _words(e.subject) and e.has_position and e.entry_id in here]
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


SHOWN_WINDOW_S = 2.0  # the cue object appears within this long of the first appearance


def _shown_first(events, label):
    """The name of the ``label`` object that was shown first: of the objects that came into
    view within SHOWN_WINDOW_S of the first one, the one that stayed in view longest (until
    its next disappearance). A one-frame misreading (an orange cube named yellow in the
    first frame of an episode) is a zero-length view and loses."""
    events = sorted((e for e in events if label in _words(e.subject)), key=lambda e: e.stamp)
    came = [e for e in events if e.kind in ('appeared', 'reappeared', 'moved')]
    if not came:
        return None
    first = came[0].stamp
    views = {}
    for e in came:
        if e.stamp > first + SHOWN_WINDOW_S or e.subject in views:
            continue
        gone = [d.stamp for d in events if d.kind == 'disappeared' and d.subject == e.subject
                and d.stamp >= e.stamp - 1e-3]
        views[e.subject] = (min(gone) if gone else math.inf) - e.stamp
    return max(views, key=lambda name: views[name])


def remember_color(intent, memory, scene, episode_id, rng):
    cubes = _of(scene, 'cube')
    if memory is None:
        return [_pick_step(_guess(rng, cubes, 'cube'), 'pick', ' (guess: no lifelong memory)')]
    shown = _shown_first(memory.events(episode_id, text='cube'), 'cube')
    if shown is None:
        raise MissingMemoryError(f'memory saw no cube appear in episode {episode_id!r}')
    color = shown.split()[0]
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


# -- late binding, put_back and where_did_i_leave_it ---------------------------------------

HOLD_ABOVE_SUPPORT_M = 0.04   # pinch height over a surface to let a held cube down onto it
TRAY_FLOOR_M = 0.006          # the tray's floor over its bottom
KNOB_BELOW_TOP_M = 0.012      # a drawer knob's centre under the top of what is seen of it
KNOB_BEFORE_FRONT_M = 0.012   # the knob's centre in front of an open drawer's front (-x)
OPEN_DRAWER_DEPTH_M = 0.03    # a drawer seen deeper (x) than this is open: its box shows;
#                               closed, the cabinet's top plate hides all but the knob
DRAWER_MATCH_Y_M = 0.05       # half the pitch of side-by-side drawers
START_LOOK_S = 1.0            # after an episode's start: where things stood 'at the start'
AGENT_LABELS = ('hand', 'arm', 'robot', 'gripper')  # movers, never the thing moved


def drawer_is_open(drawer):
    """Whether a drawer seen as ``drawer`` is open: closed, perception sees only its knob;
    open, the drawer's box, deeper (x) than OPEN_DRAWER_DEPTH_M."""
    return drawer.extent[0] > OPEN_DRAWER_DEPTH_M


def in_line(objects, y):
    """The objects within DRAWER_MATCH_Y_M of ``y`` across the drawers' slide axis (x): a
    drawer there is the one whose knob is at ``y``, not its neighbour."""
    return [o for o in objects if abs(o.position[1] - y) <= DRAWER_MATCH_Y_M]


def knob_point(drawer):
    """The knob of a drawer seen as ``drawer`` (where pull and push grasp it).

    Drawers slide out along -x with the knob on the front top edge. Closed, perception sees
    only the knob; open, it sees the drawer's box, whose front (its -x face) carries the knob.
    """
    x, y, _ = drawer.position
    if drawer_is_open(drawer):
        x = x - drawer.extent[0] / 2.0 - KNOB_BEFORE_FRONT_M
    return (x, y, drawer.top - KNOB_BELOW_TOP_M)


def point_for(how, obj):
    """Where to act on ``obj`` for ``how``: 'grasp' (its act point), 'on' (release a held cube
    on its top), 'in' (release inside it, on its floor: a tray) or 'knob' (a drawer's)."""
    x, y = obj.position[0], obj.position[1]
    if how == 'grasp':
        return obj.act_point()
    if how == 'on':
        return (x, y, obj.top + HOLD_ABOVE_SUPPORT_M)
    if how == 'in':
        bottom = obj.position[2] - obj.extent[2] / 2.0
        return (x, y, bottom + TRAY_FLOOR_M + HOLD_ABOVE_SUPPORT_M)
    if how == 'knob':
        return knob_point(obj)
    raise ValueError(f'resolve how is {how!r}; expected grasp, on, in or knob')


def resolve_step(step, scene):
    """(step, note): ``step`` with its point taken from the scene now, for steps planned with
    a ``resolve`` hint (late binding: an object earlier steps moved is acted on where it is
    now). The object of the hint's label and colour nearest to the planned point is used; a
    drawer must be the same one (within DRAWER_MATCH_Y_M across its slide axis). With no
    such object in view the planned point is kept and the note says so."""
    if not step.resolve:
        return step, ''
    how, label, color = step.resolve
    seen = [o for o in _of(scene, label, color) if o.visible]
    if how == 'knob':
        seen = in_line(seen, step.point[1])
    name = f'{color} {label}'.strip()
    if not seen:
        return step, f'no {name} in view: kept the planned point'
    obj = min(seen, key=lambda o: math.dist(o.position[:2], step.point[:2]))
    point = tuple(float(v) for v in point_for(how, obj))
    return replace(step, point=point), (
        f'{how} point ({point[0]:.3f}, {point[1]:.3f}, {point[2]:.3f}) of the {name} seen at '
        f'({obj.position[0]:.3f}, {obj.position[1]:.3f})')


def _late(action, how, obj, text, target=None, check=''):
    name = f'{obj.color} {obj.label}'.strip()
    color = '' if how == 'knob' else obj.color  # a drawer's colour changes as it opens
    return Step(action, target or name, point_for(how, obj), text, check=check,
                resolve=(how, obj.label, color))


def _episode_start(memory, episode_id):
    """When the episode started: its episode_started event, else its first event other than
    a disappearance (an object of an earlier scene is logged as gone in this episode,
    stamped when it was last seen, long before)."""
    events = memory.events(episode_id)
    started = [e.stamp for e in events if e.kind == 'episode_started']
    if started:
        return min(started)
    first = [e.stamp for e in events if e.kind != 'disappeared']
    if not first:
        raise MissingMemoryError(f'memory holds nothing of episode {episode_id!r} yet')
    return min(first)


def _start_position(memory, name, episode_id):
    """Where ``name`` stood when the episode started (WHERE at start + START_LOOK_S): the
    newest position record of a track of that name at that time."""
    at = _episode_start(memory, episode_id) + START_LOOK_S
    then = [e for e in memory.where(name, at=at, k=20) if e.subject == name and e.has_position]
    if not then:
        raise MissingMemoryError(f'memory has no position of the {name} at t={at:.2f} s')
    entry = max(then, key=lambda e: e.stamp)
    return entry.position, (f' (the {name} was at ({entry.position[0]:.3f}, '
                            f'{entry.position[1]:.3f}) at t={at:.1f} s)')


def _guess_start(rng, tray):
    """No memory: a random spot on the half of the table away from the tray."""
    side = -1.0 if tray.position[1] >= 0 else 1.0
    return (rng.uniform(0.34, 0.56), side * rng.uniform(0.06, 0.32), 0.02)


def put_back(intent, memory, scene, episode_id, rng):
    """Cube to the tray, the distractor (stack blue on green, or open and close the drawer),
    cube back where memory saw it when the episode started. Points of objects that earlier
    steps move are bound when each step is sent (``resolve``)."""
    color = intent.args.get('cube_color', '')
    name = f'{color} cube'.strip()
    cubes = [c for c in _of(scene, 'cube', color) if c.visible]
    trays = [t for t in _of(scene, 'tray') if t.visible]
    if not cubes or not trays:
        raise MissingMemoryError(f'need the {name} and a tray in view')
    cube, tray = cubes[0], trays[0]
    if memory is None:
        start, why = _guess_start(rng, tray), ' (guess: no lifelong memory)'
    else:
        start, why = _start_position(memory, name, episode_id)
    steps = [_late('pick', 'grasp', cube, f'pick the {name}', check='lifted'),
             _late('place', 'in', tray, f'place the {name} in the tray')]
    if intent.args.get('distractor') == 'drawer':
        drawers = [d for d in _of(scene, 'drawer') if d.visible]
        if not drawers:
            raise MissingMemoryError('no drawer in view to open and close')
        drawer = min(drawers, key=lambda d: math.dist(d.position[:2], cube.position[:2]))
        pull = _late('pull', 'knob', drawer, 'open the drawer', target='drawer',
                     check='opened')
        travel = PrimitiveConfig().drawer_travel
        push = replace(pull, action='push', target='open drawer', text='close the drawer',
                       point=(pull.point[0] - travel, *pull.point[1:]), check='closed')
        steps += [pull, push]
    else:
        blue = [c for c in _of(scene, 'cube', 'blue') if c.visible]
        green = [c for c in _of(scene, 'cube', 'green') if c.visible]
        if not blue or not green:
            raise MissingMemoryError('need the blue and the green cube in view to stack')
        steps += [_late('pick', 'grasp', blue[0], 'pick the blue cube', check='lifted'),
                  _late('place', 'on', green[0], 'place the blue cube on the green cube')]
    back = (float(start[0]), float(start[1]), HOLD_ABOVE_SUPPORT_M)
    steps += [replace(steps[0], text=f'pick the {name} from the tray'),
              Step('place', 'table', back, f'put the {name} back{why}')]
    return steps


def watch_placement(intent, memory, scene, episode_id, rng):
    """Placing episode: nothing to do; perception and memory record where the item goes."""
    return []


def _placing_episode(memory, item, episode_id):
    """(episode id, start, end) of the latest earlier episode that showed ``item`` being put
    away (its instruction parses as watch_placement of that item), or None."""
    from memory_nodes.planning.grammar import parse_instruction

    for e in memory.latest('episode started', k=50):
        if e.object == episode_id or ': ' not in e.text:
            continue
        try:
            intent = parse_instruction(e.text.split(': ', 1)[1])
        except ValueError:
            continue
        if intent.task == 'watch_placement' and intent.args.get('item') == item:
            ends = [x.stamp for x in memory.latest('episode ended', t0=e.stamp, k=50)
                    if x.object == e.object]
            return e.object, e.stamp, min(ends, default=0.0)
    return None


def where_item_went(memory, item, container, episode_id):
    """(position, why): where ``item`` was last seen while it was put away: the newest
    disappearance of a thing other than the containers and the placing hand, in the latest
    episode that showed the placing (across episodes: it may be long past, in another
    process's run), else in this episode (placed and asked in one episode)."""
    placing = _placing_episode(memory, item, episode_id)
    if placing is not None:
        placed_in, t0, t1 = placing
        gone = memory.latest('disappeared', t0=t0, t1=t1, k=50)
    else:
        placed_in, gone = episode_id, memory.events(episode_id, text='disappeared')
    gone = [e for e in gone if e.kind == 'disappeared' and e.has_position
            and e.subject.split()[-1] not in (container, *AGENT_LABELS)]
    if not gone:
        raise MissingMemoryError(f'memory holds no episode in which the {item} was put away '
                                 f'and saw nothing go out of view in {placed_in!r}')
    last = max(gone, key=lambda e: e.stamp)
    return last.position, (f' ({last.subject}, the {item}, went out of view at '
                           f'({last.position[0]:.2f}, {last.position[1]:.2f}) at '
                           f't={last.stamp:.1f} s in episode {placed_in})')


def where_did_i_leave_it(intent, memory, scene, episode_id, rng):
    """Open the drawer memory saw the item go into (in an earlier episode)."""
    item, container = intent.args.get('item', ''), intent.args.get('container', 'drawer')
    drawers = [d for d in _of(scene, container) if d.visible]
    if not drawers:
        raise MissingMemoryError(f'no {container} in view')
    if memory is None:
        drawer, why = _guess(rng, drawers, container), ' (guess: no lifelong memory)'
    else:
        where, why = where_item_went(memory, item, container, episode_id)
        drawer = min(drawers, key=lambda d: abs(d.position[1] - where[1]))
        if abs(drawer.position[1] - where[1]) > DRAWER_MATCH_Y_M:
            raise MissingMemoryError(f'the {item} was last seen at {tuple(where)}; no '
                                     f'{container} in view there')
    return [_late('pull', 'knob', drawer, f'open the {container}{why}', target=container,
                  check='opened')]


RECIPES = {
    'shell_game': shell_game,
    'moved_while_watched': moved_while_watched,
    'remember_color': remember_color,
    'button_sequence': button_sequence,
    'count': count,
    'put_back': put_back,
    'watch_placement': watch_placement,
    'where_did_i_leave_it': where_did_i_leave_it,
}


def plan_steps(intent, memory, scene, episode_id, seed=0):
    """Steps for ``intent``; MissingMemoryError when memory or the scene lacks what is needed.

    ``memory=None`` plans without lifelong memory (guesses, seeded by ``seed``).
    """
    recipe = RECIPES.get(intent.task)
    if recipe is None:
        raise ValueError(f'task {intent.task!r} has no recipe yet (recipes: {sorted(RECIPES)})')
    return recipe(intent, memory, list(scene), episode_id, random.Random(seed))
