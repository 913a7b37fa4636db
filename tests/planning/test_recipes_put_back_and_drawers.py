"""put_back and where_did_i_leave_it recipes against a real lifelong memory fed scripted
observation streams (shaped like the preprocessor's output for these sim tasks), late binding
of step points, and the no-memory guesses."""

from dataclasses import replace

import numpy as np
import pytest

from memory_nodes.execution.primitives import PrimitiveConfig
from memory_nodes.lifelong_memory import LifelongMemory, ObjectObservation, Query, QueryKind
from memory_nodes.planning.critic import check_step
from memory_nodes.planning.grammar import parse_instruction
from memory_nodes.planning.recipes import (
    HOLD_ABOVE_SUPPORT_M,
    MissingMemoryError,
    SceneObject,
    plan_steps,
    resolve_step,
)

CUBE = (0.036, 0.036, 0.036)
TRAY_AT, TRAY = (0.424, 0.299, 0.013), (0.14, 0.147, 0.021)
KNOB = (0.008, 0.022, 0.004)           # a closed drawer: perception sees only its knob
OPEN_DRAWER = (0.09, 0.088, 0.062)     # an open drawer: its box
DRAWER_YS = [round((i - 2.5) * 0.1, 2) for i in range(6)]
PUT_BACK = ('Put the red cube in the tray, stack the blue cube on the green cube, then put '
            'the red cube back exactly where it was.')
PUT_BACK_DRAWER = ('Put the red cube in the tray, open and close the drawer, then put the red '
                   'cube back exactly where it was.')


class LibraryMemory:
    """recipes.MemoryAccess straight over the library (the planner node uses the service)."""

    def __init__(self, mem):
        self.mem = mem

    def events(self, episode_id, text='', t0=0.0, t1=0.0):
        return self.mem.query(Query(QueryKind.WHAT_HAPPENED, text, episode_id, 100, t0,
                                    t1)).results

    def where(self, text, at=0.0, k=10):
        return self.mem.query(Query(QueryKind.WHERE, text, '', k, 0.0, at)).results

    def count(self, text, episode_id, t0=0.0, t1=0.0):
        return self.mem.query(Query(QueryKind.HOW_MANY, text, episode_id, 10, t0, t1)).count

    def latest(self, text, t0=0.0, t1=0.0, k=20):
        return self.mem.query(Query(QueryKind.WHEN, text, '', k, t0, t1)).results


def _obs(t, label, color, pos, extent, visible=True, track_id=''):
    return ObjectObservation(stamp=t, label=label, color=color, position=tuple(pos),
                             extent=extent, visible=visible, track_id=track_id,
                             position_covariance=(1e-5, 0, 0, 0, 1e-5, 0, 0, 0, 1e-5))


def _scene(objects):
    """{name: (label, color, position, extent)} -> SceneObjects."""
    return [SceneObject(name, label, color, tuple(pos), ext)
            for name, (label, color, pos, ext) in objects.items()]


class PutBackStream:
    """One put_back episode as perception reports it: the cube, the tray and the two stack
    cubes in view; ``move`` slides an object over a few frames (the arm carrying it)."""

    def __init__(self, mem, episode_id, t0, start, instruction=PUT_BACK, drawer=False):
        self.mem, self.episode_id, self.t = mem, episode_id, t0
        self.objects = {'cube_1': ('cube', 'red', np.array([*start, 0.021]), CUBE),
                        'tray_1': ('tray', 'gray', np.array(TRAY_AT), TRAY)}
        if drawer:
            self.objects['drawer_1'] = ('drawer', 'white', np.array([0.585, 0.08, 0.067]),
                                        KNOB)
        else:
            self.objects['cube_2'] = ('cube', 'blue', np.array([0.37, 0.073, 0.024]), CUBE)
            self.objects['cube_3'] = ('cube', 'green', np.array([0.61, -0.094, 0.03]), CUBE)
        mem.start_episode(episode_id, instruction, t0)

    def frames(self, seconds):
        for _ in range(int(round(seconds / 0.1))):
            self.mem.ingest([_obs(self.t, label, color, pos, ext, track_id=name)
                             for name, (label, color, pos, ext) in self.objects.items()],
                            episode_id=self.episode_id)
            self.t += 0.1

    def move(self, name, to, seconds=1.0):
        label, color, pos, ext = self.objects[name]
        start = pos.copy()
        for s in np.linspace(0.1, 1.0, int(round(seconds / 0.1))):
            self.objects[name] = (label, color, start + s * (np.asarray(to) - start), ext)
            self.frames(0.1)
        self.frames(1.0)  # at rest: memory logs the move

    def scene(self):
        self.mem.flush()
        return _scene({n: (label, color, tuple(p), ext)
                       for n, (label, color, p, ext) in self.objects.items()})


