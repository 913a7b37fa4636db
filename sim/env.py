"""The memory-task environment: physics stepping at 10 Hz, phases, grasping, observations.

One `MemoryTaskEnv` wraps one task instance (a seeded layout). `step(action)` takes an
absolute gripper target [x, y, z, yaw, grip]; the env moves its reference pose towards it at
a bounded speed, solves differential IK, and interpolates the joint targets of the position
actuators over the physics substeps. During the cue phase the arm is frozen and actions are
ignored, so proprioception cannot carry the cue.

Grasping is an attachment: closing the gripper (grip crossing 0.5) with the pinch point
within a few millimetres of a graspable object's grasp point attaches that object to the
pinch point until the gripper opens; then it settles on the support under it (table, tray,
a cube, an open drawer). Drawers attach along their slide axis. Buttons are physical: the
fingers push a spring-loaded cap down.
"""

from __future__ import annotations

import mujoco
import numpy as np

from sim.arm import FINGER_MAX, HOME_POSE, WORKSPACE_HIGH, WORKSPACE_LOW, ArmController, wrap_angle
from sim.dataset import ACTION_DIM, NUM_CLASSES, OBJECT_DIM, PROPRIO_DIM
from sim.scene import CLASSES, PARK_Z

CONTROL_DT = 0.1  # seconds of simulated time per policy step
MAX_SPEED = 0.5  # m/s of the reference pose
MAX_YAW_RATE = 3.0  # rad/s of the reference yaw
GRASP_RADIUS_XY = 0.022  # m: pinch point to grasp point, horizontally, to attach
GRASP_RADIUS_Z = 0.022  # m: vertically
PRESS_DEPTH = 0.006  # m of cap travel that counts as a press
RELEASE_DEPTH = 0.003  # m: the cap must come back above this before the next press
DRAWER_TRAVEL = 0.11  # m a drawer can be pulled out
DRAWER_OPEN = 0.05  # m of opening that counts as opened


