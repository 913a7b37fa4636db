"""Replayed bags whose clock misbehaves: a forward jump of two hours, header stamps that go
backwards. Bags are written here with rosbags (standard messages, sqlite3 storage) and go
through the real replay path (ReplayGraph: composed preprocessor + memory nodes, /clock
from the bag, questions over /memory/query).

Defined behaviour (docs/faults.md): the replay publishes in log-time order, counts the jumps
in its report and, at a real-time rate, does not sit out a forward jump; the memory node
rejects (and counts) observations stamped before what it already has, so its time-ordered
answers stay consistent.
"""

import numpy as np
import pytest

rclpy = pytest.importorskip('rclpy')
pytestmark = pytest.mark.ros

from memory_interfaces.srv import QueryMemory  # noqa: E402
from memory_nodes.evaluation.replay import ReplayConfig, ReplayGraph  # noqa: E402

W, H, F = 80, 60, 80.0
CAMERA_Z, BOX_HALF, BOX_TOP = 1.0, 0.04, 0.05
FIRST, SECOND = (0.10, 0.05), (-0.08, -0.06)
MAPPING = {'/cam/rgb': '/camera/scene/color/image_raw',
           '/cam/depth': '/camera/scene/depth/image_raw',
           '/cam/instances': '/camera/scene/segmentation/image_raw',
           '/cam/info': '/camera/scene/camera_info', '/robot/joints': '/joint_states'}


def box_frame(xy):
    u, v = np.meshgrid(np.arange(W), np.arange(H))
    z_top = CAMERA_Z - BOX_TOP
    top_x, top_y = (u - (W - 1) / 2) * z_top / F, -(v - (H - 1) / 2) * z_top / F
    on_box = (np.abs(top_x - xy[0]) <= BOX_HALF) & (np.abs(top_y - xy[1]) <= BOX_HALF)
    depth = np.where(on_box, z_top, CAMERA_Z).astype(np.float32)
    rgb = np.full((H, W, 3), 120, np.uint8)
    rgb[on_box] = (220, 30, 30)
    seg = np.where(on_box, 2 * 1000 + 1, 0).astype(np.uint16)
    return rgb, depth, seg


def write_bag(path, frames):
    """frames: [(log time s, header stamp s, (x, y) of the red box)]."""
    from rosbags.rosbag2 import StoragePlugin, Writer
    from rosbags.typesys import Stores, get_typestore
    ts = get_typestore(Stores.ROS2_HUMBLE)
    T = ts.types  # noqa: N806
    topics = {'/cam/rgb': 'sensor_msgs/msg/Image', '/cam/depth': 'sensor_msgs/msg/Image',
              '/cam/instances': 'sensor_msgs/msg/Image',
              '/cam/info': 'sensor_msgs/msg/CameraInfo',
              '/robot/joints': 'sensor_msgs/msg/JointState'}
    with Writer(path, version=8, storage_plugin=StoragePlugin.SQLITE3) as writer:
        conns = {t: writer.add_connection(t, m, typestore=ts) for t, m in topics.items()}
        for log_s, stamp_s, xy in frames:
            ns = int(round(log_s * 1e9))
            sns = int(round(stamp_s * 1e9))
            stamp = T['builtin_interfaces/msg/Time'](sec=sns // 1_000_000_000,
                                                     nanosec=sns % 1_000_000_000)
            header = T['std_msgs/msg/Header'](stamp=stamp, frame_id='cam_optical')
            for topic, array, enc, bpp in zip(('/cam/rgb', '/cam/depth', '/cam/instances'),
                                              box_frame(xy), ('rgb8', '32FC1', '16UC1'),
                                              (3, 4, 2)):
                msg = T['sensor_msgs/msg/Image'](
                    header=header, height=H, width=W, encoding=enc, is_bigendian=0,
                    step=W * bpp, data=np.frombuffer(array.tobytes(), np.uint8))
                writer.write(conns[topic], ns, ts.serialize_cdr(msg, msg.__msgtype__))
            cx, cy = (W - 1) / 2, (H - 1) / 2
            info = T['sensor_msgs/msg/CameraInfo'](
                header=header, height=H, width=W, distortion_model='plumb_bob',
                d=np.zeros(5), k=np.array([F, 0, cx, 0, F, cy, 0, 0, 1.0]),
                r=np.eye(3).reshape(-1), p=np.array([F, 0, cx, 0, 0, F, cy, 0, 0, 0, 1, 0.0]),
                binning_x=0, binning_y=0,
                roi=T['sensor_msgs/msg/RegionOfInterest'](x_offset=0, y_offset=0, height=0,
                                                          width=0, do_rectify=False))
            writer.write(conns['/cam/info'], ns, ts.serialize_cdr(info, info.__msgtype__))
            joints = T['sensor_msgs/msg/JointState'](
                header=header, name=['j1'], position=np.array([0.1]), velocity=np.zeros(1),
                effort=np.zeros(1))
            writer.write(conns['/robot/joints'], ns,
                         ts.serialize_cdr(joints, joints.__msgtype__))


