"""The token stage: one frame's perception -> perceptual and cognitive token arrays.

The action expert consumes ``(perceptual (N_p, D), cognitive (N_c, D))`` float32 arrays
(memory_interfaces/PerceptionTokens). This stage is pluggable: anything with
``encode(inputs: TokenInputs) -> (perceptual, cognitive)`` can be named by the
``token_encoder`` parameter as ``'package.module:factory'`` (the factory is called with the
keyword arguments ``object_slots`` and ``num_classes`` and returns the encoder), so a learned
encoder from models/ plugs in without touching the node.

The built-in ``ObjectFeatureTokens`` (``token_encoder = 'object_features'``) is the learned
model's object input, not the learned model: one perceptual token per object slot holding the
per-object features of the sim/models contract, in ``OBJECT_FEATURE_NAMES`` order
(sim.dataset's when the sim package provides it): visible, x, y, z (world, metres), r, g, b
(mean colour in [0, 1]), lit (1 when the object's state is 'lit'), class (class index /
number of classes), state (a drawer's opening, inferred from what shows of it; a button's
depression is not measured: 0). x and y are the centre of the object's bounding box and z
its bottom, because recorded episodes hold the body origin, which the simulator places at
the base of every object (ObjectObservation.position stays the bounding-box centre); a
drawer is placed from its seen front and top (slots.placed, the same convention as the
action expert's slots). Slots are filled by tracks in order of first appearance; an unseen
(occluded) track has visible = 0 and zeros elsewhere, exactly as in recorded episodes, and
empty slots are all zeros. It produces no cognitive tokens (N_c = 0): the cognitive token is
the instruction attending over the step's tokens, which only the learned encoder computes.
"""

from dataclasses import dataclass, field
import importlib

import numpy as np

from memory_nodes.perception.slots import placed

try:
    from sim.dataset import OBJECT_FEATURE_NAMES
except ImportError:  # sim/ not importable: the contract's list (contract.md, sim/models)
    OBJECT_FEATURE_NAMES = ('visible', 'x', 'y', 'z', 'r', 'g', 'b', 'lit', 'class', 'state')

BUILTIN_ENCODERS = ('object_features',)
KNOWN_FEATURES = ('visible', 'x', 'y', 'z', 'r', 'g', 'b', 'lit', 'class', 'state')


@dataclass
class TokenInputs:
    """What a token encoder may use from one frame."""

    stamp: float  # seconds, the colour image's stamp
    rgb: np.ndarray  # (H, W, 3) uint8 colour image
    tracks: list  # tracking.Track objects (visible and unseen), in order of first appearance
    instruction: str = ''  # latest instruction, '' when none
    joint_names: list = field(default_factory=list)  # latest JointState names
    joint_positions: np.ndarray = None  # (J,) latest joint positions, None when none


def _feature(track, name, num_classes, where):
    """``where``: the track's (x, y, z, state), `slots.placed`."""
    if name == 'visible':
        return 1.0
    if name in ('x', 'y', 'z', 'state'):  # the simulator's body origin and state
        return where['xyzs'.index(name[0])]
    if name in ('r', 'g', 'b'):
        return float(track.rgb['rgb'.index(name)])
    if name == 'lit':
        return 1.0 if track.state == 'lit' else 0.0
    if name == 'class':
        return max(track.class_index, 0) / max(num_classes, 1)
    raise ValueError(f'object feature {name!r} has no definition in the preprocessor')


class ObjectFeatureTokens:
    """Per-object contract features as perceptual tokens (see the module docstring)."""

    def __init__(self, object_slots=4, num_classes=1, feature_names=OBJECT_FEATURE_NAMES):
        if object_slots < 1:
            raise ValueError(f'token_object_slots is {object_slots!r}; expected >= 1')
        self.object_slots = int(object_slots)
        self.num_classes = int(num_classes)
        self.feature_names = tuple(feature_names)
        unknown = [n for n in self.feature_names
                   if n not in KNOWN_FEATURES]
        if unknown:
            raise ValueError(f'OBJECT_FEATURE_NAMES has features {unknown} that the '
                             'preprocessor cannot compute; extend tokens._feature')

    @property
    def dim(self):
        return len(self.feature_names)

    def encode(self, inputs):
        perceptual = np.zeros((self.object_slots, self.dim), dtype=np.float32)  # (K, D_OBJ)
        for slot, track in enumerate(inputs.tracks[:self.object_slots]):
            if track.visible:
                where = placed(track.label, track.position, track.extent)
                perceptual[slot] = [_feature(track, n, self.num_classes, where)
                                    for n in self.feature_names]
        cognitive = np.zeros((0, self.dim), dtype=np.float32)  # (0, D_OBJ): none without a model
        return perceptual, cognitive


def load_token_encoder(spec, object_slots=4, num_classes=1):
    """'object_features' or 'package.module:factory' -> an encoder object."""
    if spec == 'object_features':
        return ObjectFeatureTokens(object_slots=object_slots, num_classes=num_classes)
    module_name, sep, attribute = str(spec).partition(':')
    if not sep or not module_name or not attribute:
        raise ValueError(f"token_encoder is {spec!r}; expected 'object_features' or "
                         "'package.module:factory'")
    try:
        factory = getattr(importlib.import_module(module_name), attribute)
    except (ImportError, AttributeError) as error:
        raise ValueError(f'token_encoder {spec!r} cannot be loaded: {error}') from error
    encoder = factory(object_slots=object_slots, num_classes=num_classes)
    if not callable(getattr(encoder, 'encode', None)):
        raise ValueError(f'token_encoder {spec!r} returned {type(encoder).__name__}, which '
                         'has no encode(inputs) method')
    return encoder


def check_tokens(perceptual, cognitive):
    """Validate an encoder's output: 2-D float arrays of one width, finite."""
    perceptual = np.asarray(perceptual, dtype=np.float32)
    cognitive = np.asarray(cognitive, dtype=np.float32)
    for name, array in (('perceptual', perceptual), ('cognitive', cognitive)):
        if array.ndim != 2:
            raise ValueError(f'{name} tokens have shape {array.shape}; expected (N, D)')
        if not np.all(np.isfinite(array)):
            raise ValueError(f'{name} tokens contain NaN or inf')
    if len(cognitive) and perceptual.shape[1] != cognitive.shape[1]:
        raise ValueError(f'perceptual width {perceptual.shape[1]} != cognitive width '
                         f'{cognitive.shape[1]}')
    return perceptual, cognitive
