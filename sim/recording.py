"""Recording scripted-expert (or any policy's) episodes as training data and as rosbag2.

`record_episode` runs one episode and returns the contract's EpisodeData plus ground truth
(where each object was at every step, the event log with times, templated questions with
answers). `write_bag` writes the sensor topics of an episode as a rosbag2 MCAP file with the
`rosbags` library (no ROS needed): colour, depth and instance segmentation images (ids as
in sim.instance_ids), CameraInfo and the optical frame's pose (PoseStamped in `world`) for
both cameras, JointState, the instruction and /clock: the same topics and conventions as the
sim bridge, so a bag replays into the preprocessor with its defaults. Ground truth goes
beside the bag as JSON.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from memory_nodes.file_safety import private_dir, restrict_tree, write_private_text
from sim import instance_ids
from sim.arm import ARM_JOINTS, FINGER_JOINTS
from sim.camera_model import camera_matrices, optical_pose
from sim.dataset import EpisodeData, episode_filename, save_episode, write_meta
from sim.env import CONTROL_DT

CAMERAS = ('scene', 'wrist')
# Topic names follow the preprocessor's defaults (memory_nodes/preprocessor_node.py).
BAG_TOPICS = tuple(
    f'/camera/{cam}/{kind}' for cam in CAMERAS
    for kind in ('color/image_raw', 'depth/image_raw', 'segmentation/image_raw', 'camera_info',
                 'pose')
) + ('/joint_states', '/instruction', '/clock')


def record_episode(env, policy) -> tuple[EpisodeData, dict]:
    """Run one episode; return (EpisodeData, ground truth dict)."""
    obs, info, done = env.reset(), None, False
    steps = {k: [] for k in ('rgb', 'wrist_rgb', 'proprio', 'objects', 'phase', 'action',
                             'gt_positions')}
    while not done:
        act = np.asarray(policy(obs, info), dtype=np.float32)
        for key in ('rgb', 'wrist_rgb', 'proprio', 'objects', 'phase'):
            steps[key].append(obs[key])
        steps['action'].append(act)
        steps['gt_positions'].append(env.gt_positions())
        obs, done, info = env.step(act)
    ep = EpisodeData(
        task=env.task.name, seed=env.task.seed, mode=env.mode, instruction=env.instruction,
        success=env.success(), rgb=np.stack(steps['rgb']), wrist_rgb=np.stack(steps['wrist_rgb']),
        proprio=np.stack(steps['proprio']).astype(np.float32),
        objects=np.stack(steps['objects']).astype(np.float32),
        object_names=list(env.slot_names), action=np.stack(steps['action']),
        phase=np.array(steps['phase'], dtype=np.int8),
        gt_positions=np.stack(steps['gt_positions']).astype(np.float32),
        hidden=env.task.hidden(), dt=CONTROL_DT)
    return ep, ground_truth(env, ep)


def ground_truth(env, ep: EpisodeData) -> dict:
    """Privileged record for later evaluation: positions, events, questions and answers."""
    return {
        'task': ep.task, 'seed': ep.seed, 'mode': ep.mode, 'instruction': ep.instruction,
        'success': ep.success, 'hidden': ep.hidden, 'dt': ep.dt,
        'phase_starts_s': {'cue': 0.0, 'delay': env.task.cue_steps * CONTROL_DT,
                           'act': (env.task.cue_steps + env.task.delay_steps) * CONTROL_DT},
        'events': env.events,
        'questions': env.task.questions(env),
        'object_names': ep.object_names,
        'positions': {name: ep.gt_positions[:, i].round(4).tolist()
                      for i, name in enumerate(ep.object_names)},
    }


def record_dataset(root, tasks, episodes: int, modes=('memory',), policy_factory=None,
                   image_size: int = 64, first_seed: int = 0, knobs: dict | None = None,
                   progress=None) -> list[Path]:
    """Record `<root>/<task>/ep_<seed>_<mode>.npz` (+ ground truth JSON) and meta.json."""
    import sim
    from sim.experts import make_expert
    factory = policy_factory or make_expert
    written, successes = [], {}
    for task in tasks:
        for mode in modes:
            for seed in range(first_seed, first_seed + episodes):
                env = sim.make_env(task, seed, mode, image_size=image_size, **dict(knobs or {}))
                ep, truth = record_episode(env, factory(env))
                env.close()
                path = Path(root) / task / episode_filename(seed, mode)
                save_episode(path, ep)
                write_private_text(path.with_suffix('.truth.json'), json.dumps(truth))
                successes.setdefault(f'{task}/{mode}', []).append(ep.success)
                written.append(path)
                if progress:
                    progress(path, ep)
    write_meta(root, {'tasks': list(tasks), 'modes': list(modes), 'image_size': image_size,
                      'episodes_per_task_mode': episodes, 'first_seed': first_seed,
                      'knobs': knobs or {},
                      'success_rate': {k: sum(v) / len(v) for k, v in successes.items()}})
    return written


# ------------------------------------------------------------------------- rosbag2 (MCAP)
class BagRecorder:
    """Steps an env with a policy and writes every step's sensors into an MCAP rosbag2."""

    def __init__(self, path, image_size: int = 64):
        from rosbags.rosbag2 import StoragePlugin, Writer
        from rosbags.typesys import Stores, get_typestore
        self.ts = get_typestore(Stores.ROS2_KILTED)
        self.path = Path(path)
        if self.path.exists():
            raise ValueError(f'bag path {self.path} exists; choose a new folder')
        self.size = int(image_size)  # width = height of the bag's images
        private_dir(self.path.parent)
        self.writer = Writer(self.path, version=9, storage_plugin=StoragePlugin.MCAP)
        self.writer.open()
        restrict_tree(self.path)   # owner-only while it is written, again on close
        self.conns = {}
        types = {'color': 'sensor_msgs/msg/Image', 'depth': 'sensor_msgs/msg/Image',
                 'segmentation': 'sensor_msgs/msg/Image',
                 'camera_info': 'sensor_msgs/msg/CameraInfo',
                 'pose': 'geometry_msgs/msg/PoseStamped'}
        for topic in BAG_TOPICS:
            kind = topic.split('/')[3] if topic.startswith('/camera/') else topic
            msgtype = types.get(kind) or {
                '/joint_states': 'sensor_msgs/msg/JointState',
                '/instruction': 'std_msgs/msg/String',
                '/clock': 'rosgraph_msgs/msg/Clock'}[topic]
            self.conns[topic] = self.writer.add_connection(topic, msgtype, typestore=self.ts)
        self.counts = {t: 0 for t in BAG_TOPICS}

    def _stamp(self, t: float):
        sec = int(t)
        return self.ts.types['builtin_interfaces/msg/Time'](sec=sec,
                                                            nanosec=int(round((t - sec) * 1e9)))

    def _header(self, t: float, frame: str):
        return self.ts.types['std_msgs/msg/Header'](stamp=self._stamp(t), frame_id=frame)

    def _write(self, topic: str, msg, t: float):
        data = self.ts.serialize_cdr(msg, msg.__msgtype__)
        self.writer.write(self.conns[topic], int(round(t * 1e9)), data)
        self.counts[topic] += 1

    def _image(self, t, frame, array, encoding, bytes_per_px):
        h, w = array.shape[:2]
        return self.ts.types['sensor_msgs/msg/Image'](
            header=self._header(t, frame), height=h, width=w, encoding=encoding,
            is_bigendian=0, step=w * bytes_per_px,
            data=np.frombuffer(np.ascontiguousarray(array).tobytes(), dtype=np.uint8))

    def write_step(self, env, t: float, first: bool = False) -> None:
        s = self.size
        T = self.ts.types  # noqa: N806 - typestore classes
        if first:
            self._write('/instruction', T['std_msgs/msg/String'](data=env.instruction), t)
        self._write('/clock', T['rosgraph_msgs/msg/Clock'](clock=self._stamp(t)), t)
        for cam in CAMERAS:
            frame = f'{cam}_camera_optical_frame'
            rgb = env.render(cam, s, s, 'rgb')
            depth = env.render(cam, s, s, 'depth').astype(np.float32)
            seg = instance_ids.encode(env.render(cam, s, s, 'segmentation'),
                                      instance_ids.slot_ids(env))
            base = f'/camera/{cam}'
            self._write(f'{base}/color/image_raw', self._image(t, frame, rgb, 'rgb8', 3), t)
            self._write(f'{base}/depth/image_raw', self._image(t, frame, depth, '32FC1', 4), t)
            self._write(f'{base}/segmentation/image_raw',
                        self._image(t, frame, seg, '32SC1', 4), t)
            k, p = camera_matrices(env.model, cam, s, s)
            info = T['sensor_msgs/msg/CameraInfo'](
                header=self._header(t, frame), height=s, width=s, distortion_model='plumb_bob',
                d=np.zeros(5), k=k.reshape(-1), r=np.eye(3).reshape(-1), p=p.reshape(-1),
                binning_x=0, binning_y=0,
                roi=T['sensor_msgs/msg/RegionOfInterest'](x_offset=0, y_offset=0, height=0,
                                                          width=0, do_rectify=False))
            self._write(f'{base}/camera_info', info, t)
            pos, quat = optical_pose(env.model, env.data, cam)
            pose = T['geometry_msgs/msg/PoseStamped'](
                header=self._header(t, 'world'),
                pose=T['geometry_msgs/msg/Pose'](
                    position=T['geometry_msgs/msg/Point'](x=pos[0], y=pos[1], z=pos[2]),
                    orientation=T['geometry_msgs/msg/Quaternion'](x=quat[0], y=quat[1],
                                                                  z=quat[2], w=quat[3])))
            self._write(f'{base}/pose', pose, t)
        q = env.data.qpos
        names = list(ARM_JOINTS) + list(FINGER_JOINTS)
        adr = [env.model.joint(n).qposadr[0] for n in names]
        dadr = [env.model.joint(n).dofadr[0] for n in names]
        js = T['sensor_msgs/msg/JointState'](
            header=self._header(t, 'base'), name=names,
            position=np.array(q[adr], dtype=np.float64),
            velocity=np.array(env.data.qvel[dadr], dtype=np.float64),
            effort=np.array(env.data.actuator_force[:len(names)], dtype=np.float64))
        self._write('/joint_states', js, t)

    def close(self) -> None:
        self.writer.close()
        restrict_tree(self.path)


