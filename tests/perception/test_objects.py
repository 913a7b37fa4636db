"""Masks + depth -> object measurements on a ray-cast scene whose true centres are known."""

import numpy as np
import pytest

from memory_nodes.perception import synthetic
from memory_nodes.perception.colors import color_name
from memory_nodes.perception.labels import InstanceLabeler, parse_instance_labels
from memory_nodes.perception.objects import ObjectConfig, measure_objects
from memory_nodes.perception.pipeline import CameraFrame, Preprocessor, SceneCloudConfig

LABELS = InstanceLabeler(instance_labels={1: 'cube', 2: 'cube', 3: 'ball', 4: 'box'})


def _measure(config, shapes=None, **render):
    intrinsics, pose = synthetic.default_camera()
    shapes = shapes or synthetic.tabletop_shapes()
    rgb, depth, seg = synthetic.render(shapes, intrinsics, pose, **render)
    found = measure_objects(rgb, depth, seg, intrinsics, pose, LABELS, config)
    return {m.instance_id: m for m in found}, {s.instance_id: s for s in shapes}


@pytest.mark.parametrize('backend', ['open3d', 'numpy'])
def test_box_centroids_within_millimetres(backend):
    found, truth = _measure(ObjectConfig(backend=backend))
    assert sorted(found) == [1, 2, 3, 4]
    for instance in (1, 2, 4):  # boxes: the bounding-box centre is the true centre
        error = np.linalg.norm(found[instance].position - truth[instance].center)
        assert error < 0.006, f'instance {instance}: {error * 1000:.1f} mm'
        assert np.allclose(found[instance].extent, truth[instance].size, atol=0.01)
    # a sphere shows less than half of itself: its estimate is biased by about 1 cm
    assert np.linalg.norm(found[3].position - truth[3].center) < 0.02


def test_surface_mean_is_biased_towards_the_camera():
    found, truth = _measure(ObjectConfig(centroid_method='mean'))
    error = found[1].position - np.asarray(truth[1].center)
    assert np.linalg.norm(error) > 0.01  # why 'bbox' is the default
    assert error[0] < 0  # the camera stands at negative x


@pytest.mark.parametrize('seed', [0, 1, 2])
def test_outlier_removal_keeps_centroids_with_noisy_depth(seed):
    # 2 mm depth noise plus 1 % of pixels with depth off by up to +-50 % (flying pixels)
    noisy = {'depth_noise_m': 0.002, 'outlier_fraction': 0.01, 'seed': seed}
    filtered, truth = _measure(ObjectConfig(), **noisy)
    unfiltered, _ = _measure(ObjectConfig(outlier_neighbors=0, bbox_trim_fraction=0.0),
                             **noisy)
    good = [np.linalg.norm(filtered[i].position - truth[i].center) for i in (1, 2, 4)]
    bad = [np.linalg.norm(unfiltered[i].position - truth[i].center) for i in (1, 2, 4)]
    assert max(good) < 0.008, good
    assert max(bad) > 0.02, bad  # the outliers do matter without the filter


def test_labels_colours_and_states():
    found, _ = _measure(ObjectConfig(lit_labels=('ball',)))
    assert [found[i].label for i in (1, 2, 3, 4)] == ['cube', 'cube', 'ball', 'box']
    assert [found[i].color for i in (1, 2, 3, 4)] == ['red', 'blue', 'green', 'yellow']
    assert found[3].lightable and not found[1].lightable
    assert found[3].brightness == pytest.approx(float(found[3].rgb.max()))
    for m in found.values():
        assert 0.5 < m.confidence <= 1.0 and m.num_points >= 5
        assert np.all(np.linalg.eigvalsh(m.covariance) > 0)


