"""Short-term object tracking: stable track ids across frames, occluded objects kept a while.

Each frame's measurements are associated with the live tracks by minimum total distance
(Hungarian assignment) under three gates: the same class label, similar colour (chromaticity
distance, so lighting changes do not break a track, or else the same colour name: a red
cube carried through a hand's shadow reads dark red, 0.2 away in chromaticity from the
frame before, and must stay one track) and a distance gate that widens with the
time a track has gone unseen (an object may have moved while hidden). Unmatched measurements
start new tracks named ``<label>_<n>``; unmatched tracks stay as ``visible = False`` with a
growing covariance and a decaying confidence, until either ``keep_unseen_s`` has passed or the
camera has looked at the track's place and seen it empty (the depth there lies clearly behind
the remembered position) for ``clear_view_frames`` frames. Long-term object permanence is the
lifelong memory's job, not this tracker's.

A track's colour name is its majority name over the frames where it was not lit
(colors.ColorVote), and a lightable track's state ('lit' / 'dark') is judged against its own
dark brightness (light_state.LightState): one physical button is one track whose state flips
dark -> lit -> dark while its colour name stays the same. A match farther than
``association_gate_m`` (a re-identification, possible only through the gate widened by
unseen time) needs the same colour name, and starts a new dark baseline: a button seen again
in another place, or another button of that label and colour, has its own brightness.
"""

from dataclasses import dataclass, field
import math

import numpy as np
from scipy.optimize import linear_sum_assignment

from memory_nodes.perception.colors import ColorVote, chromaticity_distance
from memory_nodes.perception.light_state import LIT, LightConfig, LightState

# What the camera shows at a track's remembered place (see FreeSpaceCheck in pipeline.py)
VIEW_EMPTY = 'empty'  # the camera sees past the place: the object is not there
VIEW_BLOCKED = 'blocked'  # something nearer hides the place: the object may be behind it
VIEW_OUTSIDE = 'outside'  # the place is outside the image


@dataclass
class TrackerConfig:
    """Association gates and how long unseen objects are kept."""

    association_gate_m: float = 0.12  # max track-measurement distance for a visible track
    reacquire_speed_m_s: float = 0.3  # the gate widens by this much per second unseen
    max_gate_m: float = 0.6  # cap of the widened gate
    color_gate: float = 0.15  # max chromaticity distance (0 = same hue mix, ~0.8 = opposite)
    keep_unseen_s: float = 10.0  # an unseen track is dropped after this long
    clear_view_frames: int = 3  # ... or after this many frames that show its place empty
    unseen_growth_m_s: float = 0.05  # position std added per second unseen (covariance)
    light: LightConfig = field(default_factory=LightConfig)  # lit / dark of lightable tracks

    def __post_init__(self):
        for name in ('association_gate_m', 'max_gate_m', 'keep_unseen_s'):
            if not getattr(self, name) > 0:
                raise ValueError(f'{name} is {getattr(self, name)!r}; expected > 0')
        if self.clear_view_frames < 1:
            raise ValueError(f'clear_view_frames is {self.clear_view_frames}; expected >= 1')


@dataclass
class Track:
    """One tracked object; ``position`` etc. are from its latest measurement."""

    track_id: str
    label: str
    class_index: int
    color: str
    rgb: np.ndarray  # (3,)
    position: np.ndarray  # (3,) world frame
    covariance: np.ndarray  # (3, 3)
    extent: np.ndarray  # (3,)
    state: str
    num_points: int
    confidence: float
    first_seen: float  # seconds
    last_seen: float  # seconds
    visible: bool = True
    instance_id: int = 0
    hits: int = 1  # frames in which the track was measured
    empty_views: int = 0  # consecutive frames that showed the place empty
    extra: dict = field(default_factory=dict)
    colors: ColorVote = None  # colour names seen while not lit; ``color`` is the majority
    light: LightState = None  # lit / dark judgement of a lightable track, else None


