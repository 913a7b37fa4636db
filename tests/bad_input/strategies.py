"""Hypothesis strategies of adversarial ROS messages, for the bad-input tests.

Every strategy draws a ``Case``: a real ROS message (built with the generated message
classes, then serialised and deserialised with rclpy, so the node gets exactly what a
subscriber would get over DDS: float32 fields rounded, strings cut at a NUL) with the names
of the fields a rejection must mention, and whether the message is certainly invalid.

Two kinds of strategy per message type:

- ``*_one_bad(...)``: a valid message with exactly one field made bad (NaN / inf / 1e308,
  a wrong encoding, a size that disagrees with the data, mismatched parallel arrays, a wrong
  frame...). ``must_reject`` is true and ``fields`` names what the error has to say.
- ``*_any(...)``: every field drawn freely from adversarial values (odd unicode, empty and
  very long strings, far-future / zero / negative stamps, huge or empty arrays). Such a
  message may be valid; a rejection must still name one of the type's fields.

Sizes are bounded so that a test stays fast: at most 10**6 bytes or values in one message.
"""

from dataclasses import dataclass
import math

from builtin_interfaces.msg import Time
from geometry_msgs.msg import Point, Pose, PoseStamped, Quaternion, Vector3
from hypothesis import strategies as st
import numpy as np
from rclpy.serialization import deserialize_message, serialize_message
from sensor_msgs.msg import CameraInfo, Image, JointState, PointCloud2, PointField
from std_msgs.msg import Float64, Header, String
from trajectory_msgs.msg import JointTrajectory, JointTrajectoryPoint

from memory_interfaces.msg import (
    ActionChunk,
    EpisodeStatus,
    MemoryEvent,
    ObjectObservation,
    ObjectObservationArray,
    Subgoal,
)
from memory_interfaces.srv import QueryMemory, StartEpisode
from memory_nodes.perception.images import (
    COLOR_ENCODINGS,
    DEPTH_ENCODINGS,
    ENCODINGS,
    SEGMENTATION_ENCODINGS,
)

NAN, INF = math.nan, math.inf
HUGE_BYTES = 10**6  # the largest payload one drawn message carries


@dataclass
class Case:
    """One drawn message: what to send, what a rejection must name, whether it is bad."""

    msg: object
    fields: tuple          # a rejection must mention one of these
    must_reject: bool
    what: str              # the mutation, for failure messages

    def __repr__(self):
        return f'Case({self.what}, must_reject={self.must_reject})'


def wire(msg):
    """The message as a subscriber receives it: serialised and deserialised by rclpy."""
    return deserialize_message(serialize_message(msg), type(msg))


def case(msg, fields, must_reject, what):
    return Case(wire(msg), tuple(fields), must_reject, what)


# -- scalars ------------------------------------------------------------------------------
NONFINITE = st.sampled_from([NAN, INF, -INF])
BAD_FLOAT64 = st.sampled_from([NAN, INF, -INF, 1e308, -1e308])
EDGE_FLOAT64 = st.sampled_from([NAN, INF, -INF, 1e308, -1e308, 0.0, -0.0, 5e-324, 1e-300,
                                -1.0, 1.0])
FLOAT64 = st.one_of(EDGE_FLOAT64, st.floats(), st.floats(-10, 10))
EDGE_FLOAT32 = st.sampled_from([NAN, INF, -INF, 3.4e38, -3.4e38, 0.0, -0.0, 1e-45, -1.0,
                                1.0])
FLOAT32 = st.one_of(EDGE_FLOAT32, st.floats(width=32), st.floats(-10, 10, width=32))
UINT8 = st.integers(0, 255)
UINT32 = st.one_of(st.sampled_from([0, 1, 2**31, 2**32 - 1]), st.integers(0, 2**32 - 1))
INT64 = st.one_of(st.sampled_from([0, -1, -2**63, 2**63 - 1]),
                  st.integers(-2**63, 2**63 - 1))

ODD_STRINGS = [
    '', ' ', '\t\n ', 'a' * 10_000, '\u200f\u202eright-to-left', 'e\u0301\u0301\u0301',
    '\U0001f600\U0001f916', 'nul\x00inside', '\ufeffbom', '\u0000', 'Ω≈ç√∫', '\x07\x1b[31m',
    "'; DROP TABLE events; --", '%s%n{0}', 'cube' + '\u0301' * 50, ' red  cube ',
]
TEXT = st.one_of(st.sampled_from(ODD_STRINGS), st.text(max_size=30))
FRAMES = st.one_of(st.sampled_from(['', 'world', 'map', 'base', 'World', ' world', 'wörld',
                                    '\u202eworld', 'scene_camera_optical_frame']), TEXT)
STAMPS = st.builds(
    Time,
    sec=st.one_of(st.sampled_from([0, -1, -2**31, 2**31 - 1, 1]),
                  st.integers(-2**31, 2**31 - 1)),
    nanosec=st.one_of(st.sampled_from([0, 999_999_999, 1_000_000_000, 2**32 - 1]),
                      st.integers(0, 2**32 - 1)))
