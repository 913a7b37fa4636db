"""Custom interfaces over real DDS between two separate OS processes.

A server process publishes the stack's own messages and serves QueryMemory; a client
process subscribes and calls the service; the test compares what arrived field by field.
Nothing is shared in-process: both peers are started with subprocess over Fast DDS.
"""

import importlib.util
import json
import math
import os
from pathlib import Path
import subprocess
import sys

import pytest

pytest.importorskip('rclpy')
pytest.importorskip('memory_interfaces.msg')

pytestmark = pytest.mark.ros

PEER = Path(__file__).with_name('dds_peer.py')


def _load_peer():
    spec = importlib.util.spec_from_file_location('dds_peer', PEER)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _assert_same(expected, actual, path='msg'):
    """Compare plain values recursively, floats with float32 tolerance."""
    if isinstance(expected, dict):
        assert isinstance(actual, dict), f'{path}: expected a message, got {actual!r}'
        assert expected.keys() == actual.keys(), f'{path}: fields differ'
        for key in expected:
            _assert_same(expected[key], actual[key], f'{path}.{key}')
    elif isinstance(expected, list):
        assert isinstance(actual, list) and len(actual) == len(expected), \
            f'{path}: expected {len(expected)} items, got {actual!r}'
        for i, (e, a) in enumerate(zip(expected, actual)):
            _assert_same(e, a, f'{path}[{i}]')
    elif isinstance(expected, float):
        assert math.isclose(expected, actual, rel_tol=1e-6, abs_tol=1e-7), \
            f'{path}: expected {expected}, got {actual}'
    else:
        assert expected == actual, f'{path}: expected {expected!r}, got {actual!r}'


def test_messages_and_query_service_cross_process(tmp_path):
    peer = _load_peer()
    env = dict(os.environ)
    out = tmp_path / 'received.json'
    server = subprocess.Popen([sys.executable, str(PEER), 'server', '--seconds', '60'],
                              env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                              text=True)
    try:
        assert server.stdout.readline().strip() == 'server ready'
        client = subprocess.run([sys.executable, str(PEER), 'client', '--out', str(out),
                                 '--seconds', '45'], env=env, capture_output=True,
                                text=True, timeout=90)
        assert client.returncode == 0, f'client failed:\n{client.stdout}\n{client.stderr}'
    finally:
        server.terminate()
        server.wait(timeout=20)
    assert server.pid != os.getpid()

    received = json.loads(out.read_text())
    expected = {topic: peer.to_plain(msg) for topic, msg in peer.expected_messages().items()}
    assert set(received['topics']) == set(expected)
    for topic, plain in expected.items():
        _assert_same(plain, received['topics'][topic], topic)

    # Spot checks that make the field-by-field comparison's meaning explicit.
    obs = received['topics']['observations']['objects'][0]
    assert obs['label'] == 'cube' and obs['color'] == 'red' and obs['visible'] is False
    assert obs['position_covariance'][8] == pytest.approx(3e-4)
    chunk = received['topics']['action_chunk']
    assert chunk['observation_stamp'] == {'sec': 1700000000, 'nanosec': 123456789}
    assert len(chunk['actions']) == chunk['horizon'] * chunk['action_dim']

    reply = received['reply']
    assert reply['success'] is True and reply['count'] == 2
    assert len(reply['results']) == 2
    entry = reply['results'][0]
    assert entry['subject'] == 'red cube'
    assert entry['episode_id'] == 'episode-3'
    assert entry['entry_id'] == 1000  # KIND_WHERE == 0
    assert entry['stamp'] == {'sec': 20, 'nanosec': 7}
    assert entry['recorded'] == {'sec': 10, 'nanosec': 5}
    assert entry['position']['x'] == pytest.approx(0.42)
