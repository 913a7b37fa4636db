"""Lit buttons and the blinking LED on MuJoCo-rendered frames at the bridge's 128x96.

Frames of sim's button_sequence and count are rendered as the sim bridge publishes them
(colour, depth, segmentation in sim.instance_ids' encoding, 128x96) and run through the
perception library. Ground truth is the task itself (``task.is_lit`` per object per frame,
its sequence / blink count, env.events). Checked: every lighting gives exactly one lit
interval, frame for frame, on the one track of that object, whose colour name never changes;
and, through the real lifelong memory library and the planner's recipes, that memory holds
one ``became_lit`` per lighting and the planner presses the right buttons.
"""

import numpy as np
import pytest

sim = pytest.importorskip('sim')
pytest.importorskip('mujoco')

from memory_nodes.lifelong_memory import (  # noqa: E402
    LifelongMemory,
    ObjectObservation,
    Query,
    QueryKind,
)
from memory_nodes.perception.camera import (  # noqa: E402
    CameraIntrinsics,
    optical_pose_from_mujoco,
)
from memory_nodes.perception.labels import DEFAULT_CLASS_NAMES, InstanceLabeler  # noqa: E402
from memory_nodes.perception.pipeline import (  # noqa: E402
    CameraFrame,
    Preprocessor,
    SceneCloudConfig,
)
from memory_nodes.planning.grammar import parse_instruction  # noqa: E402
from memory_nodes.planning.recipes import SceneObject, plan_steps  # noqa: E402
from sim import instance_ids  # noqa: E402
from sim.experts import make_expert  # noqa: E402
from sim.tasks.base import PALETTE  # noqa: E402

WIDTH, HEIGHT = 128, 96  # the sim bridge's default image size
DT = 0.1  # one frame per control step, as the bridge publishes
LIGHTABLE = ('button', 'led')


def _paint_name(env, slot):
    """The palette name an object was painted with (its true colour name)."""
    rgba = np.round(np.asarray(env.objects[slot].rgba[:3]), 3)
    names = [n for n, v in PALETTE.items() if np.allclose(np.round(v[:3], 3), rgba)]
    assert len(names) == 1, (slot, rgba)
    return names[0]


class Episode:
    """One episode rendered frame by frame through the preprocessor, with ground truth."""

    def __init__(self, task, seed, steps=None, expert=False, pre=None, start=0.0, **knobs):
        self.env = env = sim.make_env(task, seed=seed, image_size=16, **knobs)
        env.reset()
        self.pre = pre or Preprocessor(InstanceLabeler(DEFAULT_CLASS_NAMES),
                                       cloud_config=SceneCloudConfig(enabled=False))
        self.start = self.end = start  # stamps of the first and the last frame
        self.ids = instance_ids.slot_ids(env)
        self.camera = env.model.camera('scene').id
        self.slots = [s for s in env.slot_names if env.objects[s].kind in LIGHTABLE]
        self.truth = {s: [] for s in self.slots}  # slot -> per frame: lit in the sim
        self.seen = []  # per frame: {track_id: (slot, colour, state)} of lightable tracks
        self.frames = []  # per frame: the tracks (for feeding memory)
        policy = make_expert(env) if expert else (lambda: np.array([0.4, 0.0, 0.3, 0, 0]))
        steps = steps if steps is not None else env.max_steps
        done = False
        for step in range(steps):
            if done:
                break
            self.end = self.start + step * DT
            self._observe(self.end)
            _, done, _ = env.step(policy())

    def _observe(self, stamp):
        env, cam = self.env, self.camera
        rgb = env.render('scene', WIDTH, HEIGHT)
        depth = env.render('scene', WIDTH, HEIGHT, 'depth')
        seg = instance_ids.encode(env.render('scene', WIDTH, HEIGHT, 'segmentation'),
                                  self.ids)
        intrinsics = CameraIntrinsics.from_fovy(float(env.model.cam_fovy[cam]), WIDTH,
                                                HEIGHT)
        pose = optical_pose_from_mujoco(env.data.cam_xpos[cam], env.data.cam_xmat[cam])
        tracks = self.pre.process(CameraFrame(stamp, rgb, depth, seg, intrinsics,
                                              pose)).tracks
        for slot in self.slots:
            self.truth[slot].append(bool(env.task.is_lit(env, slot)))
        self.seen.append({t.track_id: (env.slot_names[t.instance_id % 1000 - 1], t.color,
                                       t.state)
                          for t in tracks if t.label in LIGHTABLE and t.visible})
        self.frames.append((stamp, [_copy(t) for t in tracks]))

    def track_of(self):
        """slot -> its one track id (asserts that each object had exactly one track)."""
        owners = {}
        for frame in self.seen:
            for track_id, (slot, _, _) in frame.items():
                owners.setdefault(slot, set()).add(track_id)
        assert set(owners) == set(self.slots), owners
        for slot, ids in owners.items():
            assert len(ids) == 1, f'{slot} had tracks {sorted(ids)}'
        return {slot: ids.pop() for slot, ids in owners.items()}


