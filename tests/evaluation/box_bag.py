"""A rosbag2 of standard messages only, written with rosbags, for replay tests: a red box on
a gray table seen from straight above, under topic names of its own (MAPPING maps them onto
the graph's). Shared by the replay tests and the clock-fault tests."""

import numpy as np

W, H, F = 80, 60, 80.0  # image size and focal length (px)
CAMERA_Z = 1.0          # camera 1 m above the table, looking straight down
BOX_HALF, BOX_TOP = 0.04, 0.05
TOPICS = {'/cam/rgb': 'sensor_msgs/msg/Image', '/cam/depth': 'sensor_msgs/msg/Image',
          '/cam/instances': 'sensor_msgs/msg/Image',
          '/cam/info': 'sensor_msgs/msg/CameraInfo',
          '/robot/joints': 'sensor_msgs/msg/JointState'}
MAPPING = {'/cam/rgb': '/camera/scene/color/image_raw',
           '/cam/depth': '/camera/scene/depth/image_raw',
           '/cam/instances': '/camera/scene/segmentation/image_raw',
           '/cam/info': '/camera/scene/camera_info', '/robot/joints': '/joint_states'}


def box_frame(centre_xy):
    """rgb8, 32FC1 depth (m) and 16UC1 instance ids of a red box on a gray table, seen from
    above by a camera at (0, 0, CAMERA_Z) with optical z pointing down (world x = image u,
    world y = -image v)."""
    u, v = np.meshgrid(np.arange(W), np.arange(H))
    cx, cy = (W - 1) / 2, (H - 1) / 2
    z_top = CAMERA_Z - BOX_TOP
    top_x, top_y = (u - cx) * z_top / F, -(v - cy) * z_top / F
    on_box = (np.abs(top_x - centre_xy[0]) <= BOX_HALF) & (np.abs(top_y - centre_xy[1])
                                                          <= BOX_HALF)
    depth = np.where(on_box, z_top, CAMERA_Z).astype(np.float32)
    rgb = np.full((H, W, 3), 120, np.uint8)
    rgb[on_box] = (220, 30, 30)
    seg = np.where(on_box, 2 * 1000 + 1, 0).astype(np.uint16)  # class 2 (cube), instance 1
    return rgb, depth, seg


def write_box_bag(path, frames):
    """frames: [(log time s, header stamp s, (x, y) of the box)] -> a sqlite3 rosbag2 with
    colour, depth, instances, camera info and joint states per frame."""
    from rosbags.rosbag2 import StoragePlugin, Writer
    from rosbags.typesys import Stores, get_typestore
    ts = get_typestore(Stores.ROS2_HUMBLE)
    T = ts.types  # noqa: N806
    cx, cy = (W - 1) / 2, (H - 1) / 2
    with Writer(path, version=8, storage_plugin=StoragePlugin.SQLITE3) as writer:
        conns = {t: writer.add_connection(t, m, typestore=ts) for t, m in TOPICS.items()}
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
            info = T['sensor_msgs/msg/CameraInfo'](
                header=header, height=H, width=W, distortion_model='plumb_bob',
                d=np.zeros(5), k=np.array([F, 0, cx, 0, F, cy, 0, 0, 1.0]),
                r=np.eye(3).reshape(-1), p=np.array([F, 0, cx, 0, 0, F, cy, 0, 0, 0, 1, 0.0]),
                binning_x=0, binning_y=0,
                roi=T['sensor_msgs/msg/RegionOfInterest'](x_offset=0, y_offset=0, height=0,
                                                          width=0, do_rectify=False))
            writer.write(conns['/cam/info'], ns, ts.serialize_cdr(info, info.__msgtype__))
            joints = T['sensor_msgs/msg/JointState'](
                header=header, name=['j1', 'j2'], position=np.array([0.1, 0.2]),
                velocity=np.zeros(2), effort=np.zeros(2))
            writer.write(conns['/robot/joints'], ns,
                         ts.serialize_cdr(joints, joints.__msgtype__))
