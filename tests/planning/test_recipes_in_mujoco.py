"""put_back and where_did_i_leave_it end to end without ROS: MuJoCo renders the scene camera,
the real preprocessor turns frames into tracks, the real lifelong memory ingests them, the
recipe plans from memory and the scene, each step is bound late against the scene and run as
the executor's motion primitive; the critic judges each step from the scene afterwards and
the task itself scores the outcome."""

import numpy as np
import pytest

sim = pytest.importorskip('sim')
pytest.importorskip('mujoco')

from memory_nodes.execution.primitives import plan_primitive  # noqa: E402
from memory_nodes.lifelong_memory import LifelongMemory, ObjectObservation  # noqa: E402
from memory_nodes.perception.camera import (  # noqa: E402
    CameraIntrinsics,
    optical_pose_from_mujoco,
)
from memory_nodes.perception.labels import DEFAULT_CLASS_NAMES, InstanceLabeler  # noqa: E402
from memory_nodes.perception.objects import ObjectConfig  # noqa: E402
from memory_nodes.perception.pipeline import CameraFrame, Preprocessor  # noqa: E402
from memory_nodes.planning.critic import check_step  # noqa: E402
from memory_nodes.planning.grammar import parse_instruction  # noqa: E402
from memory_nodes.planning.recipes import SceneObject, plan_steps, resolve_step  # noqa: E402
from sim.arm import HOME_POSE  # noqa: E402
from tests.planning.test_recipes_put_back_and_drawers import LibraryMemory  # noqa: E402


class Front:
    """Scene camera -> preprocessor -> lifelong memory, one control step at a time, on one
    monotonic clock across episodes (as the sim bridge keeps it)."""

    def __init__(self, memory, size):
        self.memory, self.size, self.t = memory, size, 100.0
        self.pre = Preprocessor(InstanceLabeler(DEFAULT_CLASS_NAMES), ObjectConfig(min_pixels=5))
        self.scene = []

    def see(self, env, episode_id):
        w, h = self.size
        cam = env.model.camera('scene').id
        slots = env.render('scene', w, h, 'segmentation')
        classes = np.array([DEFAULT_CLASS_NAMES.index(env.objects[n].kind)
                            for n in env.slot_names])
        seg = np.where(slots >= 0, classes[np.clip(slots, 0, None)] * 1000 + slots + 1, 0)
        frame = CameraFrame(self.t, env.render('scene', w, h), env.render('scene', w, h, 'depth'),
                            seg, CameraIntrinsics.from_fovy(float(env.model.cam_fovy[cam]), w, h),
                            optical_pose_from_mujoco(env.data.cam_xpos[cam],
                                                     env.data.cam_xmat[cam]))
        tracks = self.pre.process(frame).tracks
        self.memory.ingest([ObjectObservation(
            stamp=self.t, label=k.label, position=tuple(map(float, k.position)), color=k.color,
            track_id=k.track_id, rgb=tuple(map(float, k.rgb)),
            position_covariance=tuple(map(float, np.asarray(k.covariance).ravel())),
            extent=tuple(map(float, k.extent)), visible=bool(k.visible), state=k.state)
            for k in tracks], episode_id=episode_id)
        self.scene = [SceneObject(k.track_id, k.label, k.color, tuple(k.position),
                                  tuple(k.extent), bool(k.visible), k.state) for k in tracks]

    def run(self, env, episode_id, actions):
        """Step ``env`` through ``actions`` (None: hold still until the episode ends)."""
        done = False
        for a in actions:
            self.see(env, episode_id)
            _, done, _ = env.step(a)
            self.t += 0.1
            if done:
                break
        return done

    def until_act(self, env, episode_id):
        hold = np.array([*HOME_POSE, 0.0])
        while env.phase() != 2:
            if self.run(env, episode_id, [hold]):
                return True
        self.see(env, episode_id)
        return False


def _act(front, env, episode_id, steps):
    """Run each step as the executor would; after each, the critic's verdict on the scene
    (the planner's: ``settle_s`` after the motion). -> [(step text, ok, reason)]."""
    verdicts = []
    for step in steps:
        step, _ = resolve_step(step, front.scene)
        actions = plan_primitive(step.action, step.point, env.pinch())
        done = (front.run(env, episode_id, actions)
                or front.run(env, episode_id, [actions[-1]] * 5))  # hold the last command
        front.see(env, episode_id)  # look (the scene as the episode ended, if it did)
        verdicts.append((step.text, *check_step(step, front.scene)))
        if done:
            break
    return verdicts


@pytest.mark.parametrize('distractor', ['stack', 'drawer'])
def test_put_back_in_mujoco_from_perception_and_memory(distractor):
    memory = LifelongMemory(':memory:')
    env = sim.make_env('put_back', 5001, mode='memory', image_size=16, distractor=distractor)
    try:
        env.reset()
        front = Front(memory, (128, 96))
        memory.start_episode('pb', env.instruction, front.t)
        front.until_act(env, 'pb')
        memory.flush()
        steps = plan_steps(parse_instruction(env.instruction), LibraryMemory(memory),
                           front.scene, 'pb')
        start = env.task.hidden()['start_position']
        assert steps[-1].point[:2] == pytest.approx(start[:2], abs=0.01)
        verdicts = _act(front, env, 'pb', steps)
        assert env.success(), [e for e in env.events if e['kind'] != 'pressed']
        # the critic sees each step done (the last, a place, is checked on completion)
        assert len(verdicts) == len(steps) and all(ok for _, ok, _ in verdicts), verdicts
    finally:
        env.close()
        memory.close()


def test_where_did_i_leave_it_in_mujoco_across_episodes_and_a_reopened_memory(tmp_path):
    path = str(tmp_path / 'memory.db')
    memory = LifelongMemory(path)
    seed = 5003
    front = Front(memory, (192, 144))  # closed drawers show only their knobs
    env = sim.make_env('where_did_i_leave_it', seed, mode='memory', image_size=16,
                       stage='place')
    try:
        env.reset()
        memory.start_episode('place', env.instruction, front.t)
        front.run(env, 'place', [np.array([*HOME_POSE, 0.0])] * env.max_steps)
        memory.end_episode('place', 'success', front.t)
    finally:
        env.close()
    memory.close()
    memory = LifelongMemory(path)  # as the restarted memory node
    front.memory = memory
    front.t += 1.0
    env = sim.make_env('where_did_i_leave_it', seed, mode='memory', image_size=16,
                       stage='probe')
    try:
        env.reset()
        memory.start_episode('probe', env.instruction, front.t)
        front.until_act(env, 'probe')
        memory.flush()
        steps = plan_steps(parse_instruction(env.instruction), LibraryMemory(memory),
                           front.scene, 'probe')
        assert steps[0].check == 'opened'
        ok, reason = check_step(steps[0], front.scene)  # before the pull: seen shut
        assert not ok and 'seen closed' in reason, reason
        verdicts = _act(front, env, 'probe', steps)
        assert [v[1:] for v in verdicts] == [(True, verdicts[0][2])], verdicts
        assert 'seen opened' in verdicts[0][2]
        assert env.task.opened[:1] == [env.task.drawers[env.task.drawer_index]], steps
        assert env.success()
    finally:
        env.close()
        memory.close()
