"""The policy: checkpoint save/load round trip, LeRobot-style API in a closed loop, memory
on/off, memory state save/restore, and step-by-step inference equal to the training path."""

import json

import numpy as np
import pytest
from safetensors.torch import load_file
import torch

from models.checkpoint import load_checkpoint, save_checkpoint
from models.episodes import SequenceBatcher, dataset_arrays
from models.network import MemoryDiffusionNet
from models.policy import MemoryDiffusionPolicy
from models.synthetic import SyntheticCupsEnv
from tests.models.conftest import tiny_config

TEXT = np.full((1, 384), 0.05, np.float32)


def fitted_net(episodes, capacity=8, goal_pointer=False, pointer_query='fused',
               bank_pointer=False, **denoiser):
    cfg = tiny_config(**denoiser)
    cfg.memory.capacity = capacity
    cfg.memory.goal_pointer = goal_pointer
    cfg.memory.pointer_query = pointer_query
    cfg.memory.bank_pointer = bank_pointer
    net = MemoryDiffusionNet(cfg)
    net.normalizer.fit(dataset_arrays(episodes, 3))
    with torch.no_grad():  # wake up zero-initialised output layers
        for p in net.denoiser.parameters():
            p.add_(0.02 * torch.randn_like(p))
        if bank_pointer:   # stored slots weigh in from the start here
            net.pointer.stored_logit.fill_(0.0)
    return net.eval()


@pytest.mark.parametrize('kind', ['transformer_adaln', 'transformer_xattn', 'unet'])
def test_checkpoint_round_trip(tmp_path, synthetic_episodes, kind):
    net = fitted_net(synthetic_episodes, kind=kind)
    save_checkpoint(tmp_path / 'ckpt', net, {'seed': 7, 'command': 'memory-train ...'})
    doc = json.loads((tmp_path / 'ckpt' / 'config.json').read_text())
    assert doc['meta']['seed'] == 7 and doc['policy']['denoiser']['kind'] == kind
    tensors = load_file(str(tmp_path / 'ckpt' / 'model.safetensors'))
    assert torch.equal(tensors['normalizer.action_min'], net.normalizer.action_min)
    loaded, meta = load_checkpoint(tmp_path / 'ckpt')
    assert meta['command'] == 'memory-train ...'
    cond = torch.randn(2, net.cond_tokens, 32)
    noise = torch.randn(2, 16, 5)
    assert torch.equal(net.sample_actions(cond, noise), loaded.sample_actions(cond, noise))


def test_load_refuses_missing_files(tmp_path):
    with pytest.raises(ValueError, match='config.json'):
        load_checkpoint(tmp_path)


def test_closed_loop_api_memory_on_and_off(synthetic_episodes):
    net = fitted_net(synthetic_episodes)
    env = SyntheticCupsEnv(seed=50)
    for memory in (True, False):
        policy = MemoryDiffusionPolicy(net, device='cpu', memory=memory, seed=0)
        policy.reset(text_embedding=TEXT)
        obs = env.reset()
        chunk = policy.predict_action_chunk(obs)
        assert chunk.shape == (1, 16, 5) and len(policy.bank) == 0
        for _ in range(10):
            action = policy.select_action(obs)
            assert action.shape == (5,) and np.all(np.isfinite(action))
            obs, _, _ = env.step(action)
        # writes at steps 0, 4, 8 with memory; none without
        assert len(policy.bank) == (3 if memory else 0)
    with pytest.raises(ValueError, match='missing key'):
        policy.select_action({'rgb': obs['rgb']})


@pytest.mark.parametrize('replan_every, chunks', [(None, 2), (2, 5), (1, 10)])
def test_replan_every_sets_how_often_a_chunk_is_predicted(synthetic_episodes, replan_every,
                                                            chunks):
    """10 control steps: a chunk every n_action_steps = 8 steps by default (steps 0 and 8),
    every 2 or every step when asked; each executed action is the chunk's next one."""
    net = fitted_net(synthetic_episodes)
    policy = MemoryDiffusionPolicy(net, device='cpu', seed=0, replan_every=replan_every)
    policy.reset(text_embedding=TEXT)
    predicted = []
    sample = net.sample_actions

    def counting(cond, noise=None, fast=True):
        predicted.append(sample(cond, noise, fast))
        return predicted[-1]

    net.sample_actions = counting
    env = SyntheticCupsEnv(seed=52)
    obs = env.reset()
    for step in range(10):
        action = policy.select_action(obs)
        period = replan_every or 8
        assert np.allclose(action, predicted[-1][0, step % period].numpy())
        obs, _, _ = env.step(action)
    assert len(predicted) == chunks
    with pytest.raises(ValueError, match='replan_every=9'):
        MemoryDiffusionPolicy(net, device='cpu', replan_every=9)


