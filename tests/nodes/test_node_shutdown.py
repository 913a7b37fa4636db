"""A node started by its console-script main() exits cleanly and promptly on SIGTERM/SIGINT.

Uses the preprocessor, whose main() is memory_nodes.ros_common.run_lifecycle_node, shared by
every node of the stack; a supervisor (the runner, launch, systemd) relies on this.
"""

import signal
import subprocess
import sys
import time

import pytest

pytest.importorskip('rclpy')
pytestmark = pytest.mark.ros


@pytest.mark.parametrize('sig', [signal.SIGTERM, signal.SIGINT])
def test_node_process_exits_cleanly_on_signal(sig):
    proc = subprocess.Popen([sys.executable, '-m', 'memory_nodes.preprocessor_node',
                             '--ros-args', '-p', 'autostart:=true'],
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        deadline = time.monotonic() + 60
        line = ''
        while 'configured' not in line and time.monotonic() < deadline:
            line = proc.stdout.readline()
            assert line or proc.poll() is None, 'node exited before it was configured'
        assert 'configured' in line
        start = time.monotonic()
        proc.send_signal(sig)
        code = proc.wait(timeout=10)
        elapsed = time.monotonic() - start
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert code == 0
    assert elapsed < 3.0, f'took {elapsed:.1f} s to stop'
