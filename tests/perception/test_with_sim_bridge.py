"""The preprocessor fed by the real sim bridge (sim/bridge_node.py), composed in one process.

The bridge renders the shell game's scene camera (colour, depth, instance segmentation in
the class-in-id encoding, CameraInfo, optical-frame pose); the preprocessor runs with its
default labelling parameters (class_names, instance_id_divisor, no id offset). While the
cups stand still (the first second), every cup must be observed within 1 cm of its true
centre; once the ball's cup is lowered, the ball must be kept as an unseen track.
"""

import time

import numpy as np
import pytest

pytest.importorskip('rclpy')
pytest.importorskip('sim.bridge_node')

from memory_interfaces.msg import ObjectObservationArray  # noqa: E402
from memory_nodes.ros_common import RELIABLE_QOS, stamp_to_sec  # noqa: E402
from tests.perception.bridge_graph import bridge_with_preprocessor  # noqa: E402

pytestmark = pytest.mark.ros

CUP_CENTRE_HEIGHT = 0.05  # cup body origin is its base; cylinder + knob are 0.1 m tall


def test_shell_game_from_the_bridge():
    checks = []

    def setup(listener, bridge):
        def on_objects(msg):
            env = bridge.env
            truth = {name: env.obj_pos(name) for name in env.slot_names}
            checks.append((stamp_to_sec(msg.header.stamp), env.step_count, msg, truth))

        listener.create_subscription(ObjectObservationArray, '/perception/objects',
                                     on_objects, RELIABLE_QOS)

    params = ['-p', 'width:=320', '-p', 'height:=240', '-p', 'seed:=4',
              '-p', 'real_time_factor:=1.0', '-p', 'stats_period_s:=0.0']
    with bridge_with_preprocessor(params, 'bridge_test_listener', setup) as (_, pre, _):
        deadline = time.monotonic() + 30.0
        while time.monotonic() < deadline and not any(c[0] >= 2.0 for c in checks):
            time.sleep(0.1)
    assert pre.guard.total_rejected == 0, pre.guard.last_error
    still = [c for c in checks if c[0] <= 0.9 and c[1] * 0.1 - c[0] < 0.15]  # cups at rest
    assert len(still) >= 3, f'only {len(still)} observation arrays in the first second'
    for _, _, msg, truth in still:
        cups = [o for o in msg.objects if o.label == 'cup' and o.visible]
        assert len(cups) == 3
        true_cups = [truth[n] + [0.0, 0.0, CUP_CENTRE_HEIGHT] for n in ('cup0', 'cup1', 'cup2')]
        for obs in cups:
            seen = np.array([obs.position.x, obs.position.y, obs.position.z])
            error = min(np.linalg.norm(seen - t) for t in true_cups)
            assert error < 0.01, f'{obs.track_id} at {seen} is {error * 1000:.1f} mm off'
    late = [c for c in checks if c[0] >= 1.8]
    assert late, 'no observations after the cover'
    ball = [o for o in late[-1][2].objects if o.label == 'ball']
    assert len(ball) == 1 and not ball[0].visible  # hidden under its cup, still tracked
