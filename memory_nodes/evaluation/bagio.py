"""Reading and writing rosbag2 files with rosbags, and mapping bag topics onto the graph.

Reading goes through ``rosbags.highlevel.AnyReader``, which opens rosbag2 folders (or a
single ``.mcap`` / ``.db3`` file) of either storage plugin and deserializes with the type
definitions the bag carries (MCAP) or the default ROS 2 typestore. Messages are
re-serialized with the local ROS 2 typestore (``target_typestore``, Kilted plus this
repository's ``memory_interfaces`` types, registered from their ``.msg`` files the first
time a bag carries one), so a bag written by another distribution or tool publishes as
this graph's messages.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

STORAGES = ('mcap', 'sqlite3')
INTERFACES_DIR = Path(__file__).resolve().parents[2] / 'memory_interfaces'


class BagError(ValueError):
    """A bag that cannot be used as asked: the message names the path, topic or value."""


def parse_topic_map(entries) -> dict[str, str]:
    """['/bag/topic:=/graph/topic', ...] -> {bag topic: graph topic}."""
    mapping = {}
    for entry in entries or ():
        if ':=' not in entry:
            raise BagError(f'topic mapping {entry!r} is not BAG_TOPIC:=GRAPH_TOPIC')
        src, dst = (part.strip() for part in entry.split(':=', 1))
        if not src.startswith('/') or not dst.startswith('/'):
            raise BagError(f'topic mapping {entry!r}: both topics must start with /')
        if src in mapping:
            raise BagError(f'topic mapping {entry!r}: {src} is mapped twice')
        mapping[src] = dst
    return mapping


def _bag_paths(path) -> list[Path]:
    path = Path(path)
    if not path.exists():
        raise BagError(f'bag {str(path)!r} does not exist')
    if path.is_file() and path.suffix not in ('.mcap', '.db3'):
        raise BagError(f'bag {str(path)!r} is a file but neither .mcap nor .db3')
    if path.is_dir() and not (path / 'metadata.yaml').exists():
        raise BagError(f'bag folder {str(path)!r} has no metadata.yaml (not a rosbag2 bag)')
    return [path]


def open_reader(path):
    """An opened AnyReader over one rosbag2 bag; BagError names a bad path."""
    from rosbags.highlevel import AnyReader
    reader = AnyReader(_bag_paths(path))
    try:
        reader.open()
    except Exception as error:  # rosbags raises its own error types per storage
        raise BagError(f'bag {str(path)!r} cannot be read: {error}') from error
    return reader


@dataclass
class BagTopic:
    topic: str
    msgtype: str
    count: int


def bag_topics(reader) -> dict[str, BagTopic]:
    """{topic: BagTopic} of an opened reader (connections of one topic summed)."""
    out: dict[str, BagTopic] = {}
    for conn in reader.connections:
        if conn.topic in out:
            if out[conn.topic].msgtype != conn.msgtype:
                raise BagError(f'topic {conn.topic} has two types in the bag: '
                               f'{out[conn.topic].msgtype} and {conn.msgtype}')
            out[conn.topic].count += conn.msgcount
        else:
            out[conn.topic] = BagTopic(conn.topic, conn.msgtype, conn.msgcount)
    return out


_TARGET = None


def target_typestore():
    """The ROS 2 (Kilted) typestore, with memory_interfaces registered when asked for."""
    global _TARGET
    if _TARGET is None:
        from rosbags.typesys import Stores, get_typestore
        _TARGET = get_typestore(Stores.ROS2_KILTED)
    return _TARGET


def ensure_type(msgtype: str):
    """Make ``msgtype`` known to the target typestore (memory_interfaces from its .msg
    files); BagError when it is neither standard nor ours."""
    store = target_typestore()
    if msgtype in store.types:
        return store
    if msgtype.startswith('memory_interfaces/msg/'):
        from rosbags.typesys import get_types_from_msg
        types = {}
        for path in sorted((INTERFACES_DIR / 'msg').glob('*.msg')):
            types.update(get_types_from_msg(path.read_text(),
                                            f'memory_interfaces/msg/{path.stem}'))
        store.register(types)
        if msgtype in store.types:
            return store
    raise BagError(f'message type {msgtype} is not a standard ROS 2 type nor one of '
                   'memory_interfaces; leave its topic out of the replay')


def rclpy_class(msgtype: str):
    """'sensor_msgs/msg/Image' -> the rclpy message class."""
    import importlib
    package, kind, name = msgtype.split('/')
    try:
        return getattr(importlib.import_module(f'{package}.{kind}'), name)
    except (ImportError, AttributeError) as error:
        raise BagError(f'message type {msgtype} has no Python class here ({error})') from error


class BagWriter:
    """A new rosbag2 bag (MCAP or sqlite3) written with rosbags from serialized CDR."""

    def __init__(self, path, storage: str = 'mcap'):
        from rosbags.rosbag2 import StoragePlugin, Writer
        if storage not in STORAGES:
            raise BagError(f'storage {storage!r} is not one of {list(STORAGES)}')
        self.path = Path(path)
        if self.path.exists():
            raise BagError(f'bag path {str(self.path)!r} exists; choose a new folder')
        plugin = StoragePlugin.MCAP if storage == 'mcap' else StoragePlugin.SQLITE3
        from memory_nodes.file_safety import private_dir, restrict_tree
        private_dir(self.path.parent)
        self.writer = Writer(self.path, version=9, storage_plugin=plugin)
        self.writer.open()
        restrict_tree(self.path)   # owner-only while it is written, again on close
        self.connections = {}
        self.counts: dict[str, int] = {}

    def add_topic(self, topic: str, msgtype: str) -> None:
        store = ensure_type(msgtype)
        self.connections[topic] = self.writer.add_connection(topic, msgtype, typestore=store)
        self.counts[topic] = 0

    def write(self, topic: str, log_time_ns: int, data: bytes) -> None:
        self.writer.write(self.connections[topic], int(log_time_ns), data)
        self.counts[topic] += 1

    def close(self) -> None:
        from memory_nodes.file_safety import restrict_tree
        self.writer.close()
        restrict_tree(self.path)