@pytest.mark.parametrize('slot_order', ['given', 'first_seen'])
def test_memory_state_save_and_restore(synthetic_episodes, slot_order):
    net = fitted_net(synthetic_episodes)
    net.cfg.encoder.slot_order = slot_order
    env = SyntheticCupsEnv(seed=51)
    policy = MemoryDiffusionPolicy(net, device='cpu', seed=0)
    policy.reset(text_embedding=TEXT)
    obs = env.reset()
    for _ in range(9):
        obs, _, _ = env.step(policy.select_action(obs))
    state = policy.memory_state()
    other = MemoryDiffusionPolicy(net, device='cpu', seed=0)
    other.reset(text_embedding=np.zeros((1, 384), np.float32))
    other.load_memory_state(state)
    assert other.step == policy.step and len(other.bank) == len(policy.bank)
    if slot_order == 'first_seen':  # the slot order travels with the episode state
        assert other.slot_order.placed == policy.slot_order.placed
        assert sorted(policy.slot_order.placed[0]) == [0, 1, 2]
    assert np.array_equal(other.select_action(obs), policy.select_action(obs))


@pytest.mark.parametrize('pointer, slot_order, bank_pointer', [
    (None, 'given', False), ('fused', 'given', False), ('retrieved', 'given', False),
    ('retrieved', 'first_seen', False), ('fused', 'first_seen', True)])
def test_step_by_step_inference_equals_training_path(synthetic_episodes, pointer,
                                                     slot_order, bank_pointer):
    """The conditioning tokens the policy builds step by step (bank writes every
    write_every steps) equal those of the batched training path for the same steps, while
    the bank is below capacity (no consolidation: the episode's 15 keyframes fit in 16);
    with a goal pointer (its query from the fused tokens or from the retrieval's read-out),
    its token too. With the first-seen slot order the policy is given the objects in
    reverse order and must still build what training saw. With the bank pointer the token
    also reads the object slots the bank stored (training: the keyframes before each
    query)."""
    goal_pointer = pointer is not None
    net = fitted_net(synthetic_episodes, capacity=16, goal_pointer=goal_pointer,
                     pointer_query=pointer or 'fused', bank_pointer=bank_pointer)
    net.cfg.encoder.slot_order = slot_order
    ep = synthetic_episodes[0]
    batcher = SequenceBatcher([ep], {ep.instruction: TEXT[0]}, net.cfg.encoder.cameras, 3,
                              16, net.cfg.memory.write_every, queries=3, seed=4,
                              slot_order=slot_order)
    batch = batcher.sample(1)
    query_steps = batch['query_step'][0].long().tolist()
    # training path
    b, q, m = 1, 3, batch['key_step'].shape[1]
    steps = {n: torch.cat([batch[f'query_{n}'].flatten(0, 1), batch[f'key_{n}'].flatten(0, 1)])
             for n in (*net.cfg.encoder.cameras, 'proprio', 'objects', 'phase')}
    text = torch.from_numpy(TEXT).expand(q + m, -1)
    with torch.no_grad():
        p, c = net.encode_steps(steps, text)
        read: dict = {}
        fp, fc = net.retrieval.retrieve_batched(
            p[:q].view(b, q, *p.shape[1:]), c[:q].view(b, q, -1), batch['query_step'],
            p[q:].view(b, m, *p.shape[1:]), c[q:].view(b, m, -1), batch['key_step'],
            batch['key_valid'], read)
        stored = None
        if bank_pointer:
            stored = (batch['key_objects'].expand(q, -1, -1, -1),
                      net.retrieval.tpe(batch['key_step']).expand(q, -1, -1),
                      net.causal_keys(batch)[0])
        trained, _ = net.point(torch.cat([fp[0], fc[0].unsqueeze(1)], 1),
                               batch['query_objects'][0],
                               {k: v[0] for k, v in read.items()}, stored)  # (Q, tokens, D)
    assert trained.shape[1] == net.cond_tokens == 4 + 1 + goal_pointer
    # step-by-step path, replaying the recorded observations
    policy = MemoryDiffusionPolicy(net, device='cpu')
    policy.reset(text_embedding=TEXT)
    for t in range(max(query_steps) + 1):
        obs = {k: getattr(ep, k)[t] for k in ('rgb', 'wrist_rgb', 'proprio', 'objects', 'phase')}
        if slot_order == 'first_seen':
            obs['objects'] = obs['objects'][::-1]
        perceptual, cognitive, objects = policy._encode(obs)
        now = torch.tensor([float(t)])
        stored = policy.bank.object_entries() if bank_pointer else None
        if t in query_steps:
            cond = net.fuse(perceptual, cognitive, now, policy.bank.entries(), objects, stored)
            assert torch.allclose(cond[0], trained[query_steps.index(t)], atol=1e-4)
        if t % net.cfg.memory.write_every == 0:
            policy.bank.write(perceptual, cognitive, t, objects if bank_pointer else None)
