"""Class labels for instance ids in a segmentation image.

A segmentation image carries one integer per pixel: 0 (or negative) is background, any other
value names one object instance. The label of an instance comes from, in this order:

1. an explicit table ``instance_labels`` (``{id: label}``; as a ROS parameter a list of
   ``'id:label'`` strings, e.g. ``['1:cube', '2:cup']``): for a simulator whose ids are fixed;
2. the id encoding ``id = class_index * id_divisor + instance``, with ``class_names[class_index]``
   as the label (``id_divisor = 1000`` by default, so id 2003 is instance 3 of class 2). This is
   what a detector producing class + instance masks (e.g. an instance-segmentation network)
   writes naturally, and how the sim bridge can encode classes without a side channel;
3. otherwise the label is ``'object'`` (class unknown) and the class index is -1.
"""

from dataclasses import dataclass

UNKNOWN_LABEL = 'object'
# The simulator's classes (sim.scene.CLASSES, kept in step by a test), so that class indices
# match recorded episodes; written out because a robot installs memory_nodes without sim/.
DEFAULT_CLASS_NAMES = ('cup', 'ball', 'cube', 'button', 'led', 'tray', 'drawer', 'marker',
                       'goal', 'panel', 'hand')


@dataclass(frozen=True)
class InstanceClass:
    """What an instance id means."""

    label: str  # class name, e.g. 'cube'
    class_index: int  # index into class_names; -1 when unknown


def parse_instance_labels(entries):
    """ROS string-array form ``['1:cube', '2:cup']`` -> ``{1: 'cube', 2: 'cup'}``."""
    table = {}
    for entry in entries:
        if not entry:
            continue
        key, sep, label = str(entry).partition(':')
        try:
            instance = int(key)
        except ValueError:
            instance = None
        if not sep or instance is None or instance <= 0 or not label.strip():
            raise ValueError(f'instance_labels entry {entry!r}; expected "id:label" with '
                             'a positive integer id, e.g. "3:cube"')
        table[instance] = label.strip()
    return table


class InstanceLabeler:
    """Maps instance ids to (label, class index) by an explicit table or the id encoding."""

    def __init__(self, class_names=(), instance_labels=None, id_divisor=1000):
        if id_divisor < 1:
            raise ValueError(f'instance_id_divisor is {id_divisor!r}; expected >= 1')
        self.class_names = tuple(str(name) for name in class_names if str(name))
        self.instance_labels = dict(instance_labels or {})
        self.id_divisor = int(id_divisor)

    @property
    def num_classes(self):
        return max(1, len(self.class_names))

    def classify(self, instance_id):
        """Instance id -> InstanceClass."""
        instance_id = int(instance_id)
        label = self.instance_labels.get(instance_id)
        if label is not None:
            index = self.class_names.index(label) if label in self.class_names else -1
            return InstanceClass(label, index)
        if self.class_names:
            index = instance_id // self.id_divisor
            if 0 <= index < len(self.class_names):
                return InstanceClass(self.class_names[index], index)
        return InstanceClass(UNKNOWN_LABEL, -1)