def write_bag(env, policy, path, image_size: int = 64) -> dict:
    """Run one episode and write its sensor topics to an MCAP bag at `path` (a new folder);
    ground truth goes to `<path>/ground_truth.json`. Returns the ground truth with counts."""
    rec = BagRecorder(path, image_size)
    try:
        obs, info, done = env.reset(), None, False
        rec.write_step(env, 0.0, first=True)
        steps = {'action': [], 'gt': []}
        while not done:
            act = policy(obs, info)
            steps['gt'].append(env.gt_positions())
            obs, done, info = env.step(act)
            rec.write_step(env, env.step_count * CONTROL_DT)
    finally:
        rec.close()
    gt = np.stack(steps['gt'])  # (T, K, 3)
    truth = {
        'task': env.task.name, 'seed': env.task.seed, 'mode': env.mode,
        'instruction': env.instruction, 'success': env.success(), 'hidden': env.task.hidden(),
        'phase_starts_s': {'cue': 0.0, 'delay': env.task.cue_steps * CONTROL_DT,
                           'act': (env.task.cue_steps + env.task.delay_steps) * CONTROL_DT},
        'events': env.events, 'questions': env.task.questions(env),
        'object_names': list(env.slot_names),
        'positions': {n: gt[:, i].round(4).tolist() for i, n in enumerate(env.slot_names)},
        'topic_counts': rec.counts,
        'segmentation_ids': {str(i): n for i, n in instance_ids.id_table(env).items()},
    }
    write_private_text(Path(path, 'ground_truth.json'), json.dumps(truth, indent=1))
    return truth