HEADERS = st.builds(Header, stamp=STAMPS, frame_id=FRAMES)


def _stamp(seconds):
    return Time(sec=int(seconds), nanosec=int((seconds % 1) * 1e9))


def _header(seconds=1.0, frame='world'):
    return Header(stamp=_stamp(seconds), frame_id=frame)


def _floats(values):
    return [float(v) for v in values]


# -- sensor_msgs/Image ----------------------------------------------------------------------
STREAM_ENCODINGS = {'color': COLOR_ENCODINGS, 'depth': DEPTH_ENCODINGS,
                    'segmentation': SEGMENTATION_ENCODINGS}
SOME_ENCODINGS = ['rgb8', 'bgr8', 'rgba8', '32FC1', '16UC1', '32SC1', 'mono8', '8UC3',
                  'RGB8', 'garbage', '', ' rgb8', 'bayer_rggb8', '64FC1']


def _image(encoding, height, width, step, data, bigendian=False, stamp=1.0):
    msg = Image(encoding=encoding, height=height, width=width, step=step,
                is_bigendian=bigendian)
    msg.header = _header(stamp, 'scene_camera_optical_frame')
    msg.data = bytes(data)
    return msg


@st.composite
def valid_image_fields(draw, stream, max_side=12):
    encoding = draw(st.sampled_from(STREAM_ENCODINGS[stream]))
    dtype, channels = ENCODINGS[encoding]
    itemsize = np.dtype(dtype).itemsize
    height, width = draw(st.integers(1, max_side)), draw(st.integers(1, max_side))
    step = width * channels * itemsize + itemsize * draw(st.sampled_from([0, 0, 0, 3]))
    data = draw(st.binary(min_size=step * height, max_size=step * height))
    return encoding, height, width, step, data, draw(st.booleans())


@st.composite
def image_one_bad(draw, stream):
    """A ``stream`` image ('color', 'depth', 'segmentation') with one bad field."""
    encoding, height, width, step, data, big = draw(valid_image_fields(stream))
    itemsize = np.dtype(ENCODINGS[encoding][0]).itemsize
    row = width * ENCODINGS[encoding][1] * itemsize
    kind = draw(st.sampled_from(['encoding', 'height', 'width', 'step', 'data', 'huge']))
    if kind == 'encoding':
        wrong = [e for e in SOME_ENCODINGS if e not in STREAM_ENCODINGS[stream]]
        msg = _image(draw(st.sampled_from(wrong)), height, width, step, data, big)
        return case(msg, ['encoding'], True, f'{stream} encoding {msg.encoding!r}')
    if kind == 'height':
        value = draw(st.sampled_from([0, 16385, 2**32 - 1, height + 1]))
        msg = _image(encoding, value, width, step, data, big)
        return case(msg, ['height', 'data'], True, f'{stream} height {value}')
    if kind == 'width':
        value = draw(st.sampled_from([0, 16385, 2**32 - 1, width + step]))
        msg = _image(encoding, height, value, step, data, big)
        return case(msg, ['width', 'step'], True, f'{stream} width {value}')
    if kind == 'step':
        options = [0, row - 1, 2**32 - 1] + ([row + 1] if itemsize > 1 else [])
        value = draw(st.sampled_from([v for v in options if v >= 0]))
        msg = _image(encoding, height, width, value, data, big)
        return case(msg, ['step', 'data'], True, f'{stream} step {value} (row {row})')
    if kind == 'data':
        cut = draw(st.sampled_from(['short', 'long', 'empty']))
        bad = {'short': data[:-1], 'long': data + b'\x00', 'empty': b''}[cut]
        msg = _image(encoding, height, width, step, bad, big)
        return case(msg, ['data'], True, f'{stream} data {cut}')
    # huge: a 1000 x 1000 frame whose data is one byte short (10**6-scale payload)
    side = 1000 if itemsize * ENCODINGS[encoding][1] == 1 else 500
    row = side * ENCODINGS[encoding][1] * itemsize
    msg = _image(encoding, side, side, row, bytes(row * side - 1), big)
    return case(msg, ['data'], True, f'{stream} huge {side}x{side}, one byte short')


@st.composite
def image_any(draw, stream):
    """Any Image: a valid one of ``stream`` or one with every field drawn freely."""
    if draw(st.booleans()):
        encoding, height, width, step, data, big = draw(valid_image_fields(stream))
        msg = _image(encoding, height, width, step, data, big)
        return case(msg, ['encoding'], False, f'valid {stream} {encoding} {width}x{height}')
    msg = Image(header=draw(HEADERS), encoding=draw(st.sampled_from(SOME_ENCODINGS)),
                height=draw(st.one_of(UINT32, st.integers(0, 8))),
                width=draw(st.one_of(UINT32, st.integers(0, 8))),
                step=draw(st.one_of(UINT32, st.integers(0, 64))),
                is_bigendian=draw(st.booleans()))
    msg.data = draw(st.binary(max_size=256))
    return case(msg, ['encoding', 'height', 'width', 'step', 'data'], False,
                f'free image {msg.encoding!r} {msg.width}x{msg.height} step {msg.step}')


