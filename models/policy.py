"""The policy object in the manner of LeRobot: reset / select_action / predict_action_chunk.

`MemoryDiffusionPolicy` runs the network step by step in a closed loop. Every control step
it encodes the observation when it needs it (a bank write every `write_every` steps, or a
new chunk); when its action queue is empty it retrieves from the memory bank, fuses, and
denoises a chunk of `horizon` actions, of which it queues `replan_every` (the config's
`diffusion.replan_every`, 0 meaning `n_action_steps`; an argument overrides it). The bank is
written after the retrieval of the same step, so retrieval at step t sees steps < t, as in
training. With `memory=False` the same network runs with the bank cleared every step
("memory switched off"). The bank's state can be saved and restored.

Batch: B episodes can run in lock step (obs arrays with a leading batch axis).
"""

from __future__ import annotations

from collections import deque

import numpy as np
import torch

from models.episodes import pad_objects
from models.memory_bank import MemoryBank
from models.network import MemoryDiffusionNet
from models.slot_hold import MissedSlotHold
from models.slot_order import FirstSeenSlots
from models.text_encoder import InstructionEncoder

OBS_KEYS = ('proprio', 'objects', 'phase')


def pick_device(device: str | None = None) -> torch.device:
    """'auto' / None -> CUDA when present, else CPU."""
    if device in (None, '', 'auto'):
        return torch.device('cuda' if torch.cuda.is_available() else 'cpu')
    return torch.device(device)