def _copy(track):
    return ObjectObservation(
        stamp=0.0, label=track.label, position=tuple(float(v) for v in track.position),
        color=track.color, track_id=track.track_id, rgb=tuple(float(v) for v in track.rgb),
        position_covariance=tuple(float(v) for v in track.covariance.reshape(-1)),
        extent=tuple(float(v) for v in track.extent), visible=track.visible,
        state=track.state, confidence=float(track.confidence), num_points=track.num_points)


def _intervals(flags):
    """[(first, last)] frame indices of the runs of True in ``flags``."""
    runs, start = [], None
    for i, flag in enumerate(list(flags) + [False]):
        if flag and start is None:
            start = i
        elif not flag and start is not None:
            runs.append((start, i - 1))
            start = None
    return runs


def _check_lit_intervals(episode):
    """Every object: one track, a constant colour name equal to its paint, and lit
    intervals identical to the simulator's."""
    tracks = episode.track_of()
    env = episode.env
    for slot in episode.slots:
        tid = tracks[slot]
        colours = {f[tid][1] for f in episode.seen if tid in f}
        assert colours == {_paint_name(env, slot)}, (slot, colours)
        states = [f.get(tid, ('', '', 'dark'))[2] == 'lit' for f in episode.seen]
        assert _intervals(states) == _intervals(episode.truth[slot]), slot
    return tracks


def _feed_memory(episode, episode_id):
    """Ingest the episode's tracks frame by frame into a fresh lifelong memory."""
    memory = LifelongMemory(':memory:')
    for stamp, observations in episode.frames:
        for o in observations:
            o.stamp = stamp
        memory.ingest(observations, episode_id=episode_id).result(timeout=30)
    memory.flush()
    return memory


class LibraryMemory:
    """recipes.MemoryAccess straight over the library (the planner node uses the service)."""

    def __init__(self, memory):
        self.memory = memory

    def events(self, episode_id, text='', t0=0.0, t1=0.0):
        return self.memory.query(Query(QueryKind.WHAT_HAPPENED, text, episode_id, 100, t0,
                                       t1)).results

    def where(self, text, at=0.0, k=10):
        return self.memory.query(Query(QueryKind.WHERE, text, '', k, 0.0, at)).results

    def count(self, text, episode_id, t0=0.0, t1=0.0):
        return self.memory.query(Query(QueryKind.HOW_MANY, text, episode_id, 10, t0,
                                       t1)).count


def _scene(episode):
    _, last = episode.frames[-1]
    return [SceneObject(o.track_id, o.label, o.color, o.position, o.extent, o.visible,
                        o.state) for o in last]


def _cue_and_delay(task, seed, **knobs):
    env = sim.make_env(task, seed=seed, image_size=16, **knobs)
    return env.task.cue_steps + 10  # the whole cue plus 1 s of the delay