# -- sensor_msgs/CameraInfo ---------------------------------------------------------------
def valid_camera_info(width=16, height=12, f=20.0):
    msg = CameraInfo(width=width, height=height, distortion_model='plumb_bob')
    msg.header = _header(1.0, 'scene_camera_optical_frame')
    msg.k = [f, 0.0, (width - 1) / 2, 0.0, f, (height - 1) / 2, 0.0, 0.0, 1.0]
    msg.p = [f, 0.0, (width - 1) / 2, 0.0, 0.0, f, (height - 1) / 2, 0.0, 0.0, 0.0, 1.0, 0.0]
    msg.d = [0.0] * 5
    return msg


@st.composite
def camera_info_one_bad(draw):
    msg = valid_camera_info()
    kind = draw(st.sampled_from(['k', 'p', 'width', 'height', 'focal']))
    if kind in ('k', 'p'):
        msg.p = [0.0] * 12 if kind == 'k' else msg.p
        index = draw(st.sampled_from([0, 2, 4, 5] if kind == 'k' else [2, 5, 6]))
        values = list(getattr(msg, kind))
        values[index] = draw(NONFINITE)
        setattr(msg, kind, values)
        return case(msg, ['fx', 'fy', 'cx', 'cy', 'k', 'p'], True, f'{kind}[{index}] bad')
    if kind == 'focal':
        msg.p = [0.0] * 12
        msg.k = [draw(st.sampled_from([0.0, -20.0])), 0.0, 7.5, 0.0, 20.0, 5.5, 0, 0, 1]
        return case(msg, ['fx', 'focal', 'k'], True, f'focal {msg.k[0]}')
    setattr(msg, kind, 0)
    return case(msg, ['size', 'width', 'height'], True, f'{kind} 0')


@st.composite
def camera_info_any(draw):
    msg = CameraInfo(header=draw(HEADERS), width=draw(UINT32), height=draw(UINT32),
                     distortion_model=draw(TEXT))
    msg.k = draw(st.lists(FLOAT64, min_size=9, max_size=9))
    msg.p = draw(st.lists(FLOAT64, min_size=12, max_size=12))
    msg.d = draw(st.lists(FLOAT64, max_size=20))
    return case(msg, ['fx', 'fy', 'cx', 'cy', 'k', 'p', 'width', 'height', 'size'], False,
                'free camera_info')


# -- geometry_msgs/PoseStamped --------------------------------------------------------------
def pose_stamped(position, quaternion, frame='world', seconds=1.0):
    msg = PoseStamped(header=_header(seconds, frame))
    msg.pose = Pose(position=Point(x=position[0], y=position[1], z=position[2]),
                    orientation=Quaternion(x=quaternion[0], y=quaternion[1],
                                           z=quaternion[2], w=quaternion[3]))
    return msg


@st.composite
def pose_one_bad(draw, frame_checked=True):
    """A pose with a non-finite position or orientation value, or (``frame_checked``) a
    frame other than 'world'."""
    position, quaternion = [0.3, 0.0, 0.2], [0.0, 0.0, 0.0, 1.0]
    kinds = ['position', 'orientation'] + (['frame_id'] if frame_checked else [])
    kind = draw(st.sampled_from(kinds))
    if kind == 'frame_id':
        frame = draw(st.sampled_from(['map', 'base', 'World', ' world', 'wörld']))
        return case(pose_stamped(position, quaternion, frame), ['frame_id'], True,
                    f'frame {frame!r}')
    index = draw(st.integers(0, 2 if kind == 'position' else 3))
    (position if kind == 'position' else quaternion)[index] = draw(NONFINITE)
    return case(pose_stamped(position, quaternion), [kind, 'quaternion', 'ee_target'], True,
                f'{kind}[{index}] not finite')


@st.composite
def pose_any(draw):
    msg = PoseStamped(header=draw(HEADERS))
    msg.pose = Pose(position=Point(x=draw(FLOAT64), y=draw(FLOAT64), z=draw(FLOAT64)),
                    orientation=Quaternion(x=draw(FLOAT64), y=draw(FLOAT64),
                                           z=draw(FLOAT64), w=draw(FLOAT64)))
    return case(msg, ['position', 'orientation', 'quaternion', 'frame_id', 'ee_target',
                      'ee pose'],
                False, 'free pose')


# -- sensor_msgs/JointState -----------------------------------------------------------------
def joint_state(names, positions, seconds=1.0):
    msg = JointState(header=_header(seconds, 'base'), name=list(names),
                     position=_floats(positions))
    msg.velocity = [0.0] * len(msg.position)
    return msg