@pytest.fixture()
def memory():
    mem = LifelongMemory(':memory:')
    yield mem
    mem.close()


def test_put_back_plans_pick_place_stack_and_return_to_the_remembered_start(memory):
    start = (0.52, -0.148)
    ep = PutBackStream(memory, 'pb-1', 100.0, start)
    ep.frames(3.5)  # cue and delay: the cube stands at its start
    intent = parse_instruction(PUT_BACK)
    steps = plan_steps(intent, LibraryMemory(memory), ep.scene(), 'pb-1')
    assert [s.action for s in steps] == ['pick', 'place', 'pick', 'place', 'pick', 'place']
    assert [s.target for s in steps] == ['red cube', 'gray tray', 'blue cube', 'green cube',
                                         'red cube', 'table']
    assert steps[0].check == 'lifted' and steps[2].check == 'lifted'
    assert steps[1].point[:2] == pytest.approx(TRAY_AT[:2])
    green_top = 0.03 + CUBE[2] / 2
    assert steps[3].point == pytest.approx((0.61, -0.094, green_top + HOLD_ABOVE_SUPPORT_M))
    assert steps[5].point[:2] == pytest.approx(start, abs=0.002), steps[5].text
    assert steps[5].point[2] == pytest.approx(HOLD_ABOVE_SUPPORT_M)
    assert 'was at (0.520, -0.148)' in steps[5].text
    assert not steps[5].resolve  # the start is memory's, never the scene's


def test_put_back_binds_late_and_a_replan_still_returns_to_the_start(memory):
    start = (0.43, -0.266)
    ep = PutBackStream(memory, 'pb-2', 50.0, start)
    ep.frames(3.5)
    intent = parse_instruction(PUT_BACK)
    steps = plan_steps(intent, LibraryMemory(memory), ep.scene(), 'pb-2')
    # the arm puts the cube in the tray and the blue cube on the green one
    ep.move('cube_1', (0.423, 0.299, 0.027))
    ep.move('cube_2', (0.61, -0.094, 0.072))
    now = ep.scene()
    pick_again, note = resolve_step(steps[4], now)
    assert pick_again.point[:2] == pytest.approx((0.423, 0.299), abs=1e-6), note
    assert 'seen at (0.423, 0.299)' in note
    assert steps[4].point[:2] == pytest.approx(start)  # planned where the cube stood
    # a replan now (the cube in the tray) still takes the start from memory, not the scene
    again = plan_steps(intent, LibraryMemory(memory), now, 'pb-2')
    assert again[5].point[:2] == pytest.approx(start, abs=0.002)
    assert again[0].point[:2] == pytest.approx((0.423, 0.299))