@pytest.mark.parametrize('seed, knobs', [
    (5001, {}), (7, {'length': 5, 'repeats': True}),  # yellow lights 3 times in a row
    pytest.param(5000, {}, marks=pytest.mark.slow),
    pytest.param(8, {'length': 4}, marks=pytest.mark.slow),
])
def test_button_sequence_lightings_are_lit_intervals_of_one_track(seed, knobs):
    episode = Episode('button_sequence', seed, _cue_and_delay('button_sequence', seed,
                                                               **knobs), **knobs)
    _check_lit_intervals(episode)
    task = episode.env.task
    lit_order = []
    for frame in range(len(episode.seen)):
        for slot in episode.slots:
            if episode.truth[slot][frame] and (frame == 0 or
                                               not episode.truth[slot][frame - 1]):
                lit_order.append(slot)
    assert lit_order == task.hidden()['sequence']  # the ground truth is what we think
    # through the lifelong memory: one became_lit per lighting, and the planner's recipe
    # presses the buttons in the order they lit
    memory = _feed_memory(episode, 'ep')
    try:
        steps = plan_steps(parse_instruction(task.instruction), LibraryMemory(memory),
                           _scene(episode), 'ep')
        lit_events = [e for e in LibraryMemory(memory).events('ep', 'button')
                      if e.kind == 'became_lit']
    finally:
        memory.close()
    assert len(lit_events) == len(task.sequence)
    want = [f"{name.split('_')[0]} button" for name in task.hidden()['sequence']]
    assert [s.target for s in steps] == want


@pytest.mark.parametrize('seed', [
    5001,  # 4 blinks, two of them 2 dark frames apart
    pytest.param(5000, marks=pytest.mark.slow), pytest.param(3, marks=pytest.mark.slow),
    pytest.param(9, marks=pytest.mark.slow),
])
def test_count_blinks_are_lit_intervals_of_one_led_track(seed):
    episode = Episode('count', seed, _cue_and_delay('count', seed))
    tracks = _check_lit_intervals(episode)
    task = episode.env.task
    blinks = [e for e in episode.env.events if e['kind'] == 'blink']
    assert len(blinks) == task.k
    assert len(_intervals(episode.truth['led'])) == task.k
    assert tracks.keys() == {'led', 'count_button', 'done_button'}
    memory = _feed_memory(episode, 'ep')
    try:
        steps = plan_steps(parse_instruction(task.instruction), LibraryMemory(memory),
                           _scene(episode), 'ep')
        lit_events = [e for e in LibraryMemory(memory).events('ep', 'led')
                      if e.kind == 'became_lit']
    finally:
        memory.close()
    assert len(lit_events) == task.k
    assert [s.target for s in steps] == ['blue button'] * task.k + ['white button']


def test_episodes_back_to_back_keep_their_buttons_apart():
    """As in the full-stack run: one preprocessor sees a button_sequence episode, then 1 s
    later (the bridge's gap) a count episode. The count's bright blue button may be taken
    for the blue button seen before (same label and colour, moved while unseen), but it is
    never lit for that, and the white button is never taken for another colour's track."""
    first = Episode('button_sequence', 5000, _cue_and_delay('button_sequence', 5000))
    _check_lit_intervals(first)
    second = Episode('count', 5000, _cue_and_delay('count', 5000), pre=first.pre,
                     start=first.end + 1.0 + DT)
    tracks = _check_lit_intervals(second)
    assert tracks['done_button'] not in first.track_of().values()


@pytest.mark.slow
@pytest.mark.parametrize('task, seed, knobs', [
    ('button_sequence', 5000, {}), ('button_sequence', 11, {'length': 4}),
    ('button_sequence', 12, {'length': 5, 'repeats': True}), ('count', 5000, {}),
    ('count', 21, {}), ('count', 22, {}),
])
def test_whole_episodes_with_presses_light_nothing_else(task, seed, knobs):
    """Through the act phase, while the expert's arm hovers over and presses the buttons
    (occluding and shading them), no lit interval appears that the simulator did not show."""
    episode = Episode(task, seed, expert=True, **knobs)
    assert episode.env.success()
    _check_lit_intervals(episode)