@st.composite
def joint_state_one_bad(draw, names):
    positions = [0.1] * len(names)
    if draw(st.booleans()):
        cut = draw(st.sampled_from(['fewer', 'more']))
        values = positions[:-1] if cut == 'fewer' else positions + [0.0]
        return case(joint_state(names, values), ['name', 'position'], True,
                    f'{cut} positions than names')
    positions[draw(st.integers(0, len(names) - 1))] = draw(NONFINITE)
    return case(joint_state(names, positions), ['position', 'proprio'], True,
                'a non-finite position')


@st.composite
def joint_state_any(draw, names=()):
    base = list(names) if names and draw(st.booleans()) else draw(st.lists(TEXT, max_size=8))
    n = len(base) if draw(st.booleans()) else draw(st.integers(0, 9))
    msg = JointState(header=draw(HEADERS), name=base,
                     position=draw(st.lists(FLOAT64, min_size=n, max_size=n)),
                     velocity=draw(st.lists(FLOAT64, max_size=9)),
                     effort=draw(st.lists(FLOAT64, max_size=9)))
    return case(msg, ['name', 'position', 'joint', 'proprio'], False,
                f'free joint_state {len(msg.name)} names {len(msg.position)} positions')


# -- std_msgs -------------------------------------------------------------------------------
@st.composite
def string_any(draw, huge=False):
    options = [TEXT] + ([st.sampled_from(['x' * 10**6, 'pick up the cup ' * 60_000])]
                        if huge else [])
    return case(String(data=draw(st.one_of(*options))), ['instruction', 'data'], False,
                'free string')


@st.composite
def float64_any(draw):
    value = draw(FLOAT64)
    bad = not (math.isfinite(value) and 0.0 <= value <= 1.0)
    return case(Float64(data=value), ['gripper'], bad, f'gripper {value!r}')


# -- memory_interfaces/EpisodeStatus --------------------------------------------------------
@st.composite
def episode_status_any(draw):
    msg = EpisodeStatus(header=draw(HEADERS), episode_id=draw(TEXT), task=draw(TEXT),
                        seed=draw(INT64), mode=draw(TEXT), state=draw(UINT8),
                        phase=draw(UINT8), step=draw(UINT32), elapsed_s=draw(FLOAT32),
                        instruction=draw(TEXT), message=draw(TEXT))
    return case(msg, ['episode_id', 'elapsed_s', 'stamp', 'instruction', 'task', 'mode',
                      'seed', 'message', 'state', 'phase'], False,
                f'free episode status {msg.episode_id!r} state {msg.state}')


@st.composite
def episode_status_one_bad(draw):
    msg = EpisodeStatus(header=_header(5.0, ''), episode_id=draw(st.text(
        'abcdefgh', min_size=4, max_size=12)), task='shell_game', state=1, phase=1,
        elapsed_s=draw(NONFINITE))
    return case(msg, ['elapsed_s'], True, f'elapsed_s {msg.elapsed_s}')


# -- memory_interfaces/ObjectObservation(Array) ---------------------------------------------
def observation(label='cube', position=(0.5, 0.1, 0.02), seconds=2.0, **fields):
    o = ObjectObservation(label=label, color=fields.pop('color', 'red'), visible=True,
                          confidence=1.0, track_id=fields.pop('track_id', 'cube_1'))
    o.header = _header(seconds)
    o.position = Point(x=float(position[0]), y=float(position[1]), z=float(position[2]))
    o.extent = Vector3(x=0.04, y=0.04, z=0.04)
    o.position_covariance = [1e-5, 0.0, 0.0, 0.0, 1e-5, 0.0, 0.0, 0.0, 1e-5]
    o.rgb = [0.8, 0.1, 0.1]
    for name, value in fields.items():
        setattr(o, name, value)
    return o


def observation_array(objects, seconds=2.0, frame='world'):
    return ObjectObservationArray(header=_header(seconds, frame), objects=list(objects))


# field -> a drawn bad value (each certainly invalid for the memory's library)
OBSERVATION_BAD = {
    'position': lambda d: Point(x=d(BAD_FLOAT64), y=0.1, z=0.0),
    'position_covariance': lambda d: [d(BAD_FLOAT64)] + [0.0] * 8,
    'extent': lambda d: Vector3(x=d(st.sampled_from([NAN, INF, -1.0, 1e308])), y=0.0, z=0.0),
    'rgb': lambda d: [d(st.sampled_from([NAN, INF, -0.5, 2.0])), 0.0, 0.0],
    'confidence': lambda d: d(st.sampled_from([NAN, INF, -1.0, 1.5])),
    'label': lambda d: d(st.sampled_from(['', '   ', 'x' * 200, 'bell\x07'])),
    'color': lambda d: d(st.sampled_from(['y' * 200, 'tab\x01'])),
    'track_id': lambda d: d(st.sampled_from(['z' * 200, 'esc\x1b'])),
    'state': lambda d: d(st.sampled_from(['s' * 200, 'so\x01h'])),
}


