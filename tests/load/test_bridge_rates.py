"""The sim bridge's load-test settings, on a real bridge node and real MuJoCo: camera frames
between control steps (camera_rate_hz), only the cameras asked for (cameras), and nothing
published before the first StartEpisode (autoplay false)."""

import threading
import time

import numpy as np
import pytest

pytest.importorskip('rclpy')
pytest.importorskip('memory_interfaces.msg')

from rclpy.parameter import Parameter  # noqa: E402
from rosgraph_msgs.msg import Clock  # noqa: E402
from sensor_msgs.msg import Image  # noqa: E402

from memory_interfaces.srv import StartEpisode  # noqa: E402
from memory_nodes.ros_common import SENSOR_QOS, autostart, stamp_to_sec  # noqa: E402
from memory_nodes.worker_executor import WorkerThreadExecutor  # noqa: E402
from sim.bridge_node import SimBridgeNode  # noqa: E402

pytestmark = pytest.mark.ros


def test_bridge_publishes_30_hz_scene_frames_only_after_start_episode(context):
    import rclpy

    bridge = SimBridgeNode(context=context, parameter_overrides=[
        Parameter('task', value='count'), Parameter('width', value=32),
        Parameter('height', value=24), Parameter('camera_rate_hz', value=30.0),
        Parameter('cameras', value=['scene']), Parameter('autoplay', value=False),
        Parameter('real_time_factor', value=2.0)])
    listener = rclpy.create_node('rates_listener', context=context)
    got = {'scene': [], 'wrist': [], 'clock': []}
    listener.create_subscription(Image, '/camera/scene/color/image_raw',
                                 lambda m: got['scene'].append(stamp_to_sec(m.header.stamp)),
                                 SENSOR_QOS)
    listener.create_subscription(Image, '/camera/wrist/color/image_raw',
                                 lambda m: got['wrist'].append(m), SENSOR_QOS)
    listener.create_subscription(Clock, '/clock',
                                 lambda m: got['clock'].append(stamp_to_sec(m.clock)),
                                 SENSOR_QOS)
    client = listener.create_client(StartEpisode, '/sim/start_episode')
    executor = WorkerThreadExecutor(num_threads=2, context=context)
    executor.add_node(bridge)
    executor.add_node(listener)
    spinner = threading.Thread(target=executor.spin, daemon=True)
    spinner.start()
    try:
        autostart(bridge)
        assert client.wait_for_service(timeout_sec=30)
        time.sleep(1.5)
        assert got == {'scene': [], 'wrist': [], 'clock': []}, 'published before StartEpisode'
        future = client.call_async(StartEpisode.Request(task='count', seed=3, mode='memory'))
        deadline = time.monotonic() + 60
        while not future.done() and time.monotonic() < deadline:
            time.sleep(0.05)
        assert future.done() and future.result().success
        while len(got['scene']) < 60 and time.monotonic() < deadline:
            time.sleep(0.05)
    finally:
        executor.shutdown(timeout_sec=5)
        bridge.destroy_node()
        listener.destroy_node()
    stamps = np.unique(got['scene'])
    assert stamps.size >= 60, f'only {stamps.size} scene frames'
    gaps = np.diff(stamps)
    # frames fall on the 4 ms physics substeps due: 36, 32, 32 ms apart within each step
    assert 0.030 <= np.median(gaps) <= 0.037, gaps
    assert gaps.min() >= 0.028, gaps
    rate = (stamps.size - 1) / (stamps[-1] - stamps[0])
    assert 27.0 <= rate <= 31.0, f'{rate:.1f} frames per simulated second'
    clock = set(np.round(got['clock'], 6))
    with_clock = sum(t in clock for t in np.round(stamps, 6))
    assert with_clock >= 0.95 * stamps.size, 'every frame comes with its /clock'
    assert got['wrist'] == [], 'the wrist camera was not asked for'
