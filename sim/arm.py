"""End-effector control of the arm by damped least-squares differential inverse kinematics.

`ArmController` turns a target gripper pose (x, y, z, yaw, with the gripper pointing down)
into joint position targets for the arm's position actuators, using MuJoCo's site Jacobian
(mj_jacSite) on a scratch MjData so the simulated state is never touched. The env moves the
reference pose towards the commanded pose at a bounded speed, so a far target makes a smooth,
visible motion rather than a jump.
"""

from __future__ import annotations

import mujoco
import numpy as np

ARM_JOINTS = ('shoulder_pan', 'shoulder_lift', 'elbow', 'wrist_roll', 'wrist_pitch',
              'tool_roll')
FINGER_JOINTS = ('finger_left', 'finger_right')
FINGER_MAX = 0.04  # finger travel (m); gripper opening = sum of both fingers
HOME_POSE = np.array([0.32, 0.0, 0.30, 0.0])  # x, y, z, yaw of the gripper at rest
# Bounds of commanded targets (world frame, m): the reachable part of the table.
WORKSPACE_LOW = np.array([0.15, -0.45, 0.005])
WORKSPACE_HIGH = np.array([0.80, 0.45, 0.55])


def down_rotation(yaw: float) -> np.ndarray:
    """Rotation matrix of the gripper pointing down (tool z = world -z), turned by yaw."""
    c, s = np.cos(yaw), np.sin(yaw)
    return np.array([[c, s, 0.0], [s, -c, 0.0], [0.0, 0.0, -1.0]])


def wrap_angle(a: float) -> float:
    return float((a + np.pi) % (2 * np.pi) - np.pi)


class ArmController:
    """Differential IK for the 'pinch' site and bookkeeping of joint targets."""

    def __init__(self, model: mujoco.MjModel, iterations: int = 12, damping: float = 0.02):
        self.model = model
        self.scratch = mujoco.MjData(model)
        self.iterations = iterations  # DLS iterations per solve
        self.damping = damping  # DLS damping lambda
        self.site = model.site('pinch').id
        self.qadr = np.array([model.joint(j).qposadr[0] for j in ARM_JOINTS])
        self.dofadr = np.array([model.joint(j).dofadr[0] for j in ARM_JOINTS])
        self.finger_qadr = np.array([model.joint(j).qposadr[0] for j in FINGER_JOINTS])
        self.lo = np.array([model.joint(j).range[0] for j in ARM_JOINTS])
        self.hi = np.array([model.joint(j).range[1] for j in ARM_JOINTS])
        self.act_arm = np.array([model.actuator(j).id for j in ARM_JOINTS])
        self.act_fingers = np.array([model.actuator(j).id for j in FINGER_JOINTS])
        self._jacp = np.zeros((3, model.nv))
        self._jacr = np.zeros((3, model.nv))

    def solve(self, q_start: np.ndarray, pose: np.ndarray) -> np.ndarray:
        """Joint positions that put the pinch site at pose = (x, y, z, yaw), gripper down."""
        m, d = self.model, self.scratch
        q = np.array(q_start, dtype=float)
        target_p = np.asarray(pose[:3], dtype=float)
        target_r = down_rotation(float(pose[3]))
        lam2 = self.damping ** 2
        for _ in range(self.iterations):
            d.qpos[self.qadr] = q
            mujoco.mj_kinematics(m, d)
            mujoco.mj_comPos(m, d)
            p = d.site_xpos[self.site]
            r = d.site_xmat[self.site].reshape(3, 3)
            err_p = target_p - p
            # Orientation error as a rotation vector of target * current^T (world frame).
            r_err = target_r @ r.T
            quat = np.zeros(4)
            mujoco.mju_mat2Quat(quat, r_err.reshape(-1))
            err_r = np.zeros(3)
            mujoco.mju_quat2Vel(err_r, quat, 1.0)
            err = np.concatenate([err_p, 0.5 * err_r])  # (6,)
            if np.linalg.norm(err_p) < 2e-4 and np.linalg.norm(err_r) < 2e-3:
                break
            mujoco.mj_jacSite(m, d, self._jacp, self._jacr, self.site)
            jac = np.vstack([self._jacp[:, self.dofadr], 0.5 * self._jacr[:, self.dofadr]])
            dq = jac.T @ np.linalg.solve(jac @ jac.T + lam2 * np.eye(6), err)  # (6,)
            q = np.clip(q + dq, self.lo, self.hi)
        return q

    def pinch_pose(self, data: mujoco.MjData) -> np.ndarray:
        """Measured (x, y, z, yaw) of the pinch site."""
        p = data.site_xpos[self.site]
        r = data.site_xmat[self.site].reshape(3, 3)
        yaw = np.arctan2(r[1, 0], r[0, 0])
        return np.array([p[0], p[1], p[2], yaw])

    def joint_positions(self, data: mujoco.MjData) -> np.ndarray:
        return data.qpos[self.qadr].copy()

    def gripper_opening(self, data: mujoco.MjData) -> float:
        return float(data.qpos[self.finger_qadr].sum())
