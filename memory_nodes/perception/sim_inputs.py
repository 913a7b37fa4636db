"""The simulator's observations as the ROS graph's perception makes them, in one process.

What it is for: the policy is trained on the simulator's object features; in the ROS graph
the action-expert node builds them from the preprocessor's tracks. `PerceptionInputsEnv`
wraps a sim env so that a closed-loop evaluation (``memory-eval --inputs perception``) sees
what the node sees, without DDS and without real-time scheduling: each step it renders the
scene camera at the size the main job has the sim bridge publish for that task (colour,
depth, instance ids as sim/instance_ids.py encodes them), runs the preprocessor's pipeline
on it with the main job's settings (pipeline.Preprocessor: objects, tracking), maps the
tracks to slots with the node's SlotTable (slots.py), and gives the policy the camera image
centre-cropped and resized as the node does (images.square_resize). The graph's timing
difference (objects one step old) is models.evaluate.GraphInputsEnv's, stacked on top.
"""

import numpy as np

from memory_nodes.perception.camera import CameraIntrinsics, optical_pose_from_mujoco
from memory_nodes.perception.images import square_resize
from memory_nodes.perception.labels import DEFAULT_CLASS_NAMES, InstanceLabeler
from memory_nodes.perception.objects import ObjectConfig
from memory_nodes.perception.pipeline import CameraFrame, Preprocessor
from memory_nodes.perception.slots import SlotTable

BRIDGE_IMAGE_SIZE = (128, 96)  # the sim bridge's default width x height
# where did I leave it: closed drawers show only their knobs, 8-10 px at 192x144 (4-5 at
# 128x96), 18-21 at 256x192
TASK_IMAGE_SIZE = {'where_did_i_leave_it': (192, 144)}
# the main job's preprocessor keeps instances of this many pixels (the default of 12 would
# drop the shell game's ball, 8 px at 128x96, and closed drawers' knobs at 192x144)
MAIN_JOB_MIN_OBJECT_PIXELS = 5
CONTROL_DT = 0.1  # s per control step (sim.env.CONTROL_DT)


def bridge_image_size(task):
    """(width, height) the main job has the sim bridge publish for a task."""
    return TASK_IMAGE_SIZE.get(task, BRIDGE_IMAGE_SIZE)


def camera_frame(env, stamp, width, height):
    """The scene camera as the sim bridge publishes it -> the preprocessor's CameraFrame."""
    from sim import instance_ids

    camera = env.model.camera('scene').id
    ids = instance_ids.encode(env.render('scene', width, height, 'segmentation'),
                              instance_ids.slot_ids(env))
    intrinsics = CameraIntrinsics.from_fovy(float(env.model.cam_fovy[camera]), width, height)
    pose = optical_pose_from_mujoco(env.data.cam_xpos[camera], env.data.cam_xmat[camera])
    return CameraFrame(stamp, env.render('scene', width, height),
                       env.render('scene', width, height, 'depth'), ids, intrinsics, pose)


class _Vec:
    __slots__ = ('x', 'y', 'z')

    def __init__(self, v):
        self.x, self.y, self.z = float(v[0]), float(v[1]), float(v[2])


class ObservationView:
    """A Track with the fields of the ObjectObservation the preprocessor node publishes."""

    def __init__(self, track):
        self.track_id, self.label, self.color = track.track_id, track.label, track.color
        self.visible, self.state = bool(track.visible), track.state
        self.rgb = [float(v) for v in track.rgb]
        self.position, self.extent = _Vec(track.position), _Vec(track.extent)


class _Message:
    def __init__(self, tracks):
        self.objects = [ObservationView(t) for t in tracks]


class PerceptionInputsEnv:
    """A sim env whose 'objects' (and colour image) come through the preprocessor's pipeline
    and the action-expert node's slot table (see the module docstring)."""

    def __init__(self, env, object_slots, size=None, classes=DEFAULT_CLASS_NAMES):
        self.env = env
        self.width, self.height = size or bridge_image_size(env.task.name)
        self.classes = list(classes)
        self.object_slots = int(object_slots)
        self.preprocessor = None
        self.slots = SlotTable(self.object_slots, self.classes)
        self.steps = 0

    def __getattr__(self, name):
        return getattr(self.env, name)

    def _perceived(self, obs):
        frame = camera_frame(self.env, self.steps * CONTROL_DT, self.width, self.height)
        result = self.preprocessor.process(frame, with_cloud=False)
        objects = self.slots.features(_Message(result.tracks))
        out = dict(obs, objects=objects)
        image = obs.get('rgb')
        if image is not None and image.size:
            out['rgb'] = square_resize(frame.rgb, image.shape[0])
        return out

    def _slot_objects(self):
        """slot -> index of the simulator's object its track has last measured."""
        from sim import instance_ids

        index = {int(i): k for k, i in enumerate(instance_ids.slot_ids(self.env))}
        tracks = self.preprocessor.tracker.tracks if self.preprocessor else {}
        out = {}
        for track_id, slot in self.slots.slot_of.items():
            track = tracks.get(track_id)
            if track is not None and int(track.instance_id) in index:
                out[slot] = index[int(track.instance_id)]
        return out

    @property
    def slot_names(self):
        """Per slot, the simulator's name of the object in it ('slot<k>' when none)."""
        objects = self._slot_objects()
        return [self.env.slot_names[objects[k]] if k in objects else f'slot{k}'
                for k in range(self.object_slots)]

    def gt_positions(self):
        """(slots, 3) true positions of the objects in the slots (zeros when none)."""
        truth = self.env.gt_positions()
        out = np.zeros((self.object_slots, 3), np.float32)
        for slot, k in self._slot_objects().items():
            out[slot] = truth[k]
        return out

    def reset(self):
        obs = self.env.reset()
        self.preprocessor = Preprocessor(InstanceLabeler(self.classes), ObjectConfig(
            min_pixels=MAIN_JOB_MIN_OBJECT_PIXELS))
        self.slots.reset()
        self.steps = 0
        return self._perceived(obs)

    def step(self, action):
        obs, done, info = self.env.step(action)
        self.steps += 1
        return self._perceived(obs), done, info