def replay(tmp_path, frames, rate):
    write_bag(tmp_path / 'bag', frames)
    config = ReplayConfig(
        bag=tmp_path / 'bag', memory_path=tmp_path / 'memory.db', topic_map=MAPPING,
        rate=rate, preprocessor_params={'camera_pose': [0.0, 0.0, CAMERA_Z, 1.0, 0.0, 0.0, 0.0],
                                        'camera_pose_topic': ''})
    graph = ReplayGraph(config).start()
    try:
        stats = graph.play()
        events = graph.query(QueryMemory.Request.KIND_WHAT_HAPPENED, '', k=100)
        where = graph.query(QueryMemory.Request.KIND_WHERE, 'red cube', k=5)
    finally:
        graph.stop()
    assert events.success and where.success
    return stats, events, where


def stamp_s(t):
    return t.sec + t.nanosec * 1e-9


def test_a_two_hour_forward_jump_is_counted_not_waited_for(tmp_path):
    t0, jump = 100.0, 7200.0
    frames = [(t0 + 0.1 * i, t0 + 0.1 * i, FIRST) for i in range(12)]
    frames += [(t0 + jump + 0.1 * i, t0 + jump + 0.1 * i, SECOND) for i in range(12)]
    stats, events, where = replay(tmp_path, frames, rate=1.0)
    assert stats.clock['log_time_jumps'] == 1
    assert stats.clock['stamp_jumps_forward'] == len(MAPPING)  # once per topic
    assert stats.clock['stamps_backwards'] == 0
    assert stats.wall_s < 60, 'the replay sat out the jump'
    assert stats.clock['skipped_wall_s'] > jump - 60
    # the memory tells the move at the time the bag says
    moved = [e for e in events.results if e.kind == 'moved' and e.subject == 'red cube']
    assert moved and t0 + jump - 1 <= stamp_s(moved[0].stamp) <= t0 + jump + 2
    assert where.results[0].position.x == pytest.approx(SECOND[0], abs=0.01)


def test_backward_stamps_are_counted_and_rejected_by_the_memory(tmp_path):
    """Frames 12-17 carry stamps 50 s in the past (the recording clock jumped back) and
    show the box somewhere else: the memory must not rewrite history with them."""
    t0 = 100.0
    frames = []
    for i in range(30):
        log = t0 + 0.1 * i
        back = 12 <= i < 18
        frames.append((log, log - 50.0 if back else log, SECOND if back else FIRST))
    stats, events, where = replay(tmp_path, frames, rate=0.0)
    assert stats.clock['stamps_backwards'] == 6 * len(MAPPING)  # 6 frames, every topic
    assert stats.clock['log_time_jumps'] == 0
    assert stats.inputs_rejected['memory'].get('observations', 0) >= 1, stats.inputs_rejected
    stamps = [stamp_s(e.stamp) for e in events.results]
    assert stamps == sorted(stamps)
    assert min(stamps) >= t0 - 0.5, 'an event from the backward stamps got into memory'
    assert not [e for e in events.results if e.kind == 'moved'], \
        [(e.kind, stamp_s(e.stamp)) for e in events.results]
    assert where.results[0].position.x == pytest.approx(FIRST[0], abs=0.01)
