"""The whole sim graph composed in one process on a multi-threaded executor (as
`memory-stack --mode composed` runs it): every node comes up active, an episode started
through the bridge flows to object observations, memory answers, and the action expert
publishes chunks."""

import time

import pytest
import yaml

rclpy = pytest.importorskip('rclpy')
torch = pytest.importorskip('torch')
pytestmark = pytest.mark.ros

from memory_interfaces.msg import ActionChunk, ObjectObservationArray  # noqa: E402
from memory_interfaces.srv import QueryMemory, StartEpisode  # noqa: E402
from memory_nodes.ros_common import RELIABLE_QOS  # noqa: E402
from memory_nodes.runner import ComposedStack, composed_ros_args  # noqa: E402
from memory_nodes.stack_description import config_dir, load_stack  # noqa: E402
from tests.nodes.test_action_expert_node import checkpoint  # noqa: E402, F401


def test_sim_graph_composed_in_one_process(tmp_path, checkpoint):  # noqa: F811
    params = yaml.safe_load((config_dir() / 'params.yaml').read_text())
    params['memory']['ros__parameters'] = {'store_path': str(tmp_path / 'memory.db')}
    params['action_expert']['ros__parameters'] = {'checkpoint': str(checkpoint),
                                                  'device': 'cpu', 'max_latency_s': 5.0}
    params['sim_bridge']['ros__parameters']['real_time_factor'] = 1.0
    for name in ('memory', 'planner', 'executor', 'action_expert'):  # the bridge's /clock
        params[name]['ros__parameters']['use_sim_time'] = True
    params_file = tmp_path / 'params.yaml'
    params_file.write_text(yaml.safe_dump(params))
    description = load_stack('sim', params_file=params_file)
    context = rclpy.Context()
    rclpy.init(args=composed_ros_args(description), context=context)
    stack = ComposedStack(description, context=context, num_threads=8)
    rclpy.init()
    peer = rclpy.create_node('composed_peer')
    observations, chunks = [], []
    peer.create_subscription(ObjectObservationArray, '/perception/objects',
                             observations.append, RELIABLE_QOS)
    peer.create_subscription(ActionChunk, '/action_expert/chunk', chunks.append,
                             RELIABLE_QOS)
    start = peer.create_client(StartEpisode, '/sim/start_episode')
    query = peer.create_client(QueryMemory, '/memory/query')

    def call(client, request):
        future = client.call_async(request)
        deadline = time.monotonic() + 60
        while not future.done():
            assert time.monotonic() < deadline, f'{client.srv_name} did not answer'
            rclpy.spin_once(peer, timeout_sec=0.05)
        return future.result()

    try:
        stack.start()
        states = {name: node._state_machine.current_state[1]
                  for name, node in stack.nodes.items()}
        assert set(states) == {'sim_bridge', 'preprocessor', 'memory', 'planner', 'executor',
                               'action_expert'}
        assert set(states.values()) == {'active'}, states
        assert start.wait_for_service(timeout_sec=60)
        reply = call(start, StartEpisode.Request(task='shell_game', seed=7, mode='memory'))
        assert reply.success, reply.message
        deadline = time.monotonic() + 120
        while len(chunks) < 5 or len(observations) < 5:
            assert time.monotonic() < deadline, (len(chunks), len(observations))
            rclpy.spin_once(peer, timeout_sec=0.05)
        answer = call(query, QueryMemory.Request(kind=QueryMemory.Request.KIND_WHERE,
                                                 text='cup', k=5))
        assert answer.success and answer.results, answer.message
    finally:
        peer.destroy_node()
        rclpy.shutdown()
        stack.stop()
        rclpy.shutdown(context=context)
