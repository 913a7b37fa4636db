"""Lit buttons and LED blinks through the real sim bridge and preprocessor node (composed).

The bridge plays button_sequence, then (asked over its StartEpisode service, as the main job
does) count, at its default 128x96; the preprocessor runs with its default parameters, so it
follows the bridge's EpisodeStatus and starts a new scene for the second episode. From the
published /perception/objects: the buttons light up in the task's order, each lighting one
lit interval; in count the LED's lit intervals are its blinks, and no button is ever lit
(the count's blue button, brighter than the previous episode's dark blue one, is not taken
for it), with the colour names blue and white.
"""

import time

import pytest

pytest.importorskip('rclpy')
pytest.importorskip('sim.bridge_node')

from memory_interfaces.msg import ObjectObservationArray  # noqa: E402
from memory_interfaces.srv import StartEpisode  # noqa: E402
from memory_nodes.ros_common import RELIABLE_QOS, stamp_to_sec  # noqa: E402
from tests.perception.bridge_graph import bridge_with_preprocessor  # noqa: E402

pytestmark = [pytest.mark.ros, pytest.mark.slow]


def _onsets(messages, label):
    """[(stamp, track_id, colour)] of every dark -> lit change of ``label`` tracks."""
    state, onsets = {}, []
    for stamp, msg in sorted(messages, key=lambda m: m[0]):
        for o in msg.objects:
            if o.label != label or not o.visible:
                continue
            if o.state == 'lit' and state.get(o.track_id) != 'lit':
                onsets.append((stamp, o.track_id, o.color))
            state[o.track_id] = o.state
    return onsets


def test_button_sequence_then_count_through_the_bridge():
    received, clients = [], []

    def setup(listener, bridge):
        listener.create_subscription(
            ObjectObservationArray, '/perception/objects',
            lambda msg: received.append((stamp_to_sec(msg.header.stamp), msg)), RELIABLE_QOS)
        clients.append(listener.create_client(StartEpisode, '/sim/start_episode'))

    params = ['-p', 'task:=button_sequence', '-p', 'seed:=5000',
              '-p', 'real_time_factor:=1.0', '-p', 'stats_period_s:=0.0']
    with bridge_with_preprocessor(params, 'lights_test_listener', setup) as (bridge, pre, _):

        def wait_for_step(step, limit_s):
            deadline = time.monotonic() + limit_s
            while time.monotonic() < deadline and bridge.env.step_count < step:
                time.sleep(0.05)
            assert bridge.env.step_count >= step, \
                f'the bridge reached step {bridge.env.step_count}'

        client = clients[0]
        first = bridge.env.task
        wait_for_step(first.cue_steps + 5, 60.0)
        switch = bridge.sim_time()
        assert client.wait_for_service(timeout_sec=10.0)
        future = client.call_async(StartEpisode.Request(task='count', seed=5000))
        deadline = time.monotonic() + 20.0
        while not future.done() and time.monotonic() < deadline:
            time.sleep(0.05)
        assert future.done() and future.result().success, future.result()
        second = bridge.env.task
        wait_for_step(second.cue_steps + 5, 60.0)
        time.sleep(0.5)  # the last frames through the preprocessor
    assert pre.guard.total_rejected == 0, pre.guard.last_error
    before = [r for r in received if r[0] <= switch]
    after = [r for r in received if r[0] > switch + 0.5]
    lit = _onsets(before, 'button')
    want = [name.split('_')[0] for name in first.hidden()['sequence']]
    assert [colour for _, _, colour in lit] == want
    assert _onsets(after, 'button') == []
    blinks = _onsets(after, 'led')
    assert len(blinks) == second.k and len({tid for _, tid, _ in blinks}) == 1
    last = max(after, key=lambda r: r[0])[1]
    colours = sorted(o.color for o in last.objects if o.label == 'button' and o.visible)
    assert colours == ['blue', 'white']
