"""Tracked objects -> the policy's object slots, in the simulator's feature convention.

What it is for: the diffusion policy (models/) is trained on the simulator's per-object
features (sim.env.object_features): visible, x, y, z, r, g, b, lit, class / number of
classes, state, where x, y, z is the object's body origin (the simulator places it at the
base of every object: the centre of its footprint, at its bottom) and state is a button's
depression or a drawer's opening in [0, 1]. The action-expert node builds the same features
from the preprocessor's ObjectObservations (ROS-free here, so the simulator-side evaluation
`memory-eval --inputs perception` runs the very same code without DDS):

- x, y: the centre of the seen bounding box; z: its bottom (position.z - extent.z / 2);
- a drawer: the camera sees only the knob of a closed drawer and the knob plus the box that
  has slid out of an open one, never the part inside the cabinet. Its origin is put
  DRAWER_ORIGIN_BEHIND_FRONT_M behind the seen front (the knob's front face) and
  DRAWER_TOP_ABOVE_ORIGIN_M below the seen top (the knob's and front plate's), and its
  opening is how far its seen front has come out (toward -x) from the farthest-in front seen
  of its track (closed, normally: where it was first seen), or what shows of it in front of
  the cabinet beyond the knob ((extent.x - the knob's depth)), whichever is more, over the
  drawer's travel, clipped to [0, 1]. Both are the simulator drawer's geometry (sim/scene.py
  drawer_spec): a class-specific prior, as a real robot's drawer model would be. A hand or
  the gripper over an open drawer hides part of it: the opening then reads low (measured on
  where did I leave it: 0.2-0.7 where the simulator says 0.9, scripts/graph_object_gap.py);
- other classes' state is 0 (a button's 1 cm depression is not measured yet);
- colour is the mean colour of the object's pixels as the camera sees it (the simulator's
  features hold the material colour: brighter, the same hue).

`scripts/graph_object_gap.py` measures what is left of the difference, feature by feature.
"""

import math

import numpy as np

# sim/scene.py drawer_spec: the knob's front face is 0.085 m in front of the drawer's centre
DRAWER_ORIGIN_BEHIND_FRONT_M = 0.085
DRAWER_TOP_ABOVE_ORIGIN_M = 0.07  # ... and its top 0.07 m above the drawer's floor level
DRAWER_KNOB_DEPTH_M = 0.01  # the knob's seen depth (x) on a closed drawer
DRAWER_TRAVEL_M = 0.11  # the opening that the simulator's state 1.0 means
OBJECT_DIM = 10


def track_order(track, classes):
    """Sort key of a tracked object: class, then track number (the order tracks were made)."""
    number = ''.join(c for c in track.track_id if c in '0123456789')  # not '²'
    cls = classes.index(track.label) if track.label in classes else len(classes)
    return (cls, int(number) if number else 0, track.track_id)


def placed(label, position, extent, closed_front=None):
    """An object's seen box (centre ``position``, size ``extent``, world frame) -> its
    (x, y, z, state) in the simulator's convention (module docstring); ``closed_front``: a
    drawer track's farthest-in front x seen so far (None: this frame's)."""
    x, y, z = (float(v) for v in position)
    ex, _, ez = (float(v) for v in extent)
    if label != 'drawer':
        return x, y, z - ez / 2.0, 0.0
    front = x - ex / 2.0
    out = max(ex - DRAWER_KNOB_DEPTH_M, (closed_front or front) - front)
    return (front + DRAWER_ORIGIN_BEHIND_FRONT_M, y, z + ez / 2.0 - DRAWER_TOP_ABOVE_ORIGIN_M,
            float(np.clip(out / DRAWER_TRAVEL_M, 0.0, 1.0)))


def object_features(obs, classes, closed_front=None):
    """One visible ObjectObservation (message or alike) -> (OBJECT_DIM,) float32 features;
    ``closed_front`` as in `placed`."""
    p, e = obs.position, obs.extent
    values = (p.x, p.y, p.z, e.x, e.y, e.z)
    if not all(math.isfinite(v) for v in values):
        raise ValueError(f'object {obs.track_id!r}: position ({p.x}, {p.y}, {p.z}) or extent '
                         f'({e.x}, {e.y}, {e.z}) not finite')
    x, y, z, state = placed(obs.label, values[:3], values[3:], closed_front)
    return np.array([1.0, x, y, z, *obs.rgb, float(obs.state == 'lit'),
                     classes.index(obs.label) / len(classes), state], np.float32)


class SlotTable:
    """Object slots that keep their track for a whole episode.

    A track gets a slot the first time it is seen in the episode (in class-then-track-number
    order among the tracks new in one message) and keeps it, visible or not, until the
    episode ends (`reset`): the policy's memory bank remembers per slot, so a slot must not
    change its object when another track appears or is dropped. A track with no free slot
    takes the slot of a track missing from the message; with none, it is left out (counted
    in `overflow`). Features per slot: `object_features`; slots without a visible object are
    zero."""

    def __init__(self, slots, classes):
        self.slots, self.classes = int(slots), list(classes)
        self.overflow = 0
        self.reset()

    def reset(self):
        self.slot_of = {}  # track id -> slot
        self.closed_front = {}  # drawer track id -> its farthest-in front x seen

    def features(self, msg):
        """ObjectObservationArray (anything with ``.objects``) -> (slots, 10) float32."""
        tracks = sorted((o for o in msg.objects if o.label in self.classes),
                        key=lambda o: track_order(o, self.classes))
        present = {o.track_id for o in tracks}
        for o in tracks:
            if o.track_id in self.slot_of:
                continue
            used = set(self.slot_of.values())
            free = [i for i in range(self.slots) if i not in used]
            if not free:  # reuse the slot of a track this message no longer has
                gone = [t for t in self.slot_of if t not in present]
                if not gone:
                    self.overflow += 1
                    continue
                free = [self.slot_of.pop(gone[0])]
            self.slot_of[o.track_id] = free[0]
        out = np.zeros((self.slots, OBJECT_DIM), np.float32)
        for o in tracks:
            slot = self.slot_of.get(o.track_id)
            if slot is None or not o.visible:
                continue
            closed = None
            if o.label == 'drawer' and math.isfinite(o.position.x - o.extent.x):
                front = o.position.x - o.extent.x / 2.0
                closed = max(self.closed_front.get(o.track_id, front), front)
                self.closed_front[o.track_id] = closed
            out[slot] = object_features(o, self.classes, closed)
        return out
