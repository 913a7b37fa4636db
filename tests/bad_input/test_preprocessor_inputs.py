"""The preprocessor under adversarial input, in-process: colour, depth and segmentation
Images, CameraInfo, the camera pose, JointState, the instruction and the episode status go
through the real subscription callbacks. Nothing escapes, every rejection is a counted
ValueError naming the field, certainly-bad messages are rejected, and random but well-formed
frame sets run through the whole perception pipeline without an unnamed error."""

from hypothesis import strategies as st
import numpy as np
import pytest

pytest.importorskip('rclpy')
pytestmark = pytest.mark.ros

from rclpy.parameter import Parameter  # noqa: E402

from memory_nodes.preprocessor_node import PreprocessorNode  # noqa: E402
from memory_nodes.ros_common import autostart  # noqa: E402
from tests.bad_input import strategies as S  # noqa: E402
from tests.bad_input.harness import deliver, hammer, subscription  # noqa: E402

TOPICS = {'color': '/camera/scene/color/image_raw', 'depth': '/camera/scene/depth/image_raw',
          'segmentation': '/camera/scene/segmentation/image_raw'}
JOINTS = ['shoulder_pan', 'shoulder_lift', 'elbow']


@pytest.fixture()
def preprocessor(context):
    node = PreprocessorNode(context=context, parameter_overrides=[
        Parameter('camera_pose', value=[0.0, 0.0, 1.0, 1.0, 0.0, 0.0, 0.0]),
        Parameter('stats_period_s', value=0.0)])
    autostart(node)
    yield node
    node.destroy_node()


@pytest.mark.parametrize('stream', list(TOPICS))
def test_images(preprocessor, stream, scale):
    topic = TOPICS[stream]
    bad = hammer(S.image_one_bad(stream), lambda c: deliver(preprocessor, topic, c), 30 * scale)
    hammer(S.image_any(stream), lambda c: deliver(preprocessor, topic, c), 30 * scale)
    assert bad > 0 and preprocessor.guard.rejected[topic] >= bad


def test_camera_info_and_pose(preprocessor, scale):
    info, pose = '/camera/scene/camera_info', '/camera/scene/pose'
    bad = {info: hammer(S.camera_info_one_bad(), lambda c: deliver(preprocessor, info, c),
                        20 * scale)}
    hammer(S.camera_info_any(), lambda c: deliver(preprocessor, info, c), 30 * scale)
    bad[pose] = hammer(S.pose_one_bad(), lambda c: deliver(preprocessor, pose, c), 20 * scale)
    hammer(S.pose_any(), lambda c: deliver(preprocessor, pose, c), 30 * scale)
    for p in (pose, info):
        assert bad[p] > 0 and preprocessor.guard.rejected[p] >= bad[p]


def test_joint_states_instruction_and_episode_status(preprocessor, scale):
    joints = '/joint_states'
    hammer(S.joint_state_one_bad(JOINTS), lambda c: deliver(preprocessor, joints, c),
           20 * scale)
    hammer(S.joint_state_any(JOINTS), lambda c: deliver(preprocessor, joints, c), 30 * scale)
    hammer(S.string_any(huge=True), lambda c: deliver(preprocessor, '/instruction', c),
           10 * scale)
    status = '/sim/episode_status'
    hammer(S.episode_status_one_bad(), lambda c: deliver(preprocessor, status, c),
           10 * scale)
    hammer(S.episode_status_any(), lambda c: deliver(preprocessor, status, c), 30 * scale)
    if preprocessor.joint_positions is not None:
        assert np.all(np.isfinite(preprocessor.joint_positions))


@st.composite
def frame_sets(draw):
    """A colour, depth and segmentation image of one stamp: sizes usually those of the
    camera_info (24 x 24) and equal, contents
    random (depth with NaN / inf / 0 / huge values, ids of any class), sometimes 16UC1."""
    h, w = (24, 24) if draw(st.integers(0, 3)) else (draw(st.integers(1, 24)),
                                                    draw(st.integers(1, 24)))
    dh, dw = (h, w) if draw(st.integers(0, 4)) else (h + 1, w)
    stamp = draw(st.integers(1, 10**6)) * 1e-3
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    rgb = rng.integers(0, 256, (h, w, 3), dtype=np.uint8)
    depth = rng.choice(np.array([0.0, np.nan, np.inf, -1.0, 0.4, 0.8, 1.0, 3e38], np.float32),
                       (dh, dw)) * draw(st.sampled_from([1.0, 1.0001]))
    seg = rng.choice(np.array([0, -5, 1, 1001, 2002, 3003, 5_000_000, 2**31 - 1], np.int32),
                     (h, w))
    images = []
    for stream, array, encoding in (('color', rgb, 'rgb8'), ('depth', depth, '32FC1'),
                                    ('segmentation', seg, '32SC1')):
        data = np.ascontiguousarray(array).tobytes()
        images.append((stream, S.wire(S._image(encoding, array.shape[0], array.shape[1],
                                               len(data) // array.shape[0], data,
                                               stamp=stamp))))
    return images


def test_random_frames_through_the_pipeline(preprocessor, scale):
    deliver(preprocessor, '/camera/scene/camera_info',
            S.case(S.valid_camera_info(24, 24), ['camera_info'], False, 'valid info'))
    processed = []

    def send(images):
        guard = preprocessor.guard
        before, frames = guard.total_rejected, preprocessor.frames_processed
        for stream, msg in images:
            subscription(preprocessor, TOPICS[stream]).callback(msg)
        if guard.total_rejected > before:
            source, error = guard.last_rejection
            assert isinstance(error, ValueError), f'{source}: {type(error).__name__}: {error}'
            assert any(word in str(error) for word in ('camera_info', 'pixels', 'depth',
                                                       'segmentation', 'color')), error
        processed.append(preprocessor.frames_processed - frames)

    hammer(frame_sets(), send, 25 * scale)
    assert sum(processed) > 0  # well-formed frames did go through the pipeline
