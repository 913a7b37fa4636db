"""Spatial bank: tracks from scripted observation streams (hidden, moved while hidden, seen
again, moved in view, static), object permanence, where-was, relations, state changes."""

from memory_nodes.lifelong_memory import Query, QueryKind
from tests.lifelong_memory.conftest import play, see, ticks

RED = (0.30, 0.00, 0.80)
ELSEWHERE = (0.60, 0.20, 0.80)


def where(mem, text, **kw):
    return mem.query(Query(kind=QueryKind.WHERE, text=text, **kw))


def kinds(mem, text='', **kw):
    res = mem.query(Query(kind=QueryKind.WHAT_HAPPENED, text=text, k=100, **kw))
    return [(e.kind, e.subject) for e in res.results]


def test_static_object_is_one_track_updated_in_place(mem):
    play(mem, [(t, [see(t, 'cube', RED, 'red')]) for t in ticks(0, 30)])
    stats = mem.stats()
    assert stats['spatial_tracks'] == 1
    assert stats['track_positions'] == 1          # the 'appeared' row only
    assert kinds(mem) == [('appeared', 'red cube')]
    res = where(mem, 'where is the red cube')
    assert res.count == 1
    e = res.results[0]
    assert e.kind == 'visible' and e.has_position
    assert max(abs(a - b) for a, b in zip(e.position, RED)) < 1e-6


def test_hidden_moved_while_hidden_and_seen_again_is_the_same_object(mem):
    frames = [(t, [see(t, 'cube', RED, 'red', track_id='cube_1')]) for t in ticks(0, 2)]
    # covered: the preprocessor reports it as not visible at its old place
    frames += [(t, [see(t, 'cube', RED, 'red', visible=False, track_id='cube_1')])
               for t in ticks(2, 4)]
    # then nothing for a while: the tracker dropped it
    frames += [(t, [see(t, 'ball', (0.0, -0.5, 0.8), 'blue')]) for t in ticks(4, 10)]
    play(mem, frames)
    hidden = where(mem, 'red cube').results[0]
    assert hidden.kind in ('occluded', 'gone')
    assert max(abs(a - b) for a, b in zip(hidden.position, RED)) < 1e-6
    # seen again somewhere else, under a new tracker id: moved, not duplicated
    play(mem, [(t, [see(t, 'cube', ELSEWHERE, 'red', track_id='cube_7')])
               for t in ticks(10, 11)])
    assert mem.stats()['spatial_tracks'] == 2      # the cube and the ball
    now = where(mem, 'red cube').results
    assert len(now) == 1 and now[0].kind == 'visible'
    assert max(abs(a - b) for a, b in zip(now[0].position, ELSEWHERE)) < 1e-6
    history = kinds(mem, 'red cube')
    assert history == [('appeared', 'red cube'), ('disappeared', 'red cube'),
                       ('moved', 'red cube'), ('reappeared', 'red cube')]
    # where was it before: at t = 5 s it was (last known) at the old place
    before = where(mem, 'red cube', time_end=5.0).results[0]
    assert before.kind == 'was_at'
    assert max(abs(a - b) for a, b in zip(before.position, RED)) < 1e-6
    when = mem.query(Query(kind=QueryKind.WHEN, text='red cube moved')).results[0]
    assert when.stamp == 10.0


def test_move_in_view_is_one_move_logged_when_it_comes_to_rest(mem):
    frames = [(t, [see(t, 'cup', (0.0, 0.0, 0.8), 'green')]) for t in ticks(0, 1)]
    path = ticks(1, 2)
    frames += [(t, [see(t, 'cup', (0.3 * (t - 1), 0.0, 0.8), 'green')]) for t in path]
    frames += [(t, [see(t, 'cup', (0.3, 0.0, 0.8), 'green')]) for t in ticks(2, 3)]
    play(mem, frames)
    events = mem.query(Query(kind=QueryKind.WHAT_HAPPENED, text='cup moved')).results
    assert len(events) == 1
    assert 0.9 <= events[0].stamp <= 1.3           # when it started to move
    assert abs(events[0].position[0] - 0.3) < 1e-6
    assert mem.stats()['spatial_tracks'] == 1


def test_where_was_during_a_move_in_view_is_the_start_until_it_arrived(mem):
    # the shell game's question: which cup stood over the ball when it vanished, asked
    # after the cups have moved on (the move is logged only when the cup comes to rest)
    frames = [(t, [see(t, 'cup', (0.0, 0.0, 0.8), 'green')]) for t in ticks(0, 1)]
    frames += [(t, [see(t, 'cup', (0.3 * (t - 1), 0.0, 0.8), 'green')]) for t in ticks(1, 2)]
    frames += [(t, [see(t, 'cup', (0.3, 0.0, 0.8), 'green')]) for t in ticks(2, 3)]
    play(mem, frames)

    def x_at(t):
        res = where(mem, 'green cup', time_end=t)
        assert res.count == 1
        return res.results[0].position[0]

    assert abs(x_at(1.05)) < 1e-6       # it had only just started to move: the start
    assert abs(x_at(1.9)) < 1e-6        # still under way: its last place at rest
    assert abs(x_at(2.95) - 0.3) < 1e-6  # arrived (came to rest at t = 2)
    assert abs(x_at(0) - 0.3) < 1e-6    # now


def test_two_objects_of_one_class_stay_two_tracks(mem):
    play(mem, [(t, [see(t, 'cube', (0, 0, 0.8), 'red'), see(t, 'cube', (0.5, 0, 0.8), 'red')])
               for t in ticks(0, 2)])
    res = where(mem, 'red cubes')
    assert res.count == 2
    how_many = mem.query(Query(kind=QueryKind.HOW_MANY, text='red cubes'))
    assert how_many.count == 2


def test_state_changes_are_events(mem):
    frames = []
    for t in ticks(0, 3):
        frames.append((t, [see(t, 'led', (0, 0.5, 0.8), state='lit' if 1 <= t < 2 else 'dark'),
                           see(t, 'button', (0.2, 0.5, 0.8), 'blue',
                               state='pressed' if t >= 2.5 else 'released')]))
    play(mem, frames, episode_id='ep1')
    assert kinds(mem, 'led') == [('appeared', 'led'), ('became_lit', 'led'),
                                 ('became_dark', 'led')]
    assert ('button_pressed', 'blue button') in kinds(mem, 'button')
    lit = mem.query(Query(kind=QueryKind.WHEN, text='led lit')).results[0]
    assert lit.stamp == 1.0


def test_relations_and_near(mem):
    plate = see(0, 'plate', (0.0, 0.0, 0.75), 'white', extent=(0.2, 0.2, 0.02))
    cube = see(0, 'cube', (0.0, 0.0, 0.785), 'red', extent=(0.05, 0.05, 0.05))
    far = see(0, 'ball', (1.0, 1.0, 0.8), 'blue')
    play(mem, [(0.0, [plate, cube, far])])
    res = where(mem, 'red cube').results[0]
    assert res.object == 'white plate' and 'on the white plate' in res.text
    near = mem.near('white plate')
    assert [(e.subject, e.kind) for e in near] == [('red cube', 'on')]


def test_where_of_unknown_thing_says_so(mem):
    play(mem, [(0.0, [see(0, 'cube', RED, 'red')])])
    res = where(mem, 'unicorn')
    assert res.count == 0 and 'unicorn' in res.message