@pytest.mark.parametrize('rgb, name', [
    ((0.9, 0.1, 0.1), 'red'), ((0.3, 0.05, 0.05), 'red'), ((0.1, 0.7, 0.2), 'green'),
    ((0.1, 0.2, 0.9), 'blue'), ((0.9, 0.85, 0.1), 'yellow'), ((0.95, 0.5, 0.1), 'orange'),
    ((0.6, 0.1, 0.7), 'purple'), ((0.1, 0.8, 0.85), 'cyan'), ((0.95, 0.95, 0.95), 'white'),
    ((0.5, 0.5, 0.5), 'gray'), ((0.05, 0.05, 0.08), 'black'), ((0.9, 0.2, 0.6), 'magenta'),
])
def test_colour_names(rgb, name):
    assert color_name(rgb) == name


def test_colour_name_refuses_out_of_range():
    with pytest.raises(ValueError, match='rgb is'):
        color_name((255, 0, 0))


def test_instance_labels_by_table_and_by_id_encoding():
    labeler = InstanceLabeler(class_names=['cube', 'cup', 'ball'],
                              instance_labels=parse_instance_labels(['7:button']))
    assert labeler.classify(7).label == 'button' and labeler.classify(7).class_index == -1
    assert labeler.classify(1003).label == 'cup' and labeler.classify(1003).class_index == 1
    assert labeler.classify(5).label == 'cube'
    assert labeler.classify(9001).label == 'object'
    with pytest.raises(ValueError, match="entry 'x:cube'"):
        parse_instance_labels(['x:cube'])
    with pytest.raises(ValueError, match="entry '3'"):
        parse_instance_labels(['3'])


def test_default_class_names_match_the_simulator():
    from memory_nodes.perception import labels
    scene = pytest.importorskip('sim.scene')
    assert tuple(labels.DEFAULT_CLASS_NAMES) == tuple(scene.CLASSES)


def test_malformed_frames_raise_naming_the_field():
    intrinsics, pose = synthetic.default_camera(64, 48)
    rgb, depth, seg = synthetic.render(synthetic.tabletop_shapes(), intrinsics, pose)
    pre = Preprocessor(LABELS)
    frame = CameraFrame(1.0, rgb, depth, seg, intrinsics, pose)
    pre.process(frame)
    with pytest.raises(ValueError, match='depth is 32x48 pixels'):
        pre.process(CameraFrame(1.1, rgb, depth[:, :32], seg, intrinsics, pose))
    with pytest.raises(ValueError, match='color is float64'):
        pre.process(CameraFrame(1.1, rgb / 255.0, depth, seg, intrinsics, pose))
    with pytest.raises(ValueError, match='stamp is nan'):
        pre.process(CameraFrame(float('nan'), rgb, depth, seg, intrinsics, pose))
    bad_pose = pose.copy()
    bad_pose[0, 3] = np.inf
    with pytest.raises(ValueError, match='camera pose'):
        pre.process(CameraFrame(1.1, rgb, depth, seg, intrinsics, bad_pose))


def test_empty_scene_gives_no_objects_and_a_cloud():
    intrinsics, pose = synthetic.default_camera(64, 48)
    rgb, depth, seg = synthetic.render([], intrinsics, pose)
    result = Preprocessor(LABELS).process(CameraFrame(0.5, rgb, depth, seg, intrinsics, pose))
    assert result.measurements == [] and result.tracks == []
    assert len(result.cloud_points) > 10
    assert np.allclose(result.cloud_points[:, 2], 0.0, atol=1e-3)  # the table plane
    assert result.perceptual.shape[0] == 4 and not result.perceptual.any()


def test_scene_cloud_config_names_a_bad_value():
    with pytest.raises(ValueError, match='scene_voxel_size_m is 0'):
        SceneCloudConfig(voxel_size_m=0)
    with pytest.raises(ValueError, match=r'scene depth range \[2.0, 1.0\]'):
        SceneCloudConfig(min_depth_m=2.0, max_depth_m=1.0)
    assert SceneCloudConfig().stride(96, 128) == 2