def test_put_back_in_a_later_episode_remembers_that_episodes_start(memory):
    first = PutBackStream(memory, 'pb-a', 10.0, (0.36, -0.3))
    first.frames(3.5)
    first.move('cube_1', (0.423, 0.299, 0.027))
    first.move('cube_1', (0.36, -0.3, 0.021))
    memory.end_episode('pb-a', 'success', first.t)
    # next episode, same memory: the cube now starts elsewhere (the sim resets it)
    second = PutBackStream(memory, 'pb-b', first.t + 1.0, (0.55, -0.1))
    second.frames(3.5)
    steps = plan_steps(parse_instruction(PUT_BACK), LibraryMemory(memory), second.scene(),
                       'pb-b')
    assert steps[5].point[:2] == pytest.approx((0.55, -0.1), abs=0.002), steps[5].text
    # and asked about the first episode, memory still knows that one's start
    old = plan_steps(parse_instruction(PUT_BACK), LibraryMemory(memory), second.scene(),
                     'pb-a')
    assert old[5].point[:2] == pytest.approx((0.36, -0.3), abs=0.002)


def test_put_back_with_the_drawer_pulls_then_pushes_the_knob(memory):
    ep = PutBackStream(memory, 'pb-d', 5.0, (0.45, -0.2), PUT_BACK_DRAWER, drawer=True)
    ep.frames(3.5)
    steps = plan_steps(parse_instruction(PUT_BACK_DRAWER), LibraryMemory(memory), ep.scene(),
                       'pb-d')
    assert [s.action for s in steps] == ['pick', 'place', 'pull', 'push', 'pick', 'place']
    pull, push = steps[2], steps[3]
    assert pull.point == pytest.approx((0.585, 0.08, 0.069 - 0.012))  # the knob's centre
    travel = PrimitiveConfig().drawer_travel
    assert push.point == pytest.approx((0.585 - travel, 0.08, 0.069 - 0.012))
    # once open, perception sees the drawer's box; the push grasps the knob on its front
    ep.objects['drawer_1'] = ('drawer', 'orange', np.array([0.541, 0.079, 0.039]),
                              OPEN_DRAWER)
    bound, _ = resolve_step(push, ep.scene())
    assert bound.point == pytest.approx((0.541 - 0.045 - 0.012, 0.079, 0.07 - 0.012))
    assert steps[5].point[:2] == pytest.approx((0.45, -0.2), abs=0.002)
    # the critic: the pull is done when the drawer is seen open, the push when seen shut
    assert (pull.check, push.check) == ('opened', 'closed')
    opened = ep.scene()
    assert check_step(pull, opened) == (True, 'drawer at y=0.08 seen opened (0.090 m deep)')
    assert check_step(push, opened) == (False, 'drawer at y=0.08 seen opened (0.090 m deep)')
    ep.objects['drawer_1'] = ('drawer', 'white', np.array([0.585, 0.08, 0.067]), KNOB)
    shut = ep.scene()
    assert check_step(pull, shut) == (False, 'drawer at y=0.08 seen closed (0.008 m deep)')
    assert check_step(push, shut)[0] is True
    # a drawer beside it (another slide) says nothing of this one; nor does a hidden one
    ep.objects['drawer_1'] = ('drawer', 'orange', np.array([0.541, 0.18, 0.039]),
                              OPEN_DRAWER)
    assert check_step(pull, ep.scene()) == (False, 'no drawer seen in line with y=0.08')
    hidden = [replace(o, visible=False) for o in opened]
    assert check_step(pull, hidden)[0] is False
    with pytest.raises(ValueError, match="'ajar'"):
        check_step(replace(pull, check='ajar'), opened)


def test_put_back_without_memory_guesses_away_from_the_tray(memory):
    ep = PutBackStream(memory, 'pb-g', 5.0, (0.52, -0.148))
    ep.frames(1.0)
    intent = parse_instruction(PUT_BACK)
    ends = {plan_steps(intent, None, ep.scene(), 'pb-g', seed=s)[5].point[:2]
            for s in range(20)}
    assert len(ends) == 20
    assert all(0.34 <= x <= 0.56 and -0.32 <= y <= -0.06 for x, y in ends)
    assert all('guess' in s.text for s in plan_steps(intent, None, ep.scene(), 'pb-g')[5:])


