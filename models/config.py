"""Configuration dataclasses of the memory-conditioned diffusion policy.

One dataclass per part (encoders, memory bank, denoiser, diffusion, training); `PolicyConfig`
holds them all and is what a checkpoint's config.json stores. Every dataclass validates
itself in `__post_init__` and raises a ValueError that names the bad field and value.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field, fields
from typing import Any

SLOT_ORDERS = ('given', 'first_seen')  # EncoderConfig.slot_order: models/slot_order.py
# TrainConfig.goal_targets: models.episodes.goal_targets
GOAL_TARGETS = ('episode', 'next_contact', 'unfinished_contact')

# The action layout fixed by the sim/models contract: absolute end-effector target + gripper.
ACTION_NAMES = ('x', 'y', 'z', 'yaw', 'gripper')
ACTION_DIM = len(ACTION_NAMES)
# Phases of a memory task (contract: 0 = cue, 1 = delay, 2 = act).
NUM_PHASES = 3

DENOISER_KINDS = ('transformer_adaln', 'transformer_xattn', 'unet')
PREDICTION_TYPES = ('epsilon', 'sample')
INFERENCE_SCHEDULERS = ('ddim', 'dpm')
POINTER_QUERIES = ('fused', 'retrieved')  # MemoryConfig.pointer_query


def _require(condition: bool, name: str, value: Any, what: str) -> None:
    """Raise a ValueError naming the field and its bad value unless `condition` holds."""
    if not condition:
        raise ValueError(f'{name}={value!r}: {what}')


def _positive(obj: Any, *names: str) -> None:
    for name in names:
        value = getattr(obj, name)
        _require(isinstance(value, int) and value > 0, name, value, 'must be a positive int')


@dataclass
class EncoderConfig:
    """Observation encoders: vision CNN, objects, proprioception, instruction."""

    width: int = 128  # token width D shared by every encoder, the bank and the denoiser
    image_size: int = 64  # input images are H = W = image_size pixels
    cameras: tuple[str, ...] = ('rgb', 'wrist_rgb')  # observation keys encoded as images
    image_channels: int = 3  # 3 for colour; 4 when a depth channel is appended
    cnn_channels: tuple[int, ...] = (16, 32, 64, 128)  # stride-2 conv stages of the CNN
    tokens_per_camera: int = 4  # vision tokens per camera (adaptive pool to a square grid)
    proprio_dim: int = 12  # P: length of the proprio vector (set from the dataset)
    object_slots: int = 4  # K: object slots per step (set from the dataset)
    object_dim: int = 9  # D_OBJ: features per object slot (set from the dataset)
    text_dim: int = 384  # MiniLM sentence-embedding width
    perceptual_tokens: int = 8  # N_p: perceptual tokens per step (N_p - 1 pooled + 1 state)
    heads: int = 4  # attention heads of the token compressor and cognitive summariser
    pretrained_vision_path: str = ''  # local transformers model folder; '' = train the CNN
    # object slot order the network sees: 'given' (as the source lists them) or 'first_seen'
    # (by first sight, then class, y, x: the same from the simulator and the ROS graph;
    # models/slot_order.py). Training and the policy both apply it.
    slot_order: str = 'given'  # one of SLOT_ORDERS

    def __post_init__(self) -> None:
        self.cameras = tuple(self.cameras)
        self.cnn_channels = tuple(self.cnn_channels)
        _positive(self, 'width', 'image_size', 'image_channels', 'tokens_per_camera',
                  'proprio_dim', 'object_slots', 'object_dim', 'text_dim',
                  'perceptual_tokens', 'heads')
        _require(self.width % self.heads == 0, 'width', self.width,
                 f'must be divisible by heads={self.heads}')
        _require(len(self.cameras) > 0, 'cameras', self.cameras, 'needs at least one camera')
        _require(self.slot_order in SLOT_ORDERS, 'slot_order', self.slot_order,
                 f'must be one of {SLOT_ORDERS}')
        side = int(round(self.tokens_per_camera ** 0.5))
        _require(side * side == self.tokens_per_camera, 'tokens_per_camera',
                 self.tokens_per_camera, 'must be a square number (1, 4, 9, ...)')
        _require(self.perceptual_tokens >= 2, 'perceptual_tokens', self.perceptual_tokens,
                 'must be >= 2 (pooled tokens + the state token)')
        _require(len(self.cnn_channels) > 0, 'cnn_channels', self.cnn_channels,
                 'needs at least one stage')


@dataclass
class MemoryConfig:
    """The perceptual-cognitive memory bank (PCMB)."""

    enabled: bool = True  # False builds a memoryless network (no retrieval modules at all)
    capacity: int = 64  # entries kept in the bank before adjacent-entry consolidation
    write_every: int = 4  # write one bank entry every this many control steps
    heads: int = 4  # attention heads of the retrieval cross-attention
    max_steps: int = 1024  # largest time step the temporal position encoding is tuned for
    # one more conditioning token: the object slot the fused memory points at (a pointer over
    # the step's visible object slots, models/goal_pointer.py); needs the step's objects
    goal_pointer: bool = False
    # what the pointer's query is made from: 'fused' (the memory-fused conditioning tokens,
    # current observation included) or 'retrieved' (only what retrieval read from the bank:
    # the current frame cannot steer the pointer; models/goal_pointer.py says why)
    pointer_query: str = 'fused'
    # a recurrent summary of the bank (models/memory_bank.py `BankRecurrence`): a GRU run
    # over the stored entries in time order, added to the fused cognitive token. Attention
    # reads a weighted average of entries: at best how many entries match, not how many
    # events happened when one event spans 1 or 2 entries (a 3-step blink written every 2
    # steps). The GRU sees where each event starts, and counting is what the count task
    # asks: blinks seen against presses made so far
    recurrent: bool = False
    # the goal pointer may also point at object slots stored in the bank with each entry
    # (models/goal_pointer.py): a remembered place no object marks any more (put back's
    # start) is where an object stood in a past entry; pointing there gives the denoiser the
    # stored position itself, not a position regressed from fused tokens
    bank_pointer: bool = False
    # the denoiser also gets the pointer's pointed position itself, in normalised action
    # units (models/denoisers.py `PointResidual`): it is added to the action tokens and, by a
    # learned gate per action step and axis, to the predicted chunk's x, y, z, so a chunk
    # that ends where the pointer points is a gate of 1 plus a small residual, not an
    # absolute position regressed through the conditioning vector (put back's stacks
    # released ~2 cm off a green cube the pointer located to ~6 mm). Needs the goal pointer,
    # a transformer denoiser and diffusion.prediction_type='sample'
    point_residual: bool = False

    def __post_init__(self) -> None:
        _positive(self, 'capacity', 'write_every', 'heads', 'max_steps')
        if self.point_residual:
            _require(self.goal_pointer, 'point_residual', self.point_residual,
                     'needs the goal pointer (goal_pointer=True)')
        if self.bank_pointer:
            _require(self.enabled and self.goal_pointer, 'bank_pointer', self.bank_pointer,
                     'needs the memory bank and the goal pointer (enabled=True, '
                     'goal_pointer=True)')
        if self.recurrent:
            _require(self.enabled, 'recurrent', self.recurrent,
                     'needs the memory bank (enabled=True)')
        _require(self.capacity >= 2, 'capacity', self.capacity, 'must be at least 2')
        _require(self.pointer_query in POINTER_QUERIES, 'pointer_query', self.pointer_query,
                 f'must be one of {POINTER_QUERIES}')
        if self.pointer_query == 'retrieved':
            _require(self.enabled, 'pointer_query', self.pointer_query,
                     'needs the memory bank (enabled=True)')


@dataclass
class DenoiserConfig:
    """The diffusion denoiser that maps a noisy action chunk to noise (or clean actions)."""

    kind: str = 'transformer_adaln'  # one of DENOISER_KINDS
    width: int = 128  # transformer width (the U-Net uses unet_dims instead)
    layers: int = 4  # transformer blocks
    heads: int = 4  # transformer attention heads
    mlp_ratio: int = 4  # transformer MLP hidden width = mlp_ratio * width
    unet_dims: tuple[int, ...] = (32, 64, 128)  # 1-D U-Net channels per level (DP shape)
    unet_kernel: int = 5  # 1-D U-Net convolution kernel size
    unet_cond_dim: int = 256  # 1-D U-Net: flattened memory tokens are projected to this
    dropout: float = 0.0  # dropout inside the transformer blocks

    def __post_init__(self) -> None:
        self.unet_dims = tuple(self.unet_dims)
        _require(self.kind in DENOISER_KINDS, 'kind', self.kind,
                 f'must be one of {DENOISER_KINDS}')
        _positive(self, 'width', 'layers', 'heads', 'mlp_ratio', 'unet_kernel', 'unet_cond_dim')
        _require(self.width % self.heads == 0, 'width', self.width,
                 f'must be divisible by heads={self.heads}')
        _require(0.0 <= self.dropout < 1.0, 'dropout', self.dropout, 'must be in [0, 1)')


@dataclass
class DiffusionConfig:
    """Noise schedule, action chunking and sampling."""

    horizon: int = 16  # actions predicted per chunk
    n_action_steps: int = 8  # actions of each chunk that may be executed (its valid window)
    # the step-by-step policy predicts a new chunk every this many steps (0 = n_action_steps,
    # Diffusion Policy's receding horizon); fewer closes the loop sooner: a chunk predicted
    # before the answer's objects appear is not run for long; the ROS action-expert node
    # sends a chunk every replan_every policy steps too, and the executor keeps
    # n_action_steps as the chunk's window. An inference setting: models.inference_settings
    # changes it in a checkpoint without retraining
    replan_every: int = 0
    action_dim: int = ACTION_DIM  # x y z yaw gripper
    train_timesteps: int = 100  # DDPM training steps
    inference_steps: int = 10  # DDIM / DPM-Solver steps at inference
    beta_schedule: str = 'squaredcos_cap_v2'  # diffusers beta schedule name
    prediction_type: str = 'epsilon'  # 'epsilon' (predict noise) or 'sample' (clean actions)
    scheduler: str = 'ddim'  # inference scheduler: 'ddim' or 'dpm' (DPM-Solver++)

    def __post_init__(self) -> None:
        _positive(self, 'horizon', 'n_action_steps', 'action_dim', 'train_timesteps',
                  'inference_steps')
        _require(self.n_action_steps <= self.horizon, 'n_action_steps', self.n_action_steps,
                 f'must be <= horizon={self.horizon}')
        _require(0 <= self.replan_every <= self.n_action_steps, 'replan_every',
                 self.replan_every, f'must be in 0..n_action_steps={self.n_action_steps}')
        _require(self.horizon % 4 == 0, 'horizon', self.horizon,
                 'must be divisible by 4 (two U-Net down-samplings)')
        _require(self.inference_steps <= self.train_timesteps, 'inference_steps',
                 self.inference_steps, f'must be <= train_timesteps={self.train_timesteps}')
        _require(self.prediction_type in PREDICTION_TYPES, 'prediction_type',
                 self.prediction_type, f'must be one of {PREDICTION_TYPES}')
        _require(self.scheduler in INFERENCE_SCHEDULERS, 'scheduler', self.scheduler,
                 f'must be one of {INFERENCE_SCHEDULERS}')


@dataclass
class TrainConfig:
    """Optimisation settings of `memory-train`."""

    steps: int = 3000  # optimiser steps
    batch_episodes: int = 16  # episodes per batch
    queries_per_episode: int = 8  # query steps (chunks to predict) per episode per batch
    noise_draws: int = 2  # diffusion noise draws per predicted chunk (the denoiser is cheap)
    lr: float = 3e-4  # AdamW learning rate (cosine decay after warm-up)
    weight_decay: float = 1e-4  # AdamW weight decay
    warmup_steps: int = 200  # linear learning-rate warm-up
    ema_decay: float = 0.999  # EMA decay ceiling (diffusers EMAModel)
    grad_clip: float = 1.0  # gradient-norm clip
    seed: int = 0  # torch / numpy seed
    image_shift: int = 2  # random-shift augmentation in pixels (0 = none)
    act_fraction: float = 0.0  # share of query steps drawn from the act phase (+ one chunk)
    # share of query steps drawn from the act phase's onset: its steps before the
    # demonstrator's arm has moved (models.episodes.onset_steps). There the remembered answer
    # is the only clue; from the first move on the arm's heading gives it away, and a pointer
    # trained mostly on those steps learns to read the heading (docs/models.md)
    onset_fraction: float = 0.0
    # auxiliary loss (0 = off, and no goal head in the network): from the conditioning
    # tokens of every query step after the cue, predict the episode's goal point (where the
    # gripper first closes in the act phase); the answer must then pass through the memory
    goal_loss_weight: float = 0.0
    # auxiliary loss (0 = off; needs memory.goal_pointer): cross-entropy of the goal pointer
    # on the object slot the demonstration grasped, at every query step after the cue where
    # that slot is visible
    pointer_loss_weight: float = 0.0
    # relative sampling weight of each task's episodes in a batch (task name -> weight;
    # a task not named weighs 1; empty = every episode equally likely). A task whose
    # pointer lags the others gets more batches without recording more demonstrations
    task_weights: dict[str, float] = field(default_factory=dict)
    # what the goal loss and the pointer aim at (models.episodes.goal_targets): 'episode',
    # the grasp's point and slot at every step (one answer per episode); 'next_contact', at
    # each step the next grasp, place or press of the demonstration (several targets in
    # turn: button sequence, count, put back); 'unfinished_contact', the same but a contact
    # stays the target until the arm rises from it
    goal_targets: str = 'episode'  # one of GOAL_TARGETS
    # learning-rate multipliers by parameter-name prefix (e.g. {'retrieval.recurrent': 10}:
    # a module grown onto a trained checkpoint learns faster than the weights around it)
    lr_scales: dict[str, float] = field(default_factory=dict)

    def __post_init__(self) -> None:
        _positive(self, 'steps', 'batch_episodes', 'queries_per_episode', 'noise_draws')
        _require(isinstance(self.lr_scales, dict), 'lr_scales', self.lr_scales,
                 'must be a dict of parameter-name prefix -> multiplier')
        for prefix, scale in self.lr_scales.items():
            _require(isinstance(scale, (int, float)) and scale > 0,
                     f'lr_scales[{prefix!r}]', scale, 'must be a number > 0')
        _require(self.goal_targets in GOAL_TARGETS, 'goal_targets', self.goal_targets,
                 f'must be one of {GOAL_TARGETS}')
        _require(isinstance(self.task_weights, dict), 'task_weights', self.task_weights,
                 'must be a dict of task name -> weight')
        for task, weight in self.task_weights.items():
            _require(isinstance(weight, (int, float)) and weight > 0,
                     f'task_weights[{task!r}]', weight, 'must be a number > 0')
        _require(self.goal_loss_weight >= 0, 'goal_loss_weight', self.goal_loss_weight,
                 'must be >= 0')
        _require(self.pointer_loss_weight >= 0, 'pointer_loss_weight',
                 self.pointer_loss_weight, 'must be >= 0')
        _require(self.lr > 0, 'lr', self.lr, 'must be > 0')
        _require(0.0 <= self.ema_decay < 1.0, 'ema_decay', self.ema_decay, 'must be in [0, 1)')
        _require(self.image_shift >= 0, 'image_shift', self.image_shift, 'must be >= 0')
        _require(0.0 <= self.act_fraction <= 1.0, 'act_fraction', self.act_fraction,
                 'must be in [0, 1]')
        _require(0.0 <= self.onset_fraction <= 1.0 - self.act_fraction, 'onset_fraction',
                 self.onset_fraction, f'must be in [0, 1 - act_fraction={self.act_fraction}]')


@dataclass
class PolicyConfig:
    """Everything needed to rebuild a policy network; stored as a checkpoint's config.json."""

    encoder: EncoderConfig = field(default_factory=EncoderConfig)
    memory: MemoryConfig = field(default_factory=MemoryConfig)
    denoiser: DenoiserConfig = field(default_factory=DenoiserConfig)
    diffusion: DiffusionConfig = field(default_factory=DiffusionConfig)
    train: TrainConfig = field(default_factory=TrainConfig)

    def __post_init__(self) -> None:
        parts = {'encoder': EncoderConfig, 'memory': MemoryConfig, 'denoiser': DenoiserConfig,
                 'diffusion': DiffusionConfig, 'train': TrainConfig}
        for name, cls in parts.items():
            value = getattr(self, name)
            if isinstance(value, dict):
                setattr(self, name, _from_dict(cls, value, name))
            elif not isinstance(value, cls):
                raise ValueError(f'{name}={value!r}: must be a {cls.__name__} or a dict')
        if self.train.pointer_loss_weight > 0:
            _require(self.memory.goal_pointer, 'train.pointer_loss_weight',
                     self.train.pointer_loss_weight, 'needs memory.goal_pointer=True')
        if self.denoiser.kind.startswith('transformer'):
            _require(self.denoiser.width == self.encoder.width, 'denoiser.width',
                     self.denoiser.width, f'must equal encoder.width={self.encoder.width}')
        if self.memory.point_residual:
            _require(self.denoiser.kind.startswith('transformer'), 'memory.point_residual',
                     True, f'needs a transformer denoiser (denoiser.kind={self.denoiser.kind!r})')
            _require(self.diffusion.prediction_type == 'sample', 'memory.point_residual', True,
                     'the gate adds the pointed position to predicted clean actions: needs '
                     f"diffusion.prediction_type='sample' (got "
                     f'{self.diffusion.prediction_type!r})')

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> PolicyConfig:
        return _from_dict(cls, data, 'config')


def _from_dict(cls: type, data: dict[str, Any], where: str) -> Any:
    """Build dataclass `cls` from a dict, refusing unknown keys (typos) by name."""
    if not isinstance(data, dict):
        raise ValueError(f'{where}={data!r}: must be a dict')
    known = {f.name for f in fields(cls)}
    unknown = sorted(set(data) - known)
    if unknown:
        raise ValueError(f'{where}: unknown field(s) {unknown}; known: {sorted(known)}')
    return cls(**data)
