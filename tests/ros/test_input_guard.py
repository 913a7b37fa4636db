"""The nodes' InputGuard: every bad message is counted; the log is throttled per source and
kind of fault, so a flood of one fault does not hide a different fault on the same topic."""

import pytest

pytest.importorskip('rclpy')

from memory_nodes.ros_common import InputGuard  # noqa: E402


class _Log:
    def __init__(self):
        self.lines = []

    def error(self, text):
        self.lines.append(text)


def test_a_new_kind_of_fault_is_logged_through_the_throttle_of_another():
    log = _Log()
    guard = InputGuard(log, throttle_s=60.0)
    for n in range(20):  # one fault, its numbers changing: logged once
        with guard('observation'):
            raise ValueError(f'color.data has {36850 + n} bytes; expected 36864')
    with guard('observation'):  # another fault on the same source: logged at once
        raise ValueError('proprio is not finite: [0.1, nan, -1.5e-3]')
    with guard('observation'):
        raise ValueError('proprio is not finite: [0.2, 0.3, nan]')
    with guard('observation'):  # not a ValueError: named with its type
        raise KeyError('ee')
    with guard('joints'):
        raise ValueError('color.data has 1 bytes; expected 36864')
    assert guard.rejected == {'observation': 23, 'joints': 1}
    assert guard.total_rejected == 24
    assert log.lines == [
        'rejected input on observation (1 so far): color.data has 36850 bytes; expected 36864',
        'rejected input on observation (21 so far): proprio is not finite: [0.1, nan, -1.5e-3]',
        "rejected input on observation (23 so far): KeyError: 'ee'",
        'rejected input on joints (1 so far): color.data has 1 bytes; expected 36864']
    assert guard.last_error['observation'] == "'ee'"


def test_the_throttle_lets_a_persisting_fault_through_again():
    log = _Log()
    guard = InputGuard(log, throttle_s=0.0)
    for _ in range(3):
        with guard('objects'):
            raise ValueError('extent is not finite')
    assert len(log.lines) == 3 and log.lines[-1].startswith('rejected input on objects (3 so far)')