@st.composite
def observations_one_bad(draw):
    """An array of valid observations, one of which has one bad field."""
    n = draw(st.integers(1, 4))
    objects = [observation(track_id=f'cube_{i}', position=(0.4 + 0.05 * i, 0.0, 0.02))
               for i in range(n)]
    field = draw(st.sampled_from(sorted(OBSERVATION_BAD)))
    victim = objects[draw(st.integers(0, n - 1))]
    setattr(victim, field, OBSERVATION_BAD[field](draw))
    return case(observation_array(objects), [field], True, f'one observation {field} bad')


@st.composite
def observation_any(draw):
    o = ObjectObservation(header=draw(HEADERS), track_id=draw(TEXT), label=draw(TEXT),
                          color=draw(TEXT), visible=draw(st.booleans()), state=draw(TEXT),
                          confidence=draw(FLOAT32), num_points=draw(UINT32),
                          source=draw(UINT8), source_name=draw(TEXT))
    o.rgb = draw(st.lists(FLOAT32, min_size=3, max_size=3))
    o.position = Point(x=draw(FLOAT64), y=draw(FLOAT64), z=draw(FLOAT64))
    o.position_covariance = draw(st.lists(FLOAT64, min_size=9, max_size=9))
    o.extent = Vector3(x=draw(FLOAT64), y=draw(FLOAT64), z=draw(FLOAT64))
    return o


OBSERVATION_FIELDS = ('track_id', 'label', 'color', 'rgb', 'position', 'position_covariance',
                      'extent', 'visible', 'state', 'confidence', 'num_points', 'source',
                      'source_name', 'frame_id', 'stamp', 'objects')


@st.composite
def observations_any(draw, max_objects=6):
    objects = draw(st.lists(observation_any(), max_size=max_objects))
    msg = ObjectObservationArray(header=draw(HEADERS), objects=objects)
    return case(msg, OBSERVATION_FIELDS, False, f'free array of {len(objects)}')


# -- memory_interfaces/MemoryEvent ----------------------------------------------------------
def memory_event(kind='moved', subject='red cube', seconds=3.0, **fields):
    msg = MemoryEvent(header=_header(seconds), kind=kind, subject=subject, source='test')
    for name, value in fields.items():
        setattr(msg, name, value)
    return msg


EVENT_BAD = {
    'kind': lambda d: d(st.sampled_from(['', '  ', 'k' * 200, 'k\x01'])),
    'subject': lambda d: d(st.sampled_from(['', '\t', 's' * 200, 's\x02'])),
    'object': lambda d: d(st.sampled_from(['o' * 200, 'o\x03'])),
    'episode_id': lambda d: d(st.sampled_from(['e' * 200, 'e\x04'])),
    'source': lambda d: d(st.sampled_from(['q' * 200, 'q\x05'])),
    'text': lambda d: 't' * 2001,
    'position': lambda d: Point(x=0.0, y=d(BAD_FLOAT64), z=0.0),
    'frame_id': lambda d: 'f' * 200,
}


@st.composite
def event_one_bad(draw):
    field = draw(st.sampled_from(sorted(EVENT_BAD)))
    msg = memory_event()
    value = EVENT_BAD[field](draw)
    if field == 'position':
        msg.has_position, msg.position = True, value
    elif field == 'frame_id':
        msg.header.frame_id = value
    else:
        setattr(msg, field, value)
    return case(msg, [field], True, f'event {field} bad')


@st.composite
def event_any(draw):
    msg = MemoryEvent(header=draw(HEADERS), kind=draw(TEXT), subject=draw(TEXT),
                      object=draw(TEXT), episode_id=draw(TEXT),
                      has_position=draw(st.booleans()), text=draw(TEXT), source=draw(TEXT))
    msg.position = Point(x=draw(FLOAT64), y=draw(FLOAT64), z=draw(FLOAT64))
    return case(msg, ['kind', 'subject', 'object', 'episode_id', 'position', 'text',
                      'source', 'frame_id', 'stamp'], False, f'free event {msg.kind!r}')


# -- sensor_msgs/PointCloud2 ----------------------------------------------------------------
def cloud_message(points, frame='world', dense=True, point_step=16, fields=None,
                  data=None, width=None, height=1, bigendian=False):
    points = np.asarray(points, dtype=np.float32).reshape(-1, 3)
    n = len(points)
    if fields is None:
        fields = [('x', 0, PointField.FLOAT32), ('y', 4, PointField.FLOAT32),
                  ('z', 8, PointField.FLOAT32)]
    msg = PointCloud2(header=_header(4.0, frame), height=height,
                      width=n if width is None else width, point_step=point_step,
                      row_step=point_step * n, is_dense=dense, is_bigendian=bigendian)
    msg.fields = [PointField(name=name, offset=offset, datatype=datatype, count=1)
                  for name, offset, datatype in fields]
    if data is None:
        raw = np.zeros((n, point_step), np.uint8)
        raw[:, :12] = points.view(np.uint8).reshape(n, 12)
        data = raw.tobytes()
    msg.data = data
    return msg


