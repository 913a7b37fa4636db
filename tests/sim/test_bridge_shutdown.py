"""The sim bridge, started as its own process by its main(), exits cleanly and promptly on
SIGTERM and SIGINT (what a supervisor, launch or Ctrl-C send), also while it steps as fast as
it can: exit code 0 within 2 s, no traceback."""

import os
from pathlib import Path
import signal
import subprocess
import sys
import time

import pytest

pytest.importorskip('rclpy')
pytest.importorskip('memory_interfaces.msg')
pytestmark = pytest.mark.ros
ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.parametrize('sig,rtf', [(signal.SIGTERM, '1.0'), (signal.SIGINT, '1.0'),
                                     (signal.SIGTERM, '0.0'), (signal.SIGINT, '0.0')])
def test_bridge_process_exits_cleanly_on_signal(sig, rtf):
    argv = [sys.executable, '-m', 'sim.bridge_node', '--ros-args', '-p', 'autostart:=true',
            '-p', f'real_time_factor:={rtf}', '-p', 'policy:=expert', '-p', 'width:=64',
            '-p', 'height:=48']
    proc = subprocess.Popen(argv, cwd=ROOT, env=dict(os.environ, PYTHONUNBUFFERED='1'),
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    lines = []
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            line = proc.stdout.readline()
            assert line or proc.poll() is None, f'bridge exited early: {lines}'
            lines.append(line)
            if 'active' in line:
                break
        assert 'active' in lines[-1], lines
        time.sleep(0.5)  # let it step (and render) for a while
        start = time.monotonic()
        proc.send_signal(sig)
        code = proc.wait(timeout=10)
        elapsed = time.monotonic() - start
        lines += proc.stdout.readlines()
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    output = ''.join(lines)
    print(f'{signal.Signals(sig).name} at real_time_factor {rtf}: exit {code} in {elapsed:.2f} s')
    assert code == 0, output
    assert elapsed < 2.0, f'took {elapsed:.2f} s to stop'
    assert 'Traceback' not in output, output