def test_put_back_says_what_it_misses(memory):
    intent = parse_instruction(PUT_BACK)
    scene = _scene({'cube_1': ('cube', 'red', (0.5, -0.1, 0.02), CUBE),
                    'tray_1': ('tray', 'gray', TRAY_AT, TRAY),
                    'cube_2': ('cube', 'blue', (0.37, 0.07, 0.02), CUBE),
                    'cube_3': ('cube', 'green', (0.61, -0.09, 0.02), CUBE)})
    with pytest.raises(MissingMemoryError, match='episode'):
        plan_steps(intent, LibraryMemory(memory), scene, 'nothing-yet')
    with pytest.raises(MissingMemoryError, match='tray'):
        plan_steps(intent, LibraryMemory(memory), scene[:1], 'nothing-yet')


def _place_episode(mem, episode_id, t, item_color, drawer,
                   instruction='Watch which drawer the key goes into.'):
    """The placing episode as perception reports it: the item on the table, a hand takes it
    into a drawer it opened (closed drawers are not seen from the scene camera, an open one
    is), the drawer closes over it and the hand leaves. Returns the time at its end."""
    y = DRAWER_YS[drawer]
    mem.start_episode(episode_id, instruction, t)
    item = np.array([0.362, 0.359, 0.022])
    hand = np.array([0.384, 0.344, 0.355])
    inside = np.array([0.517, y, 0.02])
    for i in range(90):
        s = i * 0.1
        frame = []
        if s < 2.0:
            pass
        elif s < 4.0:  # carried to the open drawer
            item = item + (inside - item) * min(1.0, (s - 2.0 + 0.1) / 2.0)
            hand = item + [0.0, 0.0, 0.2]
        frame.append(_obs(t + s, 'cube', item_color, item, CUBE, visible=s < 5.0,
                          track_id='cube_1'))
        frame.append(_obs(t + s, 'hand', 'gray', hand, (0.06, 0.09, 0.2), visible=s < 6.0,
                          track_id='hand_1'))
        if 1.5 <= s:
            frame.append(_obs(t + s, 'drawer', 'orange', (0.485, y, 0.039), OPEN_DRAWER,
                              visible=s < 5.5, track_id='drawer_1'))
        mem.ingest(frame, episode_id=episode_id)
    mem.end_episode(episode_id, 'success', t + 9.0)
    return t + 9.0


def _unrelated_episode(mem, episode_id, t):
    """A shell game elsewhere on the table: a ball goes out of view under a cup (another
    disappearance, later than the placing one, near the middle drawer's row)."""
    mem.start_episode(episode_id, 'Lift the cup that hides the green ball.', t)
    for i in range(60):
        s = i * 0.1
        mem.ingest([_obs(t + s, 'cup', 'orange', (0.5, y, 0.05), (0.07, 0.07, 0.1),
                         track_id=f'cup_{j}') for j, y in enumerate((-0.12, 0.05, 0.12))]
                   + [_obs(t + s, 'ball', 'green', (0.5, 0.05, 0.02), (0.04, 0.04, 0.04),
                           visible=s < 1.0, track_id='ball_1')], episode_id=episode_id)
    mem.end_episode(episode_id, 'failure', t + 6.0)
    return t + 6.0


def _probe_scene():
    return _scene({f'drawer_{i}': ('drawer', 'white', (0.542, y, 0.068), KNOB)
                   for i, y in enumerate(DRAWER_YS)})


