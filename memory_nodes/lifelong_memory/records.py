"""Plain records that go into and come out of the lifelong memory (no ROS).

The inputs mirror memory_interfaces/ObjectObservation and MemoryEvent, the outputs mirror
MemoryEntry and the QueryMemory request, field for field, so that the ROS memory node is a thin
adapter: it copies message fields into these dataclasses and back. Times are float seconds of
robot (or simulated) time; positions are metres in ``frame_id``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
import enum


class Bank(enum.IntEnum):
    """Which bank an entry comes from (MemoryEntry.BANK_*)."""

    SPATIAL = 0
    TEMPORAL = 1
    EPISODIC = 2
    SEMANTIC = 3


class QueryKind(enum.IntEnum):
    """Question kinds (QueryMemory.Request.KIND_*)."""

    WHERE = 0
    WHEN = 1
    WHAT_HAPPENED = 2
    HOW_MANY = 3
    SIMILAR_TO_TEXT = 4


class ObservationSource(enum.IntEnum):
    """Who produced an observation (ObjectObservation.SOURCE_*)."""

    UNKNOWN = 0
    SIM_SEGMENTATION = 1
    DETECTOR = 2
    ORACLE = 3
    HUMAN = 4


ZERO_COVARIANCE = (0.0,) * 9


@dataclass
class ObjectObservation:
    """One object seen in one camera frame (ObjectObservation.msg)."""

    stamp: float                          # capture time, s
    label: str                            # object class, e.g. 'cube'
    position: tuple[float, float, float]  # centroid, m, in frame_id
    color: str = ''                       # colour name, '' when unknown
    track_id: str = ''                    # tracker id, '' when not yet associated
    rgb: tuple[float, float, float] = (0.0, 0.0, 0.0)  # mean colour, each in [0, 1]
    position_covariance: tuple[float, ...] = ZERO_COVARIANCE  # row-major 3x3, m^2
    extent: tuple[float, float, float] = (0.0, 0.0, 0.0)  # bounding-box size, m
    visible: bool = True                  # False: known to be there but occluded
    state: str = ''                       # discrete visual state ('lit', 'open', ...)
    confidence: float = 1.0               # detection confidence in [0, 1]
    num_points: int = 0                   # points in the object's cloud
    source: int = ObservationSource.UNKNOWN  # one of ObservationSource
    source_name: str = ''                 # free text, e.g. 'scene_camera'
    frame_id: str = 'world'               # frame of position


@dataclass
class MemoryEvent:
    """Something that happened (MemoryEvent.msg)."""

    stamp: float                          # when it happened, s
    kind: str                             # 'appeared', 'moved', 'grasped', 'subgoal_failed' ...
    subject: str                          # main entity, e.g. 'red cube'
    object: str = ''                      # second entity, e.g. 'bin'; may be empty
    episode_id: str = ''                  # episode it belongs to; '' when none
    position: tuple[float, float, float] | None = None  # where, m; None when unknown
    text: str = ''                        # free text; a sentence is made when empty
    source: str = ''                      # writer, e.g. 'executor'
    frame_id: str = 'world'               # frame of position
    confidence: float = 1.0               # belief in the event, [0, 1]


@dataclass
class MemoryEntry:
    """One item recalled from memory (MemoryEntry.msg), with its retrieval score."""

    bank: Bank                            # which bank answered
    entry_id: int                         # row id inside its bank
    stamp: float                          # when the remembered thing happened, s
    recorded: float                       # when memory last wrote the entry, s
    episode_id: str = ''
    confidence: float = 1.0               # belief in the entry, [0, 1]
    score: float = 0.0                    # retrieval score for this query, higher is better
    kind: str = ''                        # track state, event kind, fact predicate, outcome
    subject: str = ''                     # entity the entry is about
    object: str = ''                      # second entity; may be empty
    text: str = ''                        # human-readable sentence
    frame_id: str = ''                    # frame of position
    has_position: bool = False            # False: position carries no meaning
    position: tuple[float, float, float] = (0.0, 0.0, 0.0)
    position_covariance: tuple[float, ...] = ZERO_COVARIANCE  # row-major 3x3, m^2
    source: str = ''                      # who wrote it


@dataclass(frozen=True)
class Query:
    """A question (QueryMemory request). Times 0 mean unbounded, as in the service."""

    kind: QueryKind                       # what is asked
    text: str = ''                        # subject or free text of the question
    episode_id: str = ''                  # restrict to one episode; '' for all
    k: int = 10                           # most results wanted
    time_start: float = 0.0               # 0: unbounded below
    time_end: float = 0.0                 # 0: unbounded above (for WHERE: 'now')


@dataclass
class QueryResult:
    """The answer (QueryMemory response): entries best first, a count, the latency."""

    results: list[MemoryEntry] = field(default_factory=list)
    count: int = 0                        # HOW_MANY's answer; else len(results)
    latency_ms: float = 0.0               # time spent answering
    message: str = ''                     # how the question was understood


@dataclass
class Episode:
    """One episode as the episodic bank keeps it."""

    episode_id: str
    instruction: str
    started: float                        # s
    ended: float | None = None            # s; None while running
    outcome: str = ''                     # 'success', 'failure', 'aborted', '' while running
    subgoals: list[dict] = field(default_factory=list)  # [{'t', 'name', 'status'}]
    key_frames: list[dict] = field(default_factory=list)  # [{'t', 'note', 'uri'}]
    trajectory_summary: dict = field(default_factory=dict)  # free JSON: path length, ...
    row_id: int = 0                       # entry id in the episodic bank

    @property
    def duration(self) -> float | None:
        """Seconds from start to end, None while running."""
        return None if self.ended is None else self.ended - self.started


@dataclass
class Fact:
    """One subject-predicate-object statement in the semantic bank."""

    subject: str
    predicate: str
    object: str
    stamp: float                          # when it became true (or was told), s
    confidence: float = 1.0               # [0, 1]
    source: str = ''
    episode_id: str = ''
    row_id: int = 0                       # entry id in the semantic bank
    superseded_by: int | None = None      # row id of the fact that replaced it
    superseded_at: float | None = None    # stamp of the replacing fact
    last_confirmed: float = 0.0           # latest stamp that repeated this fact