class MemoryTaskEnv:
    """Gym-like env: reset() -> obs, step(action) -> (obs, done, info), success()."""

    def __init__(self, task, image_size: int = 64, render: bool = True):
        if image_size < 8 or image_size > 1024:
            raise ValueError(f'image_size must be in [8, 1024], got {image_size}')
        self.task = task
        self.image_size = int(image_size)  # policy image height = width (pixels)
        self.render_images = bool(render)  # False: rgb/wrist_rgb are empty (0, 0, 3) arrays
        self.model = mujoco.MjModel.from_xml_string(task.scene_xml())
        self.data = mujoco.MjData(self.model)
        self.n_substeps = int(round(CONTROL_DT / self.model.opt.timestep))
        self.arm = ArmController(self.model)
        self.instruction = task.instruction
        self.max_steps = task.max_steps
        self.mode = task.mode
        self.objects = {o.name: o for o in task.objects}
        self.body_id = {n: self.model.body(n).id for n in self.objects}
        self.mocap_id = {n: int(self.model.body_mocapid[b]) for n, b in self.body_id.items()}
        self.button_qadr = {
            n: self.model.joint(f'{n}/press').qposadr[0]
            for n, o in self.objects.items() if o.kind == 'button'}
        self.slot_names = list(task.slot_names())
        self._renderer = None
        self._big_renderers = {}
        self._home_q = self.arm.solve(np.array([0.0, 0.2, 2.0, 0.0, 0.9, 0.0]), HOME_POSE)
        self._home_q = self.arm.solve(self._home_q, HOME_POSE)
        self.reset_count = 0

    # ------------------------------------------------------------------ episode control
    def reset(self) -> dict:
        m, d = self.model, self.data
        mujoco.mj_resetData(m, d)
        d.qpos[self.arm.qadr] = self._home_q
        d.ctrl[self.arm.act_arm] = self._home_q
        d.qpos[self.arm.finger_qadr] = FINGER_MAX
        d.ctrl[self.arm.act_fingers] = FINGER_MAX
        self.q_target = self._home_q.copy()
        self.ref_pose = HOME_POSE.copy()
        self.grip = 0.0
        self.attached = None  # name of the object held, or None
        self.attach_offset = np.zeros(3)
        self.carried = {}  # child name -> (parent name, offset): contents of drawers
        self.pressed = {n: False for n in self.button_qadr}
        self.events = []  # ground-truth log: dicts with step, time, kind, subject, ...
        self.step_count = 0
        self.done = False
        for name, o in self.objects.items():
            if o.mocap:
                d.mocap_pos[self.mocap_id[name]] = o.pos
        self.task.on_reset(self)
        mujoco.mj_forward(m, d)
        self.reset_count += 1
        return self.observe()

    def phase(self, step: int | None = None) -> int:
        t = self.step_count if step is None else step
        if t < self.task.cue_steps:
            return 0
        if t < self.task.cue_steps + self.task.delay_steps:
            return 1
        return 2

    def step(self, action, on_substep=None) -> tuple[dict, bool, dict]:
        """One control step (CONTROL_DT). ``on_substep(seconds)``, when given, is called after
        every physics substep with the simulated seconds since this step began and the
        kinematics up to date (the sim bridge renders camera frames between control steps)."""
        if self.done:
            raise RuntimeError('step() after the episode ended; call reset()')
        action = np.asarray(action, dtype=float).reshape(-1)
        if action.shape != (ACTION_DIM,) or not np.all(np.isfinite(action)):
            raise ValueError(f'action must be {ACTION_DIM} finite numbers [x, y, z, yaw, grip],'
                             f' got {action!r}')
        phase = self.phase()
        self.task.animate(self, self.step_count)
        q_start = self.q_target.copy()
        if phase != 0:  # cue: the arm is frozen and the action ignored
            self._move_reference(action)
            self.q_target = self.arm.solve(self.q_target, self.ref_pose)
            new_grip = float(np.clip(action[4], 0.0, 1.0))
            if new_grip >= 0.5 and self.grip < 0.5 and self.attached is None:
                self._try_attach()
            elif new_grip < 0.5 and self.attached is not None:
                self._release()
            self.grip = new_grip
        finger = FINGER_MAX * (1.0 - self.grip)
        if self.attached is not None:
            finger = max(finger, self.objects[self.attached].grip_width / 2)
        self.data.ctrl[self.arm.act_fingers] = finger
        for k in range(self.n_substeps):
            alpha = (k + 1) / self.n_substeps
            self.data.ctrl[self.arm.act_arm] = q_start + alpha * (self.q_target - q_start)
            mujoco.mj_step(self.model, self.data)
            if self.attached is not None:
                self._follow_gripper()
            if self.carried:
                self._update_carried()
            self._detect_presses()
            if on_substep is not None:
                mujoco.mj_kinematics(self.model, self.data)
                on_substep((k + 1) * self.model.opt.timestep)
        mujoco.mj_kinematics(self.model, self.data)
        self.step_count += 1
        self.task.after_step(self)
        self.done = bool(self.task.finished(self) or self.step_count >= self.max_steps)
        return self.observe(), self.done, self.info()

    def success(self) -> bool:
        return bool(self.task.success(self))

    # ------------------------------------------------------------------ object helpers
    def obj_pos(self, name: str) -> np.ndarray:
        o = self.objects[name]
        if o.mocap:
            return self.data.mocap_pos[self.mocap_id[name]].copy()
        return self.data.xpos[self.body_id[name]].copy()

    def set_obj_pos(self, name: str, pos) -> None:
        self.data.mocap_pos[self.mocap_id[name]] = pos

    def park(self, name: str) -> None:
        """Remove an object from view: under the opaque table top."""
        p = self.obj_pos(name)
        self.set_obj_pos(name, (p[0], p[1], PARK_Z))

    def is_parked(self, name: str) -> bool:
        return self.objects[name].mocap and self.obj_pos(name)[2] < PARK_Z / 2

    def set_rgba(self, name: str, rgba) -> None:
        """Recolour every geom of an object (lit/dark buttons and LEDs)."""
        for g in self._geoms_of(name):
            self.model.geom_rgba[g] = rgba

    def _geoms_of(self, name: str) -> list[int]:
        key = f'{name}/'
        return [g for g in range(self.model.ngeom)
                if (self.model.geom(g).name.startswith(key)
                    and not self.model.geom(g).name.endswith(('/base', '/post', '/knob')))]

    def button_depth(self, name: str) -> float:
        return float(-self.data.qpos[self.button_qadr[name]])

    def drawer_opening(self, name: str) -> float:
        return float(self.objects[name].pos[0] - self.obj_pos(name)[0])

    def log_event(self, kind: str, subject: str, **extra) -> None:
        self.events.append({'step': self.step_count, 'time': round(self.step_count * CONTROL_DT,
                                                                    3),
                            'kind': kind, 'subject': subject, **extra})

    def support_height(self, name: str, xy) -> tuple[float, str | None]:
        """Top of whatever lies under xy (table, tray, cube, open drawer) and its name."""
        best, under = 0.0, None
        for other, o in self.objects.items():
            if other == name or not o.mocap or self.is_parked(other):
                continue
            p = self.obj_pos(other)
            dx, dy = abs(xy[0] - p[0]), abs(xy[1] - p[1])
            if o.kind == 'tray' and dx < 0.065 and dy < 0.065:
                top = p[2] + o.top_height
            elif o.kind == 'cube' and dx < 0.025 and dy < 0.025:
                top = p[2] + o.top_height
            elif o.kind == 'drawer' and dx < 0.055 and dy < 0.038:
                top = p[2] + 0.008
            else:
                continue
            if top > best:
                best, under = top, other
        return best, under

    # ------------------------------------------------------------------ mechanics
    def _move_reference(self, action: np.ndarray) -> None:
        target = np.clip(action[:3], WORKSPACE_LOW, WORKSPACE_HIGH)
        delta = target - self.ref_pose[:3]
        dist = float(np.linalg.norm(delta))
        max_step = MAX_SPEED * CONTROL_DT
        if dist > max_step:
            delta *= max_step / dist
        self.ref_pose[:3] += delta
        dyaw = wrap_angle(float(action[3]) - self.ref_pose[3])
        dyaw = float(np.clip(dyaw, -MAX_YAW_RATE * CONTROL_DT, MAX_YAW_RATE * CONTROL_DT))
        self.ref_pose[3] = wrap_angle(self.ref_pose[3] + dyaw)

    def pinch(self) -> np.ndarray:
        return self.data.site_xpos[self.arm.site].copy()

    def _try_attach(self) -> None:
        p = self.pinch()
        best, best_d = None, np.inf
        for name, o in self.objects.items():
            if not (o.graspable and o.mocap) or self.is_parked(name):
                continue
            g = self.obj_pos(name) + np.array([0.0, 0.0, o.grasp_height])
            if o.kind == 'drawer':
                g[0] -= 0.075
            dxy = float(np.hypot(*(g[:2] - p[:2])))
            dz = abs(float(g[2] - p[2]))
            if dxy < GRASP_RADIUS_XY and dz < GRASP_RADIUS_Z and dxy + dz < best_d:
                best, best_d = name, dxy + dz
        if best is not None:
            self.attached = best
            self.attach_offset = self.obj_pos(best) - p
            if self.objects[best].kind != 'drawer':
                # Closing fingers centre the object between them under the pinch point.
                self.attach_offset[:2] = 0.0
            self.carried.pop(best, None)
            self.log_event('grasped', best, position=self.obj_pos(best).round(4).tolist())
            self.task.on_grasp(self, best)

    def _follow_gripper(self) -> None:
        name = self.attached
        p = self.pinch() + self.attach_offset
        if self.objects[name].kind == 'drawer':
            closed = np.asarray(self.objects[name].pos)
            x = float(np.clip(p[0], closed[0] - DRAWER_TRAVEL, closed[0]))
            self.set_obj_pos(name, (x, closed[1], closed[2]))
        else:
            self.set_obj_pos(name, p)

    def _release(self) -> None:
        name, o = self.attached, self.objects[self.attached]
        self.attached = None
        p = self.obj_pos(name)
        if o.kind != 'drawer':
            top, under = self.support_height(name, p[:2])
            p[2] = top + o.rest_height
            self.set_obj_pos(name, p)
            if under is not None and self.objects[under].kind == 'drawer':
                self.carried[name] = (under, p - self.obj_pos(under))
        self.log_event('released', name, position=p.round(4).tolist(),
                       hand=self.ref_pose[:3].round(4).tolist())  # where the hand let go
        self.task.on_release(self, name)

    def _update_carried(self) -> None:
        for child, (parent, offset) in self.carried.items():
            self.set_obj_pos(child, self.obj_pos(parent) + offset)

    def _detect_presses(self) -> None:
        for name, adr in self.button_qadr.items():
            depth = -self.data.qpos[adr]
            if not self.pressed[name] and depth > PRESS_DEPTH:
                self.pressed[name] = True
                self.log_event('pressed', name)
                self.task.on_press(self, name)
            elif self.pressed[name] and depth < RELEASE_DEPTH:
                self.pressed[name] = False

    # ------------------------------------------------------------------ observations
    def proprio(self) -> np.ndarray:
        d = self.data
        return np.concatenate([self.arm.joint_positions(d), [self.arm.gripper_opening(d)],
                               self.arm.pinch_pose(d)]).astype(np.float32)  # (PROPRIO_DIM,)

    def object_features(self) -> np.ndarray:
        """(K, OBJECT_DIM) per slot: zeros for slots the task says cannot be seen."""
        feats = np.zeros((len(self.slot_names), OBJECT_DIM), dtype=np.float32)
        for i, name in enumerate(self.slot_names):
            view = self.task.slot_view(self, name)
            if view is None:
                continue
            pos, rgba, lit, kind, state = view
            feats[i] = [1.0, *pos, *rgba[:3], float(lit), CLASSES.index(kind) / NUM_CLASSES,
                        state]
        return feats

    def gt_positions(self) -> np.ndarray:
        return np.array([self.task.true_position(self, n) for n in self.slot_names],
                        dtype=np.float32)  # (K, 3)

    def observe(self) -> dict:
        if self.render_images:
            rgb = self.render('scene', self.image_size, self.image_size)
            wrist = self.render('wrist', self.image_size, self.image_size)
        else:
            rgb = np.zeros((0, 0, 3), np.uint8)
            wrist = np.zeros((0, 0, 3), np.uint8)
        obs = {
            'rgb': rgb,  # (H, W, 3) uint8
            'wrist_rgb': wrist,  # (H, W, 3) uint8
            'proprio': self.proprio(),  # (P,)
            'objects': self.object_features(),  # (K, D_OBJ)
            'phase': np.int8(self.phase()),
        }
        assert obs['proprio'].shape == (PROPRIO_DIM,)
        return obs

    def info(self) -> dict:
        """Privileged state for logging and experts; never a policy input."""
        return {
            'step': self.step_count,
            'phase': self.phase(),
            'pinch_pose': self.arm.pinch_pose(self.data),
            'attached': self.attached,
            'events': self.events,
            'hidden': self.task.hidden(),
            'gt_positions': self.gt_positions(),
            'success': self.success(),
        }

    def render(self, camera: str, width: int, height: int, kind: str = 'rgb') -> np.ndarray:
        """Offscreen frame of a camera: 'rgb' (H, W, 3) uint8, 'depth' (H, W) float32 metres,
        or 'segmentation' (H, W) int32 object slot index (-1 for robot/table/background)."""
        if kind not in ('rgb', 'depth', 'segmentation'):
            raise ValueError(f'kind must be rgb, depth or segmentation, got {kind!r}')
        key = (width, height)
        r = self._big_renderers.get(key)
        if r is None:
            r = mujoco.Renderer(self.model, height, width)
            self._big_renderers[key] = r
        if kind == 'depth':
            r.enable_depth_rendering()
        elif kind == 'segmentation':
            r.enable_segmentation_rendering()
        try:
            r.update_scene(self.data, camera)
            frame = r.render()
        finally:
            r.disable_depth_rendering()
            r.disable_segmentation_rendering()
        if kind == 'segmentation':
            return self._segmentation_to_slots(frame)
        if kind == 'depth':
            return frame.astype(np.float32)
        return frame.copy()

    def _segmentation_to_slots(self, seg: np.ndarray) -> np.ndarray:
        if not hasattr(self, '_geom_slot'):
            lut = np.full(self.model.ngeom, -1, dtype=np.int32)
            for i, name in enumerate(self.slot_names):
                key = f'{name}/'
                for g in range(self.model.ngeom):
                    if self.model.geom(g).name.startswith(key):
                        lut[g] = i
            self._geom_slot = lut
        ids, types = seg[..., 0], seg[..., 1]
        out = np.full(ids.shape, -1, dtype=np.int32)
        is_geom = (types == int(mujoco.mjtObj.mjOBJ_GEOM)) & (ids >= 0)
        out[is_geom] = self._geom_slot[ids[is_geom]]
        return out

    def close(self) -> None:
        for r in self._big_renderers.values():
            r.close()
        self._big_renderers.clear()