@st.composite
def cloud_one_bad(draw):
    n = draw(st.integers(1, 30))
    points = np.column_stack([np.linspace(0.3, 0.6, n), np.zeros(n), np.full(n, 0.05)])
    kind = draw(st.sampled_from(['frame_id', 'data', 'fields', 'datatype', 'offset',
                                 'width', 'nan_dense', 'point_step', 'huge']))
    if kind == 'frame_id':
        return case(cloud_message(points, frame=draw(st.sampled_from(['map', 'camera']))),
                    ['frame_id'], True, 'cloud frame')
    if kind == 'data':
        good = cloud_message(points)
        return case(cloud_message(points, data=bytes(good.data)[:-draw(st.integers(1, 15))]),
                    ['data'], True, 'cloud data short')
    if kind == 'fields':
        missing = draw(st.sampled_from('xyz'))
        fields = [(name, off, PointField.FLOAT32) for name, off in
                  (('x', 0), ('y', 4), ('z', 8)) if name != missing]
        return case(cloud_message(points, fields=fields), ['fields', missing], True,
                    f'cloud without {missing}')
    if kind == 'datatype':
        fields = [('x', 0, PointField.FLOAT64), ('y', 4, PointField.FLOAT32),
                  ('z', 8, PointField.FLOAT32)]
        return case(cloud_message(points, fields=fields), ['datatype'], True,
                    'cloud x float64')
    if kind == 'offset':
        offset = draw(st.sampled_from([13, 14, 16, 1000, 2**32 - 1]))
        fields = [('x', 0, PointField.FLOAT32), ('y', 4, PointField.FLOAT32),
                  ('z', offset, PointField.FLOAT32)]
        return case(cloud_message(points, fields=fields), ['offset', 'point_step'], True,
                    f'cloud z at offset {offset}')
    if kind == 'width':
        width = draw(st.sampled_from([n + 1, 2**32 - 1]))
        return case(cloud_message(points, width=width, height=draw(st.sampled_from(
            [1, 2**32 - 1]))), ['data', 'width', 'height'], True, f'cloud width {width}')
    if kind == 'nan_dense':
        points[draw(st.integers(0, n - 1)), draw(st.integers(0, 2))] = draw(NONFINITE)
        return case(cloud_message(points, dense=True), ['point', 'is_dense', 'cloud'],
                    True, 'NaN point in a dense cloud')
    if kind == 'point_step':
        step = draw(st.sampled_from([0, 4, 11]))
        return case(cloud_message(points, point_step=16, data=bytes(step * n)) if step else
                    cloud_message(np.zeros((0, 3)), point_step=0, width=n, data=b''),
                    ['point_step', 'data', 'offset'], True, f'cloud point_step {step}')
    # huge: 62_500 points x 16 bytes = 10**6 bytes, one point far outside the world
    big = np.tile(points[:1], (62_500, 1)).astype(np.float32)
    big[-1] = [3.0e38, 0.0, 0.0]
    return case(cloud_message(big), ['point', 'cloud', 'position', 'points'], True,
                'huge cloud, one point at 3e38 m')


@st.composite
def cloud_any(draw):
    fields = draw(st.lists(st.builds(
        lambda name, offset, datatype, count: PointField(name=name, offset=offset,
                                                         datatype=datatype, count=count),
        st.sampled_from(['x', 'y', 'z', 'rgb', 'intensity', '']),
        st.one_of(st.integers(0, 20), UINT32), st.integers(0, 9), st.integers(0, 3)),
        max_size=5))
    msg = PointCloud2(header=draw(HEADERS), height=draw(st.one_of(st.integers(0, 3), UINT32)),
                      width=draw(st.one_of(st.integers(0, 8), UINT32)),
                      point_step=draw(st.one_of(st.integers(0, 20), UINT32)),
                      row_step=draw(UINT32), is_dense=draw(st.booleans()),
                      is_bigendian=draw(st.booleans()), fields=fields)
    msg.data = draw(st.binary(max_size=200))
    return case(msg, ['fields', 'data', 'datatype', 'offset', 'point_step', 'width',
                      'height', 'frame_id', 'point', 'cloud'], False, 'free cloud')


# -- memory_interfaces/Subgoal and ActionChunk ----------------------------------------------
VERBS = ['move_to', 'pick', 'place', 'press', 'lift', 'open', 'close', 'touch', 'wait',
         'done', 'pull', 'push', 'release']


def subgoal(action='lift', position=(0.45, 0.0, 0.05), timeout_s=10.0, has_pose=True,
            frame='world'):
    msg = Subgoal(header=_header(1.0, frame), plan_id='p', index=0, action=action,
                  target='cube_1', text=f'{action} cube', has_target_pose=has_pose,
                  timeout_s=timeout_s)
    msg.target_pose = pose_stamped(position, (0.0, 0.0, 0.0, 1.0), frame)
    return msg