class ObjectTracker:
    """Frame-to-frame association of ObjectMeasurements into Tracks."""

    def __init__(self, config=None):
        self.config = config or TrackerConfig()
        self.tracks = {}  # track_id -> Track, in creation order
        self._counters = {}  # label -> last number used (never reset: ids are not reused)
        self.last_stamp = None
        self.scene_start = None  # stamp from which a new scene starts (see new_scene)

    def reset(self):
        """Forget every track. Track ids are never reused by one tracker (the counters go
        on), so a consumer that maps them to its own objects (the lifelong memory's track
        aliases) never takes a new object for an old one."""
        self.tracks.clear()
        self.last_stamp = None
        self.scene_start = None

    def new_scene(self, start):
        """The scene starts anew at ``start`` seconds (a new episode: objects placed anew).

        From the first frame stamped at or after ``start`` on, the tracks that began before
        it are gone, so no new object is taken for an old one nearby (with the old one's dark
        brightness, a brighter new button would read lit). Frames are matched by stamp, so
        it does not matter whether this call comes before or after the new scene's first
        frames."""
        start = float(start)
        if not math.isfinite(start):
            raise ValueError(f'scene start is {start!r}; expected finite seconds')
        self.scene_start = start

    def update(self, measurements, stamp, view_check=None):
        """Associate one frame's measurements (taken at ``stamp`` seconds); return all tracks.

        ``view_check(position) -> VIEW_EMPTY | VIEW_BLOCKED | VIEW_OUTSIDE`` tells what the
        frame shows at an unseen track's place; without it unseen tracks only time out.
        Time going backwards (a simulator reset, a bag replayed again) clears the tracker.
        """
        if not math.isfinite(stamp):
            raise ValueError(f'stamp is {stamp!r}; expected finite seconds')
        if self.last_stamp is not None and stamp < self.last_stamp:
            self.reset()
        if self.scene_start is not None and stamp >= self.scene_start:
            for track in list(self.tracks.values()):
                if track.first_seen < self.scene_start:
                    del self.tracks[track.track_id]
            self.scene_start = None
        self.last_stamp = stamp
        tracks = list(self.tracks.values())
        matches = self._associate(tracks, measurements, stamp)
        matched_tracks = set()
        for t_index, m_index in matches:
            self._refresh(tracks[t_index], measurements[m_index], stamp)
            matched_tracks.add(t_index)
        matched_measurements = {m for _, m in matches}
        for t_index, track in enumerate(tracks):
            if t_index not in matched_tracks:
                self._age(track, stamp, view_check)
        for m_index, measurement in enumerate(measurements):
            if m_index not in matched_measurements:
                self._start(measurement, stamp)
        return list(self.tracks.values())

    def _gate(self, track, stamp):
        unseen = max(0.0, stamp - track.last_seen)
        return min(self.config.max_gate_m,
                   self.config.association_gate_m + self.config.reacquire_speed_m_s * unseen)

    def _associate(self, tracks, measurements, stamp):
        if not tracks or not measurements:
            return []
        infeasible = 1e6
        cost = np.full((len(tracks), len(measurements)), infeasible)
        for i, track in enumerate(tracks):
            gate = self._gate(track, stamp)
            for j, m in enumerate(measurements):
                if m.label != track.label:
                    continue
                if (chromaticity_distance(m.rgb, track.rgb) > self.config.color_gate
                        and not (m.color and m.color == track.color)):
                    continue  # another hue mix, and not even the same colour name
                distance = float(np.linalg.norm(m.position - track.position))
                if (distance > self.config.association_gate_m and m.color and track.color
                        and m.color != track.color):
                    continue  # a re-identification takes the same colour name too
                if distance <= gate:
                    cost[i, j] = distance
        rows, cols = linear_sum_assignment(cost)
        return [(i, j) for i, j in zip(rows, cols) if cost[i, j] < infeasible]

    def _judge(self, track, m):
        """Update a track's lit / dark state and colour name from measurement ``m``."""
        if m.lightable:
            if track.light is None:
                track.light = LightState(self.config.light)
            track.state = track.light.update(m.brightness)
        else:
            track.state = ''
        if track.colors is None:
            track.colors = ColorVote(m.color)
        elif track.state != LIT:
            track.colors.add(m.color)
        track.color = track.colors.name

    def _refresh(self, track, m, stamp):
        if (track.light is not None and
                np.linalg.norm(m.position - track.position) > self.config.association_gate_m):
            # seen again somewhere else: its dark brightness there is not known yet (other
            # light, or another object of the same label and colour), so start a new baseline
            track.light = None
        track.rgb = m.rgb
        self._judge(track, m)
        track.position, track.covariance, track.extent = m.position, m.covariance, m.extent
        track.num_points, track.confidence = m.num_points, m.confidence
        track.class_index, track.instance_id = m.class_index, m.instance_id
        track.last_seen, track.visible = stamp, True
        track.hits += 1
        track.empty_views = 0

    def _age(self, track, stamp, view_check):
        unseen = stamp - track.last_seen
        if unseen > self.config.keep_unseen_s:
            del self.tracks[track.track_id]
            return
        if view_check is not None and view_check(track.position) == VIEW_EMPTY:
            track.empty_views += 1
            if track.empty_views >= self.config.clear_view_frames:
                del self.tracks[track.track_id]
                return
        else:
            track.empty_views = 0
        if track.visible:
            track.extra['covariance_seen'] = track.covariance
            track.extra['confidence_seen'] = track.confidence
        track.visible = False
        growth = (self.config.unseen_growth_m_s * unseen) ** 2
        track.covariance = track.extra['covariance_seen'] + np.eye(3) * growth
        track.confidence = track.extra['confidence_seen'] * (
            1.0 - unseen / self.config.keep_unseen_s)

    def _start(self, m, stamp):
        number = self._counters.get(m.label, 0) + 1
        self._counters[m.label] = number
        track_id = f'{m.label}_{number}'
        track = Track(
            track_id=track_id, label=m.label, class_index=m.class_index, color=m.color,
            rgb=m.rgb, position=m.position, covariance=m.covariance, extent=m.extent,
            state='', num_points=m.num_points, confidence=m.confidence,
            first_seen=stamp, last_seen=stamp, instance_id=m.instance_id)
        self._judge(track, m)
        self.tracks[track_id] = track
