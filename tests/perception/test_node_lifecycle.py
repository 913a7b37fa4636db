"""Lifecycle of the preprocessor node in-process: configure / activate / cleanup / again,
and a configure that fails on a bad parameter, naming it."""

import pytest

pytest.importorskip('rclpy')

from rclpy.lifecycle import TransitionCallbackReturn  # noqa: E402
from rclpy.parameter import Parameter  # noqa: E402

from memory_nodes.preprocessor_node import PreprocessorNode  # noqa: E402

pytestmark = pytest.mark.ros


def test_configure_activate_cleanup_and_configure_again(context):
    node = PreprocessorNode(context=context, parameter_overrides=[
        Parameter('camera_pose', value=[0.0, 0.0, 1.0, 0.0, 0.0, 0.0, 1.0])])
    try:
        topics = {name for name, _ in node.get_topic_names_and_types()}
        assert '/perception/objects' not in topics  # nothing before configure
        assert node.trigger_configure() == TransitionCallbackReturn.SUCCESS
        assert node.preprocessor is not None and node.camera_pose_at(5.0) is not None
        assert node.trigger_activate() == TransitionCallbackReturn.SUCCESS
        assert node.trigger_deactivate() == TransitionCallbackReturn.SUCCESS
        assert node.trigger_cleanup() == TransitionCallbackReturn.SUCCESS
        assert node.preprocessor is None and not node._inputs and not node._outputs
        assert node.trigger_configure() == TransitionCallbackReturn.SUCCESS
        assert node.trigger_activate() == TransitionCallbackReturn.SUCCESS
        descriptor = node.describe_parameter('outlier_std_ratio')
        assert 'standard deviations' in descriptor.description and descriptor.read_only
    finally:
        node.destroy_node()


@pytest.mark.parametrize('name, value, message', [
    ('centroid_method', 'middle', "centroid_method is 'middle'"),
    ('camera_pose', [1.0, 2.0, 3.0], 'camera_pose has 3 numbers'),
    ('instance_labels', ['cube'], "instance_labels entry 'cube'"),
    ('token_encoder', 'no.such.module:make', "token_encoder 'no.such.module:make'"),
    ('image_qos', 'fast', "image_qos is 'fast'"),
])
def test_bad_parameters_fail_configure_with_the_reason(context, name, value, message):
    node = PreprocessorNode(context=context, parameter_overrides=[Parameter(name, value=value)])
    logged = []
    node.get_logger().error = logged.append  # capture the configure error line
    try:
        assert node.trigger_configure() == TransitionCallbackReturn.FAILURE
        assert any(message in line for line in logged), logged
    finally:
        node.destroy_node()