@st.composite
def subgoal_one_bad(draw):
    kind = draw(st.sampled_from(['position', 'timeout_s', 'action', 'has_target_pose',
                                 'far']))
    if kind == 'position':
        position = [0.45, 0.0, 0.05]
        position[draw(st.integers(0, 2))] = draw(BAD_FLOAT64)
        far = all(math.isfinite(v) for v in position)
        return case(subgoal(position=position), ['position', 'target'], True,
                    f'target {position}' + (' (far)' if far else ''))
    if kind == 'far':
        position = [draw(st.sampled_from([1e6, -1e9, 3e38, 1e300])), 0.0, 0.05]
        return case(subgoal(position=position), ['position', 'target'], True,
                    f'target {position[0]:g} m away')
    if kind == 'timeout_s':
        return case(subgoal(timeout_s=draw(st.sampled_from([NAN, INF, -INF, -1.0]))),
                    ['timeout_s'], True, 'bad timeout')
    if kind == 'action':
        return case(subgoal(action=''), ['action'], True, 'empty action')
    return case(subgoal(has_pose=False), ['target pose', 'target_pose'], True,
                'primitive without a target pose')


@st.composite
def subgoal_any(draw):
    msg = Subgoal(header=draw(HEADERS), plan_id=draw(TEXT), index=draw(UINT32),
                  action=draw(st.one_of(st.sampled_from(VERBS), TEXT)), target=draw(TEXT),
                  has_target_pose=draw(st.booleans()), text=draw(TEXT),
                  timeout_s=draw(FLOAT32))
    msg.target_pose = draw(pose_any()).msg
    return case(msg, ['action', 'target', 'position', 'timeout_s', 'target_pose', 'text'],
                False, f'free subgoal {msg.action!r}')


ACTION_NAMES = ['x', 'y', 'z', 'yaw', 'gripper']


def action_chunk(actions, horizon=None, action_dim=5, dt=0.1, n_execute=None,
                 names=ACTION_NAMES, observation_s=1.0):
    actions = [float(v) for v in np.asarray(actions, dtype=np.float32).reshape(-1)]
    horizon = len(actions) // max(action_dim, 1) if horizon is None else horizon
    msg = ActionChunk(header=_header(observation_s), observation_stamp=_stamp(observation_s),
                      episode_id='e', dt=dt, horizon=horizon, action_dim=action_dim,
                      action_names=list(names),
                      n_execute=horizon if n_execute is None else n_execute)
    msg.actions = actions
    return msg


def good_actions(horizon=8):
    rows = np.tile([0.4, 0.0, 0.2, 0.0, 0.0], (horizon, 1))
    rows[:, 0] += np.linspace(0.0, 0.02, horizon)
    return rows


@st.composite
def chunk_one_bad(draw):
    """A chunk with one bad field; ``fields`` covers the executor's and the bridge's
    wording."""
    horizon = draw(st.integers(1, 16))
    rows = good_actions(horizon)
    kind = draw(st.sampled_from(['actions_len', 'actions_nan', 'action_dim', 'dt',
                                 'n_execute', 'action_names', 'huge']))
    if kind == 'actions_len':
        flat = rows.reshape(-1)[:-draw(st.integers(1, 4))]
        return case(action_chunk(flat, horizon=horizon), ['actions', 'horizon'], True,
                    'actions shorter than horizon x dim')
    if kind == 'actions_nan':
        rows[draw(st.integers(0, horizon - 1)), draw(st.integers(0, 4))] = draw(NONFINITE)
        return case(action_chunk(rows), ['actions'], True, 'a non-finite action')
    if kind == 'action_dim':
        dim = draw(st.sampled_from([0, 4, 6, 2**32 - 1]))
        flat = np.resize(rows.reshape(-1), horizon * dim) if 0 < dim < 100 else []
        return case(action_chunk(flat, horizon=horizon, action_dim=dim),
                    ['action_dim', 'actions', 'dim'], True, f'action_dim {dim}')
    if kind == 'dt':
        return case(action_chunk(rows, dt=draw(st.sampled_from([NAN, INF, 0.0, -0.1, 1e9]))),
                    ['dt'], True, 'bad dt')
    if kind == 'n_execute':
        n = draw(st.sampled_from([horizon + 1, 2**32 - 1]))
        return case(action_chunk(rows, n_execute=n), ['n_execute'], True, f'n_execute {n}')
    if kind == 'action_names':
        names = draw(st.sampled_from([['yaw', 'x', 'y', 'z', 'gripper'], ['x', 'y'],
                                      ['x', 'y', 'z', 'roll', 'pitch', 'yaw', 'gripper']]))
        return case(action_chunk(rows, names=names), ['action_names'], True,
                    f'action_names {names}')
    # huge: 200_000 x 5 = 10**6 actions, one NaN at the end
    big = np.tile(rows[:1], (200_000, 1)).astype(np.float32)
    big[-1, 2] = NAN
    return case(action_chunk(big), ['actions'], True, 'huge chunk with a NaN at the end')


