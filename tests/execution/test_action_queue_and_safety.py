"""Executor's ROS-free parts: chunk timing, blending, late-chunk dropping, limits, watchdog."""

import math

import numpy as np
import pytest

from memory_nodes.execution import ActionQueue, InputWatchdog, SafetyLimits, validate_chunk


def _chunk(t0, value, horizon=16, n_execute=8, dt=0.1):
    actions = np.full((horizon, 5), float(value))
    actions[:, 0] += np.arange(horizon)  # distinguishable steps
    return validate_chunk(t0, dt, actions, n_execute)


def test_action_at_indexes_by_time_within_the_executable_window():
    queue = ActionQueue(max_age_s=1.0, blend_steps=0)
    assert queue.push(_chunk(10.0, 0.0), now=10.05)
    assert queue.action_at(10.0)[0] == 0.0
    assert queue.action_at(10.25)[0] == 2.0
    assert queue.action_at(10.79)[0] == 7.0
    assert queue.action_at(10.8) is None          # beyond n_execute


def test_each_control_step_gets_its_own_row_with_a_float32_dt_and_nanosecond_stamps():
    """The executor's clock (whole nanoseconds) at step k after the observation gets row k,
    with the dt an ActionChunk carries (float32: 0.1 arrives as 0.10000000149). Compared
    exactly, (t - t_obs) / dt fell just short of k and every chunk ran a step late."""
    dt = float(np.float32(0.1))
    for t_obs_ns in (15_100_000_000, 187_600_000_000, 3_599_900_000_000):
        queue = ActionQueue(max_age_s=1.0, blend_steps=0)
        t_obs = t_obs_ns // 1_000_000_000 + (t_obs_ns % 1_000_000_000) * 1e-9  # stamp_to_sec
        assert queue.push(_chunk(t_obs, 0.0, dt=dt), now=t_obs)
        for k in range(8):
            now = (t_obs_ns + k * 100_000_000) * 1e-9  # the executor's clock, now_s()
            assert queue.action_at(now)[0] == float(k), (t_obs_ns, k)


def test_late_and_out_of_order_chunks_are_dropped_and_counted():
    queue = ActionQueue(max_age_s=0.3, blend_steps=0)
    assert not queue.push(_chunk(10.0, 0.0), now=10.5)      # older than max_age
    assert queue.push(_chunk(10.4, 1.0), now=10.5)
    assert not queue.push(_chunk(10.2, 2.0), now=10.5)      # older than the current one
    assert not queue.push(_chunk(9.0, 3.0, n_execute=1), now=10.5)
    assert queue.dropped_late == 3 and queue.accepted == 1


def test_seam_is_blended_from_old_to_new():
    queue = ActionQueue(max_age_s=1.0, blend_steps=2)
    queue.push(_chunk(0.0, 0.0), now=0.0)
    queue.push(_chunk(0.3, 100.0), now=0.3)
    first = queue.action_at(0.3)        # old step 3 (3.0), new step 0 (100.0), weight 1/3
    assert first[1] == pytest.approx(100.0 / 3.0)
    second = queue.action_at(0.4)       # weight 2/3
    assert second[1] == pytest.approx(200.0 / 3.0)
    assert queue.action_at(0.5)[1] == pytest.approx(100.0)


def test_validate_chunk_names_the_bad_field():
    good = np.zeros((16, 5))
    with pytest.raises(ValueError, match='dt is'):
        validate_chunk(0.0, 0.0, good, 8)
    bad = good.copy()
    bad[3, 2] = math.nan
    with pytest.raises(ValueError, match=r'actions\[3, 2\] is nan'):
        validate_chunk(0.0, 0.1, bad, 8)
    with pytest.raises(ValueError, match='n_execute is 20'):
        validate_chunk(0.0, 0.1, good, 20)
    with pytest.raises(ValueError, match='action_dim is 5; this executor needs 7'):
        validate_chunk(0.0, 0.1, good, 8, action_dim=7)
    with pytest.raises(ValueError, match='observation_stamp'):
        validate_chunk(-1.0, 0.1, good, 8)


def test_safety_clamps_workspace_speed_yaw_and_gripper():
    limits = SafetyLimits(workspace_min=(0, -1, 0), workspace_max=(1, 1, 1), max_speed=0.5,
                          max_yaw_rate=1.0)
    cmd, acted = limits.clamp([2.0, 0.0, 0.5, 0.0, 1.5], previous=None, dt=0.1)
    assert cmd[0] == 1.0 and cmd[4] == 1.0 and acted == ['workspace', 'gripper']
    prev = np.array([0.5, 0.0, 0.5, 0.0, 0.0])
    cmd, acted = limits.clamp([0.9, 0.0, 0.5, 1.0, 0.0], previous=prev, dt=0.1)
    assert np.linalg.norm(cmd[:3] - prev[:3]) == pytest.approx(0.05)
    assert cmd[3] == pytest.approx(0.1) and acted == ['speed', 'yaw_rate']
    with pytest.raises(ValueError, match='expected 5 finite numbers'):
        limits.clamp([0, 0, math.inf, 0, 0], previous=None, dt=0.1)
    with pytest.raises(ValueError, match='workspace_min'):
        SafetyLimits(workspace_min=(1, 0, 0), workspace_max=(0, 1, 1))


def test_watchdog_reports_missing_and_stale_inputs():
    dog = InputWatchdog({'joint_states': 0.2, 'action_chunk': 1.0})
    assert dog.stale(0.0) == ['action_chunk', 'joint_states']
    dog.seen('joint_states', 1.0)
    dog.seen('action_chunk', 1.0)
    assert dog.stale(1.1) == []
    assert dog.stale(1.5) == ['joint_states']
    with pytest.raises(ValueError, match="unknown input 'camera'"):
        dog.seen('camera', 1.0)
