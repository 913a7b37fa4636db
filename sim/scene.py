"""MJCF for one task episode: the tabletop scene plus the task's objects.

Task objects are mocap bodies (kinematic: moved by scripted hands, by the grasp attachment
or by cue animations) except button caps, which are spring-loaded slide joints that the
gripper's fingers press physically. `SceneBuilder` collects the objects a task declares and
returns the MJCF text; `ObjectSpec` keeps the facts the env needs about each object.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

ASSET_DIR = Path(__file__).resolve().parent / 'assets'
SCENE_FILE = ASSET_DIR / 'tabletop.xml'
PARK_Z = -0.5  # z of parked (removed) objects: under the opaque table top

# Object classes; the class feature in observations is index / len(CLASSES).
CLASSES = ('cup', 'ball', 'cube', 'button', 'led', 'tray', 'drawer', 'marker', 'goal', 'panel',
           'hand')


@dataclass
class ObjectSpec:
    """What the env knows about one task object."""

    name: str  # unique, also the MJCF body name
    kind: str  # one of CLASSES
    rgba: tuple  # displayed colour (r, g, b, a), each in [0, 1]
    pos: tuple  # initial position of the body origin (x, y, z)
    graspable: bool = False  # the gripper can attach it
    grasp_height: float = 0.0  # grasp point above the body origin (m)
    grip_width: float = 0.0  # finger opening when holding it (m)
    rest_height: float = 0.0  # height of the origin above the support it rests on (m)
    top_height: float = 0.0  # height of the object's top above its origin (m), for stacking
    mocap: bool = True  # False for button bodies (fixed base, jointed cap)
    geoms: list = field(default_factory=list)  # MJCF <geom .../> strings (relative to body)


def _rgba(rgba) -> str:
    return ' '.join(f'{v:.3f}' for v in rgba)


def cup_spec(name: str, pos, rgba=(0.85, 0.45, 0.2, 1.0)) -> ObjectSpec:
    """Opaque cylinder cup (no opening) with a knob on top to grasp; hides what is under it."""
    c = _rgba(rgba)
    geoms = [
        f'<geom name="{name}/body" type="cylinder" pos="0 0 0.04" size="0.036 0.04" rgba="{c}"/>',
        f'<geom name="{name}/knob" type="box" pos="0 0 0.09" size="0.012 0.012 0.01" '
        f'rgba="{c}"/>',
    ]
    return ObjectSpec(name, 'cup', tuple(rgba), tuple(pos), graspable=True, grasp_height=0.088,
                      grip_width=0.024, rest_height=0.0, top_height=0.1, geoms=geoms)


def ball_spec(name: str, pos, rgba=(0.1, 0.75, 0.2, 1.0)) -> ObjectSpec:
    geoms = [f'<geom name="{name}/ball" type="sphere" pos="0 0 0.02" size="0.02" '
             f'rgba="{_rgba(rgba)}"/>']
    return ObjectSpec(name, 'ball', tuple(rgba), tuple(pos), graspable=False, top_height=0.04,
                      geoms=geoms)


def cube_spec(name: str, pos, rgba, half: float = 0.02) -> ObjectSpec:
    geoms = [f'<geom name="{name}/box" type="box" pos="0 0 {half}" size="{half} {half} {half}" '
             f'rgba="{_rgba(rgba)}"/>']
    return ObjectSpec(name, 'cube', tuple(rgba), tuple(pos), graspable=True, grasp_height=half,
                      grip_width=2 * half, top_height=2 * half, geoms=geoms)


def tray_spec(name: str, pos, rgba=(0.35, 0.35, 0.4, 1.0)) -> ObjectSpec:
    c = _rgba(rgba)
    geoms = [f'<geom name="{name}/floor" type="box" pos="0 0 0.003" size="0.07 0.07 0.003" '
             f'rgba="{c}"/>']
    for i, (dx, dy, sx, sy) in enumerate(((0.07, 0, 0.004, 0.074), (-0.07, 0, 0.004, 0.074),
                                          (0, 0.07, 0.074, 0.004), (0, -0.07, 0.074, 0.004))):
        geoms.append(f'<geom name="{name}/rim{i}" type="box" pos="{dx} {dy} 0.012" '
                     f'size="{sx} {sy} 0.012" rgba="{c}"/>')
    return ObjectSpec(name, 'tray', tuple(rgba), tuple(pos), top_height=0.006, geoms=geoms)


def led_spec(name: str, pos, rgba=(1.0, 0.9, 0.2, 1.0)) -> ObjectSpec:
    geoms = [
        f'<geom name="{name}/post" type="cylinder" pos="0 0 0.03" size="0.008 0.03" '
        f'rgba="0.3 0.3 0.3 1"/>',
        f'<geom name="{name}/lamp" type="sphere" pos="0 0 0.07" size="0.022" '
        f'rgba="{_rgba(rgba)}"/>',
    ]
    return ObjectSpec(name, 'led', tuple(rgba), tuple(pos), top_height=0.09, geoms=geoms)


def marker_spec(name: str, rgba, size: float = 0.012, kind: str = 'marker') -> ObjectSpec:
    """Small floating sphere: cue markers (cue_visible mode) and the oracle goal marker."""
    geoms = [f'<geom name="{name}/dot" type="sphere" size="{size}" rgba="{_rgba(rgba)}"/>']
    return ObjectSpec(name, kind, tuple(rgba), (0.0, 0.0, PARK_Z), geoms=geoms)


def tile_spec(name: str, pos, rgba) -> ObjectSpec:
    """Flat square tile lying on the table (cue displays)."""
    geoms = [f'<geom name="{name}/tile" type="box" pos="0 0 0.002" size="0.018 0.018 0.002" '
             f'rgba="{_rgba(rgba)}"/>']
    return ObjectSpec(name, 'panel', tuple(rgba), tuple(pos), geoms=geoms)


def hand_spec(name: str, rgba=(0.78, 0.66, 0.58, 1.0)) -> ObjectSpec:
    """Scripted hand that places objects during a cue (the arm is frozen then)."""
    c = _rgba(rgba)
    geoms = [f'<geom name="{name}/palm" type="box" pos="0 0 0.06" size="0.03 0.045 0.015" '
             f'rgba="{c}"/>',
             f'<geom name="{name}/wrist" type="capsule" fromto="0 0 0.075 0 0 0.3" size="0.02" '
             f'rgba="{c}"/>']
    for i, y in enumerate((-0.035, -0.012, 0.012, 0.035)):
        geoms.append(f'<geom name="{name}/finger{i}" type="capsule" '
                     f'fromto="0 {y} 0.05 0 {y} 0.015" size="0.008" rgba="{c}"/>')
    return ObjectSpec(name, 'hand', tuple(rgba), (0.0, 0.0, PARK_Z), geoms=geoms)


def button_spec(name: str, pos, rgba) -> ObjectSpec:
    """Fixed base with a spring-loaded cap on a slide joint; pressed by pushing it down."""
    c = _rgba(rgba)
    geoms = [
        f'<geom name="{name}/base" type="cylinder" pos="0 0 0.008" size="0.036 0.008" '
        f'rgba="0.25 0.25 0.27 1"/>',
        f'<body name="{name}/cap" pos="0 0 0.016" gravcomp="1">'
        f'<joint name="{name}/press" type="slide" axis="0 0 1" range="-0.012 0" '
        f'stiffness="300" damping="3" armature="0.01"/>'
        f'<geom name="{name}/cap" type="cylinder" pos="0 0 0.01" size="0.028 0.01" '
        f'rgba="{c}" mass="0.03" conaffinity="2" contype="0"/></body>',
    ]
    return ObjectSpec(name, 'button', tuple(rgba), tuple(pos), mocap=False, top_height=0.036,
                      geoms=geoms)


def drawer_spec(name: str, pos, rgba=(0.55, 0.42, 0.3, 1.0)) -> ObjectSpec:
    """Drawer box that slides out along -x; a knob on its front top edge to pull it.

    The body origin is the drawer's centre at floor level; closed, it sits inside a cabinet
    slot whose top plate hides its contents. Its grasp point is the knob.
    """
    c = _rgba(rgba)
    geoms = [
        f'<geom name="{name}/floor" type="box" pos="0 0 0.004" size="0.06 0.042 0.004" '
        f'rgba="{c}"/>',
        f'<geom name="{name}/front" type="box" pos="-0.062 0 0.035" size="0.004 0.046 0.035" '
        f'rgba="{c}"/>',
        f'<geom name="{name}/back" type="box" pos="0.058 0 0.025" size="0.003 0.042 0.025" '
        f'rgba="{c}"/>',
        f'<geom name="{name}/side0" type="box" pos="0 0.04 0.025" size="0.06 0.003 0.025" '
        f'rgba="{c}"/>',
        f'<geom name="{name}/side1" type="box" pos="0 -0.04 0.025" size="0.06 0.003 0.025" '
        f'rgba="{c}"/>',
        f'<geom name="{name}/knob" type="box" pos="-0.075 0 0.058" size="0.01 0.012 0.012" '
        f'rgba="0.85 0.85 0.85 1"/>',
    ]
    return ObjectSpec(name, 'drawer', tuple(rgba), tuple(pos), graspable=True,
                      grasp_height=0.058, grip_width=0.024, top_height=0.07, geoms=geoms)


def cabinet_xml(name: str, center, num_slots: int, slot_pitch: float) -> str:
    """Static cabinet: a top plate and walls over `num_slots` drawers placed along y."""
    cx, cy, _ = center
    half_w = num_slots * slot_pitch / 2 + 0.01
    c = '0.45 0.34 0.25 1'
    parts = [f'<body name="{name}" pos="{cx} {cy} 0">',
             f'<geom name="{name}/top" type="box" pos="0 0 0.083" size="0.066 {half_w} 0.008" '
             f'rgba="{c}"/>',
             f'<geom name="{name}/back" type="box" pos="0.068 0 0.045" size="0.006 {half_w} 0.045"'
             f' rgba="{c}"/>']
    for i in range(num_slots + 1):
        y = -num_slots * slot_pitch / 2 + i * slot_pitch
        parts.append(f'<geom name="{name}/wall{i}" type="box" pos="0 {y:.4f} 0.04" '
                     f'size="0.066 0.004 0.04" rgba="{c}"/>')
    parts.append('</body>')
    return ''.join(parts)


class SceneBuilder:
    """Collects task objects and static extras; `xml()` gives the MJCF of the whole scene."""

    def __init__(self):
        self.objects: list[ObjectSpec] = []
        self.static_xml: list[str] = []

    def add(self, spec: ObjectSpec) -> ObjectSpec:
        if any(o.name == spec.name for o in self.objects):
            raise ValueError(f'object name {spec.name!r} is used twice')
        self.objects.append(spec)
        return spec

    def add_static(self, xml: str) -> None:
        self.static_xml.append(xml)

    def xml(self) -> str:
        bodies = list(self.static_xml)
        for o in self.objects:
            x, y, z = o.pos
            mocap = ' mocap="true"' if o.mocap else ''
            bodies.append(f'<body name="{o.name}" pos="{x:.5f} {y:.5f} {z:.5f}"{mocap}>'
                          + ''.join(o.geoms) + '</body>')
        return SCENE_FILE.read_text().replace('<!-- TASK_BODIES -->', '\n'.join(bodies))


def yaw_to_quat(yaw: float) -> np.ndarray:
    return np.array([np.cos(yaw / 2), 0.0, 0.0, np.sin(yaw / 2)])