@st.composite
def chunk_any(draw):
    msg = ActionChunk(header=draw(HEADERS), observation_stamp=draw(STAMPS),
                      episode_id=draw(TEXT), time_step=draw(st.integers(0, 2**64 - 1)),
                      dt=draw(FLOAT32), horizon=draw(st.one_of(st.integers(0, 20), UINT32)),
                      action_dim=draw(st.one_of(st.integers(0, 7), UINT32)),
                      action_names=draw(st.one_of(st.just(ACTION_NAMES),
                                                  st.lists(TEXT, max_size=6))),
                      n_execute=draw(st.one_of(st.integers(0, 20), UINT32)),
                      inference_ms=draw(FLOAT32))
    if draw(st.booleans()) and msg.action_dim * msg.horizon <= 200:
        n = msg.action_dim * msg.horizon
    else:
        n = draw(st.integers(0, 60))
    msg.actions = draw(st.lists(FLOAT32, min_size=n, max_size=n))
    return case(msg, ['action_dim', 'actions', 'horizon', 'dt', 'n_execute',
                      'observation_stamp', 'action_names', 'dim'], False,
                f'free chunk {msg.horizon}x{msg.action_dim}, {n} values')


# -- trajectory_msgs/JointTrajectory ------------------------------------------------------
@st.composite
def joint_trajectory_any(draw, joints):
    names = draw(st.one_of(st.just(list(joints)), st.permutations(list(joints)),
                           st.lists(st.one_of(st.sampled_from(list(joints)), TEXT),
                                    max_size=8)))
    points = draw(st.lists(st.builds(
        lambda positions: JointTrajectoryPoint(positions=positions),
        st.lists(FLOAT64, max_size=8)), max_size=3))
    msg = JointTrajectory(header=draw(HEADERS), joint_names=names, points=points)
    return case(msg, ['joint_command', 'joint', 'points', 'positions'], False,
                f'free trajectory {len(names)} names, {len(points)} points')


@st.composite
def joint_trajectory_one_bad(draw, joints):
    positions = [0.0] * len(joints)
    kind = draw(st.sampled_from(['points', 'positions', 'nan', 'huge']))
    if kind == 'points':
        msg = JointTrajectory(joint_names=list(joints), points=[])
        return case(msg, ['points'], True, 'no points')
    if kind == 'positions':
        cut = positions[:draw(st.integers(0, len(joints) - 1))]
        msg = JointTrajectory(joint_names=list(joints),
                              points=[JointTrajectoryPoint(positions=cut)])
        return case(msg, ['joints', 'positions'], True, f'{len(cut)} positions')
    positions[draw(st.integers(0, len(joints) - 1))] = draw(
        NONFINITE if kind == 'nan' else st.sampled_from([1e308, -1e308, 1e9]))
    msg = JointTrajectory(joint_names=list(joints),
                          points=[JointTrajectoryPoint(positions=positions)])
    # a huge but finite angle is a legal (wrapped) revolute position
    return case(msg, ['positions', 'joint_command'], kind == 'nan', f'positions {kind}')


# -- services -------------------------------------------------------------------------------
@st.composite
def query_any(draw):
    req = QueryMemory.Request(kind=draw(st.one_of(st.integers(0, 5), UINT8)),
                              text=draw(st.one_of(TEXT, st.sampled_from(['cube', 'red cup']))),
                              episode_id=draw(st.one_of(st.just(''), TEXT)),
                              k=draw(st.one_of(st.integers(0, 120), UINT32)))
    req.time_start, req.time_end = draw(STAMPS), draw(STAMPS)
    return case(req, ['kind', 'text', 'episode_id', 'k', 'time_start', 'time_end',
                      'time window'], False, f'free query kind {req.kind} {req.text!r}')


@st.composite
def start_episode_any(draw, tasks, knobs):
    names = draw(st.lists(st.one_of(st.sampled_from(list(knobs)), TEXT), max_size=3))
    n = len(names) if draw(st.booleans()) else draw(st.integers(0, 4))
    req = StartEpisode.Request(
        task=draw(st.one_of(st.sampled_from(list(tasks)), TEXT)),
        seed=draw(st.one_of(st.integers(0, 100), INT64)),
        mode=draw(st.one_of(st.sampled_from(['', 'memory', 'oracle', 'cue_visible']), TEXT)),
        knob_names=names, knob_values=draw(st.lists(
            st.one_of(FLOAT64, st.integers(-3, 12).map(float)), min_size=n, max_size=n)))
    return case(req, ['task', 'seed', 'mode', 'knob'], False,
                f'start {req.task!r} seed {req.seed} mode {req.mode!r} knobs '
                f'{dict(zip(req.knob_names, req.knob_values))}')
