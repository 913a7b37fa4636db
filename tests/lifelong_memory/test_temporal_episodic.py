"""Temporal and episodic banks: event order in a window, counting, last time, episodes that
outlive the process, subgoals."""

import pytest

from memory_nodes.lifelong_memory import LifelongMemory, MemoryEvent, Query, QueryKind
from tests.lifelong_memory.conftest import play, see, ticks


def ev(t, kind, subject, obj='', episode='ep1', **kw):
    return MemoryEvent(stamp=t, kind=kind, subject=subject, object=obj, episode_id=episode, **kw)


def test_what_happened_in_a_window_is_in_time_order(mem):
    for e in [ev(3.0, 'released', 'red cube', 'bin'), ev(1.0, 'grasped', 'red cube'),
              ev(5.0, 'grasped', 'blue cube'), ev(6.0, 'released', 'blue cube', 'bin'),
              ev(7.0, 'grasped', 'green cube', episode='ep2')]:
        mem.log_event(e)
    mem.flush()
    res = mem.query(Query(kind=QueryKind.WHAT_HAPPENED, episode_id='ep1', time_start=0.5,
                          time_end=5.5))
    assert [(e.stamp, e.kind, e.subject, e.object) for e in res.results] == [
        (1.0, 'grasped', 'red cube', ''), (3.0, 'released', 'red cube', 'bin'),
        (5.0, 'grasped', 'blue cube', '')]
    n = mem.query(Query(kind=QueryKind.HOW_MANY, text='how many objects went into the bin'))
    assert n.count == 2
    last = mem.query(Query(kind=QueryKind.WHEN, text='when was a cube grasped')).results
    assert [e.stamp for e in last] == [7.0, 5.0, 1.0]
    grabbed = mem.query(Query(kind=QueryKind.WHEN, text='red cube grabbed')).results
    assert [e.stamp for e in grabbed] == [1.0]


def test_led_lit_count_within_an_episode(mem):
    """Press-the-buttons-in-order style stream: LEDs light up one after another."""
    leds = {'red': (0.0, 0.5, 0.8), 'green': (0.2, 0.5, 0.8), 'blue': (0.4, 0.5, 0.8)}
    order = ['green', 'red', 'blue', 'green']

    def frame(t, lit, ep):
        return (t, [see(t, 'led', p, c, state='lit' if c == lit else 'dark')
                    for c, p in leds.items()])
    frames = [frame(t, None, 'ep1') for t in ticks(0, 1)]
    for i, c in enumerate(order):
        frames += [frame(t, c, 'ep1') for t in ticks(1 + 2 * i, 2 + 2 * i)]
        frames += [frame(t, None, 'ep1') for t in ticks(2 + 2 * i, 3 + 2 * i)]
    play(mem, frames, episode_id='ep1')
    play(mem, [frame(t, 'red', 'ep2') for t in ticks(20, 21)], episode_id='ep2')
    count = mem.query(Query(kind=QueryKind.HOW_MANY, text='led lit', episode_id='ep1'))
    assert count.count == 4
    assert mem.query(Query(kind=QueryKind.HOW_MANY, text='led lit')).count == 5
    assert mem.query(Query(kind=QueryKind.HOW_MANY, text='green led lit',
                           episode_id='ep1')).count == 2
    seq = mem.query(Query(kind=QueryKind.WHAT_HAPPENED, text='led lit', episode_id='ep1'))
    assert [e.subject for e in seq.results] == [f'{c} led' for c in order]
    assert [e.stamp for e in seq.results] == [1.0, 3.0, 5.0, 7.0]


def test_repeated_events_merge_and_still_count(mem):
    for i in range(10):        # an executor reporting 'grasped' at 10 Hz
        mem.log_event(ev(1.0 + i / 10, 'grasped', 'red cube'))
    mem.log_event(ev(3.0, 'released', 'red cube'))
    mem.log_event(ev(4.0, 'grasped', 'red cube'))
    mem.flush()
    assert mem.stats()['temporal_events'] == 3
    assert mem.query(Query(kind=QueryKind.HOW_MANY, text='red cube grasped')).count == 11
    seq = mem.query(Query(kind=QueryKind.WHAT_HAPPENED, text='red cube'))
    assert [e.kind for e in seq.results] == ['grasped', 'released', 'grasped']


def test_unknown_subject_or_kind_matches_nothing(mem):
    mem.log_event(ev(1.0, 'moved', 'red cube')).result()
    for text in ('unicorn moved', 'red cube teleported'):
        res = mem.query(Query(kind=QueryKind.WHEN, text=text))
        assert res.count == 0, text
    assert 'teleported' in mem.query(Query(kind=QueryKind.WHEN,
                                           text='red cube teleported')).message


def test_episodes_outlive_the_process(tmp_path):
    path = str(tmp_path / 'robot.db')
    with LifelongMemory(path) as mem:
        mem.start_episode('e1', 'put the red cube back where it was', 10.0)
        mem.record_subgoal('e1', 'grasp red cube', 'started', 11.0)
        mem.record_subgoal('e1', 'grasp red cube', 'succeeded', 12.0)
        mem.record_subgoal('e1', 'place red cube', 'failed', 14.0)
        mem.end_episode('e1', 'failure', 15.0, {'path_length_m': 1.2,
                                                'key_frames': [{'t': 12.0, 'note': 'grasp'}]})
        mem.start_episode('e2', 'press the buttons in order', 20.0)
        mem.end_episode('e2', 'success', 31.0)
    with LifelongMemory(path) as mem:
        ep = mem.episode('e1')
        assert ep.outcome == 'failure' and ep.duration == 5.0
        assert [(s['name'], s['status']) for s in ep.subgoals] == [
            ('grasp red cube', 'started'), ('grasp red cube', 'succeeded'),
            ('place red cube', 'failed')]
        assert ep.key_frames == [{'t': 12.0, 'note': 'grasp'}]
        assert ep.trajectory_summary == {'path_length_m': 1.2}
        last = mem.last_episode_like('Put the red cube back')
        assert last.episode_id == 'e1'
        assert [e.episode_id for e in mem.episodes()] == ['e2', 'e1']
        failed = mem.query(Query(kind=QueryKind.WHAT_HAPPENED, text='subgoal failed'))
        assert [(e.subject, e.stamp) for e in failed.results] == [('place red cube', 14.0)]
        order = mem.query(Query(kind=QueryKind.WHAT_HAPPENED, episode_id='e1', k=20))
        assert [e.kind for e in order.results] == [
            'episode_started', 'subgoal_started', 'subgoal_succeeded', 'subgoal_failed',
            'episode_ended']


def test_episode_misuse_fails_the_future(mem):
    mem.start_episode('e1', 'stack the cups', 1.0).result()
    with pytest.raises(ValueError, match="episode_id='e1': this episode was already started"):
        mem.start_episode('e1', 'again', 2.0).result()
    with pytest.raises(ValueError, match="episode_id='nope': no such episode"):
        mem.record_subgoal('nope', 'x', 'started', 2.0).result()
    with pytest.raises(ValueError, match="status='halfway'"):
        mem.record_subgoal('e1', 'x', 'halfway', 2.0)
    with pytest.raises(ValueError, match="outcome='maybe'"):
        mem.end_episode('e1', 'maybe', 2.0)
    mem.end_episode('e1', 'success', 3.0).result()
    with pytest.raises(ValueError, match='already ended'):
        mem.end_episode('e1', 'success', 4.0).result()
    # the failed writes left the rest intact
    assert mem.episode('e1').outcome == 'success'