@pytest.mark.parametrize('drawer', [0, 2, 5])
def test_where_did_i_leave_it_opens_the_drawer_seen_in_an_earlier_episode_after_restart(
        tmp_path, drawer):
    path = str(tmp_path / 'memory.db')
    mem = LifelongMemory(path)
    t = _place_episode(mem, 'place-1', 100.0, 'yellow', drawer)
    t = _unrelated_episode(mem, 'other-1', t + 1.0)
    mem.close()
    mem = LifelongMemory(path)  # a new memory (as after a restart) on the same file
    try:
        mem.start_episode('probe-1', 'Find the key: open the drawer you saw it go into.',
                          t + 5.0)
        mem.flush()
        intent = parse_instruction('Find the key: open the drawer you saw it go into.')
        assert intent.task == 'where_did_i_leave_it'
        (step,) = plan_steps(intent, LibraryMemory(mem), _probe_scene(), 'probe-1')
        assert step.action == 'pull' and step.target == 'drawer'
        assert step.point == pytest.approx((0.542, DRAWER_YS[drawer], 0.07 - 0.012))
        assert 'yellow cube, the key' in step.text and 'place-1' in step.text
        assert step.resolve == ('knob', 'drawer', '')
    finally:
        mem.close()


def test_where_did_i_leave_it_takes_the_latest_placing_of_that_item(memory):
    t = _place_episode(memory, 'place-a', 10.0, 'yellow', 1)
    t = _place_episode(memory, 'place-b', t + 1.0, 'yellow', 4)
    memory.flush()
    intent = parse_instruction('Find the key: open the drawer you saw it go into.')
    (step,) = plan_steps(intent, LibraryMemory(memory), _probe_scene(), 'probe')
    assert step.point[1] == pytest.approx(DRAWER_YS[4])
    assert 'place-b' in step.text


def test_where_did_i_leave_it_without_the_placing_episode_says_so(memory):
    _unrelated_episode(memory, 'other', 1.0)
    memory.flush()
    intent = parse_instruction('Find the phone: open the drawer you saw it go into.')
    with pytest.raises(MissingMemoryError, match='phone was put away'):
        plan_steps(intent, LibraryMemory(memory), _probe_scene(), 'probe')
    with pytest.raises(MissingMemoryError, match='no drawer in view'):
        plan_steps(intent, LibraryMemory(memory), [], 'probe')


def test_where_did_i_leave_it_without_memory_guesses_a_drawer():
    intent = parse_instruction('Find the key: open the drawer you saw it go into.')
    picks = {plan_steps(intent, None, _probe_scene(), 'probe', seed=s)[0].point[1]
             for s in range(40)}
    assert picks == set(DRAWER_YS)


def test_watch_placement_plans_nothing(memory):
    intent = parse_instruction('Watch which drawer the key goes into.')
    assert intent.task == 'watch_placement'
    assert plan_steps(intent, LibraryMemory(memory), _probe_scene(), 'place') == []


def test_resolve_keeps_the_planned_point_without_a_match_and_never_swaps_drawers():
    steps = plan_steps(parse_instruction('Find the key: open the drawer you saw it go '
                                         'into.'), None, _probe_scene()[:1], 'probe')
    pull = steps[0]
    same, note = resolve_step(pull, [])
    assert same == pull and 'kept the planned point' in note
    neighbour = _scene({'drawer_x': ('drawer', 'white', (0.542, DRAWER_YS[1], 0.068), KNOB)})
    same, note = resolve_step(pull, neighbour)  # the next drawer is another drawer
    assert same.point == pull.point and 'kept' in note
    with pytest.raises(ValueError, match='sideways'):
        resolve_step(pull.__class__(**{**pull.__dict__, 'resolve': ('sideways', 'drawer', '')}),
                     neighbour)


def test_where_did_i_leave_it_placed_and_asked_in_one_episode(memory):
    """The 'full' stage: the placing happens in the episode that asks (no watch episode)."""
    _unrelated_episode(memory, 'before', 1.0)
    find = 'Find the key: open the drawer you saw it go into.'
    _place_episode(memory, 'full-1', 20.0, 'black', 2, instruction=find)
    memory.flush()
    (step,) = plan_steps(parse_instruction(find), LibraryMemory(memory), _probe_scene(),
                         'full-1')
    assert step.point[1] == pytest.approx(DRAWER_YS[2])
    assert 'black cube' in step.text and 'episode full-1' in step.text
