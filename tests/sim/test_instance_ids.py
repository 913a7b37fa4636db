"""Published segmentation ids are what the preprocessor expects with its default parameters.

The bridge and the bag recorder encode id = class index * 1000 + slot + 1 (0 = background);
the preprocessor's defaults (class_names = the simulator's classes, instance_id_divisor 1000,
segmentation_id_offset 0) must then label every object of every task by its kind.
"""

import numpy as np
import pytest

import sim
from sim import instance_ids
from sim.camera_model import camera_matrices, optical_pose
from sim.scene import CLASSES

labels = pytest.importorskip('memory_nodes.perception.labels')
pipeline = pytest.importorskip('memory_nodes.perception.pipeline')
camera = pytest.importorskip('memory_nodes.perception.camera')


def test_default_class_names_are_the_simulator_classes():
    assert tuple(labels.DEFAULT_CLASS_NAMES) == tuple(CLASSES)


@pytest.mark.parametrize('task', sorted(sim.TASKS))
def test_every_slot_id_is_labelled_by_its_kind_with_default_parameters(task):
    env = sim.make_env(task, 0, 'oracle', render=False)
    ids = instance_ids.slot_ids(env)
    assert len(set(ids.tolist())) == len(ids) and ids.min() > 0
    labeler = labels.InstanceLabeler(labels.DEFAULT_CLASS_NAMES)  # the node's defaults
    for slot, (name, instance_id) in enumerate(zip(env.slot_names, ids)):
        assert labeler.classify(instance_id).label == env.objects[name].kind, name
        assert instance_id % instance_ids.ID_DIVISOR - 1 == slot
    assert instance_ids.id_table(env) == {int(i): n for i, n in zip(ids, env.slot_names)}


def test_encode_keeps_background_zero_and_maps_slots():
    slots = np.array([[-1, 0], [2, 1]])
    ids = np.array([5, 1006, 3007], np.int32)
    np.testing.assert_array_equal(instance_ids.encode(slots, ids), [[0, 5], [3007, 1006]])


@pytest.mark.parametrize('task,steps', [('shell_game', 0), ('button_sequence', 0),
                                        ('where_did_i_leave_it', 0)])
def test_preprocessor_with_defaults_labels_a_published_frame(task, steps):
    """A frame as the bridge publishes it (colour, depth, encoded ids, K from P, optical
    pose) through the real preprocessor with default labelling: every measured object has
    its kind as label and lies near its true position."""
    env = sim.make_env(task, 1, render=False)
    env.reset()
    width, height = 160, 120
    k, p = camera_matrices(env.model, 'scene', width, height)
    pos, quat = optical_pose(env.model, env.data, 'scene')
    frame = pipeline.CameraFrame(
        0.0, env.render('scene', width, height),
        env.render('scene', width, height, 'depth'),
        instance_ids.encode(env.render('scene', width, height, 'segmentation'),
                            instance_ids.slot_ids(env)),
        camera.CameraIntrinsics.from_k(k.reshape(-1), width, height),
        camera.pose_matrix(pos, quat))
    pre = pipeline.Preprocessor(labels.InstanceLabeler(labels.DEFAULT_CLASS_NAMES))
    measured = pre.process(frame).measurements
    assert len(measured) >= 2  # drawers show only their knobs (8 px) from the scene camera
    for m in measured:
        name = env.slot_names[m.instance_id % instance_ids.ID_DIVISOR - 1]
        assert m.label == env.objects[name].kind, (m.instance_id, name, m.label)
        # Visible-surface centroids sit within a few cm of the body origin (its base).
        assert np.linalg.norm(m.position[:2] - env.obj_pos(name)[:2]) < 0.05, name