class MemoryDiffusionPolicy:
    """Closed-loop runner of a `MemoryDiffusionNet` with a memory bank and an action queue."""

    def __init__(self, net: MemoryDiffusionNet, text_encoder: InstructionEncoder | None = None,
                 device: str | torch.device | None = None, memory: bool = True,
                 batch: int = 1, fast_sampler: bool = True, seed: int | None = None,
                 replan_every: int | None = None, hold_missed_steps: int = 0) -> None:
        self.device = pick_device(str(device) if device is not None else None)
        self.net = net.to(self.device).eval()
        self.cfg = net.cfg
        self.text_encoder = text_encoder
        self.memory = memory
        self.batch = batch
        self.fast_sampler = fast_sampler
        diff = self.cfg.diffusion
        self.replan_every = int(replan_every if replan_every is not None
                                else diff.replan_every) or diff.n_action_steps
        if not 1 <= self.replan_every <= diff.n_action_steps:
            raise ValueError(f'replan_every={self.replan_every}: must be in '
                             f'1..n_action_steps={diff.n_action_steps}')
        self.generator = None
        if seed is not None:
            self.generator = torch.Generator(device=self.device).manual_seed(seed)
        enc = self.cfg.encoder
        self.bank = MemoryBank(self.cfg.memory.capacity, enc.perceptual_tokens, enc.width,
                               batch=batch, device=self.device,
                               objects=((enc.object_slots, enc.object_dim)
                                        if self.cfg.memory.bank_pointer else None))
        self.text: torch.Tensor | None = None
        self.queue: deque[np.ndarray] = deque()
        self.step = 0
        # the checkpoint's object slot order, built step by step (models/slot_order.py)
        self.slot_order = (FirstSeenSlots(batch) if enc.slot_order == 'first_seen' else None)
        # a slot missed for at most this many steps keeps its last features (slot_hold.py)
        self.slot_hold = MissedSlotHold(batch, hold_missed_steps)

    # -- episode control -----------------------------------------------------------------
    def reset(self, instruction: str | list[str] | None = None,
              text_embedding: np.ndarray | None = None) -> None:
        """Start an episode: clear bank and queue; set the instruction (string(s) or a
        precomputed (B, 384) embedding)."""
        if text_embedding is None:
            if instruction is None:
                raise ValueError('reset: pass instruction or text_embedding')
            texts = [instruction] * self.batch if isinstance(instruction, str) else instruction
            if len(texts) != self.batch:
                raise ValueError(f'instruction: {len(texts)} strings for batch={self.batch}')
            if self.text_encoder is None:
                self.text_encoder = InstructionEncoder()
            text_embedding = self.text_encoder.encode(list(texts))
        emb = np.asarray(text_embedding, np.float32).reshape(self.batch, -1)
        self.text = torch.from_numpy(emb).to(self.device)
        self.bank.reset()
        self.queue.clear()
        self.step = 0
        if self.slot_order is not None:
            self.slot_order.reset()
        self.slot_hold.reset()

    def _check(self, obs: dict[str, np.ndarray]) -> None:
        if self.text is None:
            raise ValueError('call reset(instruction) before the first observation')
        for key in (*self.cfg.encoder.cameras, *OBS_KEYS):
            if key not in obs:
                raise ValueError(f'obs: missing key {key!r}; got {sorted(obs)}')

    def _tensors(self, obs: dict[str, np.ndarray]) -> dict[str, torch.Tensor]:
        self._check(obs)
        out = {}
        for key in (*self.cfg.encoder.cameras, *OBS_KEYS):
            if key == 'objects':
                out[key] = torch.as_tensor(self._objects(obs)).to(self.device)
                continue
            value = np.asarray(obs[key])
            unbatched = {'proprio': 1, 'phase': 0}.get(key, 3)
            if value.ndim == unbatched:
                value = value[None]
            out[key] = torch.as_tensor(value).to(self.device)
        return out

    def _objects(self, obs: dict[str, np.ndarray]) -> np.ndarray:
        """The step's object slots (B, K, D_OBJ): padded, batched, in the checkpoint's order
        (updating the first-seen order: call once per step, as the policy steps do)."""
        value = pad_objects(np.asarray(obs['objects'], np.float32),
                            self.cfg.encoder.object_slots)
        if value.ndim == 2:
            value = value[None]
        value = self.slot_hold(value)
        return self.slot_order(value) if self.slot_order is not None else value

    @torch.no_grad()
    def _encode(self, obs: dict[str, np.ndarray]
                ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """-> perceptual, cognitive and the step's (padded) object slots."""
        steps = self._tensors(obs)
        return (*self.net.encode_steps(steps, self.text), steps['objects'])

    @torch.no_grad()
    def _chunk(self, perceptual: torch.Tensor, cognitive: torch.Tensor,
               objects: torch.Tensor) -> torch.Tensor:
        if not self.memory:
            self.bank.reset()  # memory switched off: same network, nothing remembered
        now = torch.full((self.batch,), float(self.step), device=self.device)
        bank = self.bank.entries() if self.net.retrieval is not None else None
        stored = self.bank.object_entries() if self.bank.objects is not None else None
        cond = self.net.fuse(perceptual, cognitive, now, bank, objects, stored)
        noise = None
        if self.generator is not None:
            diff = self.cfg.diffusion
            noise = torch.randn(self.batch, diff.horizon, diff.action_dim,
                                generator=self.generator, device=self.device)
        return self.net.sample_actions(cond, noise, fast=self.fast_sampler)  # (B, H, A)

    # -- LeRobot-style API ---------------------------------------------------------------
    @torch.no_grad()
    def predict_action_chunk(self, obs: dict[str, np.ndarray]) -> np.ndarray:
        """The full chunk (B, horizon, 5) for this observation; the bank is read, not written."""
        return self._chunk(*self._encode(obs)).cpu().numpy()

    @torch.no_grad()
    def _observe(self, obs: dict[str, np.ndarray], plan: bool) -> np.ndarray | None:
        """One control step's work, shared by select_action and act_chunk: encode the step
        when it plans or writes the bank (else only date the object slots it shows first),
        write the bank every ``write_every`` steps, advance the step counter; the chunk
        (B, horizon, 5) when ``plan``, else None."""
        write = (self.net.retrieval is not None and self.memory
                 and self.step % self.cfg.memory.write_every == 0)
        chunk = None
        if plan or write:
            perceptual, cognitive, objects = self._encode(obs)
            if plan:
                chunk = self._chunk(perceptual, cognitive, objects).cpu().numpy()
            if write:
                self.bank.write(perceptual, cognitive, self.step,
                                objects if self.bank.objects is not None else None)
        elif self.slot_order is not None or self.slot_hold.steps:
            self._objects(obs)  # a step not encoded still dates (and holds) what it shows
        self.step += 1
        return chunk

    @torch.no_grad()
    def select_action(self, obs: dict[str, np.ndarray]) -> np.ndarray:
        """One action per control step: (5,) for batch 1, else (B, 5)."""
        self._check(obs)
        chunk = self._observe(obs, plan=not self.queue)
        if chunk is not None:
            self.queue.extend(chunk[:, i] for i in range(self.replan_every))
        action = self.queue.popleft()
        return action[0] if self.batch == 1 else action

    @torch.no_grad()
    def act_chunk(self, obs: dict[str, np.ndarray]) -> np.ndarray | None:
        """One control step for asynchronous consumers (the ROS action-expert node, whose
        executor runs the newest chunk and blends the seams): on a planning step (every
        ``replan_every`` steps from the episode's first, as ``select_action`` plans) the
        whole chunk (B, horizon, 5), else None; the bank is read, then written on the same
        ``write_every`` schedule as ``select_action``; the step counter advances by one."""
        self._check(obs)
        return self._observe(obs, plan=self.step % self.replan_every == 0)

    # -- memory state --------------------------------------------------------------------
    def memory_state(self) -> dict[str, torch.Tensor]:
        """The episode state (bank, step, queued actions) as tensors (safetensors-able)."""
        state = {f'bank.{k}': v for k, v in self.bank.state_dict().items()}
        state['step'] = torch.tensor(self.step)
        queue = np.stack(list(self.queue)) if self.queue else np.zeros((0, self.batch, 5))
        state['queue'] = torch.from_numpy(np.asarray(queue, np.float32))
        if self.text is not None:
            state['text'] = self.text.clone()
        if self.slot_order is not None:
            state['slot_order'] = torch.from_numpy(self.slot_order.state())
        for k, v in self.slot_hold.state().items():
            state[f'slot_hold.{k}'] = torch.from_numpy(v)
        return state

    def load_memory_state(self, state: dict[str, torch.Tensor]) -> None:
        self.bank.load_state_dict({k[5:]: v for k, v in state.items() if k.startswith('bank.')})
        self.step = int(state['step'])
        self.queue = deque(np.asarray(a) for a in state['queue'].numpy())
        if 'text' in state:
            self.text = state['text'].to(self.device)
        if self.slot_order is not None and 'slot_order' in state:
            self.slot_order.load_state(state['slot_order'].numpy())
        self.slot_hold.load_state({k[10:]: v.numpy() for k, v in state.items()
                                   if k.startswith('slot_hold.')})
