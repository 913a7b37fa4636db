"""Frames for people to look at: strips of key moments and videos of whole episodes.

Rendering big frames is slow on a CPU (tens of ms each), so these helpers render only the
steps asked for; policy-resolution images come from the env's observations instead.
"""

from __future__ import annotations

from pathlib import Path

import imageio.v2 as imageio
import numpy as np

from memory_nodes.file_safety import private_file
from sim.dataset import PHASE_NAMES


def run_episode(env, policy, on_step=None):
    """Run policy(obs, info) -> action until done; on_step(env, obs) after reset and steps."""
    obs, info, done = env.reset(), None, False
    if on_step:
        on_step(env, obs)
    while not done:
        obs, done, info = env.step(policy(obs, info))
        if on_step:
            on_step(env, obs)
    return env.success()


def key_steps(env) -> list[int]:
    """Steps worth a look: cue start, cue middle, late cue, delay, and the end (-1)."""
    c, d = env.task.cue_steps, env.task.delay_steps
    return sorted({1, max(1, c // 2), max(1, c - 3), c + d // 2}) + [-1]


def frame_strip(env, policy, width: int = 320, height: int = 240, steps=None,
                cameras=('scene', 'wrist')) -> tuple[np.ndarray, bool]:
    """Rows = key steps, columns = cameras; returns (image (H*rows, W*cols, 3), success)."""
    wanted = key_steps(env) if steps is None else list(steps)
    rows, last = [], {}

    def grab(e, obs):
        frame = np.concatenate([e.render(c, width, height) for c in cameras], axis=1)
        if e.step_count in wanted:
            rows.append(_label(frame, e))
        last['frame'] = _label(frame, e)

    ok = run_episode(env, policy, grab)
    if -1 in wanted:
        rows.append(last['frame'])
    return np.concatenate(rows, axis=0), ok


def _label(frame: np.ndarray, env) -> np.ndarray:
    """Paint a phase bar on top: red cue, grey delay, green act (no font needed)."""
    out = frame.copy()
    colour = {0: (220, 40, 40), 1: (120, 120, 120), 2: (40, 180, 60)}[env.phase()]
    out[:6] = colour
    frac = min(1.0, env.step_count / max(1, env.max_steps))
    out[6:9, : int(frac * out.shape[1])] = (255, 255, 255)
    return out


def save_png(path, image: np.ndarray) -> Path:
    path = private_file(path)   # owner-only (0o600, folders 0o700)
    imageio.imwrite(path, image)
    return path


def record_video(env, policy, path, width: int = 320, height: int = 240, camera='scene',
                 fps: int = 10) -> bool:
    """Whole episode as an animated GIF (or .mp4 when imageio-ffmpeg is installed)."""
    frames = []
    ok = run_episode(env, policy, lambda e, o: frames.append(
        _label(e.render(camera, width, height), e)))
    path = private_file(path)   # owner-only (0o600, folders 0o700)
    if path.suffix == '.gif':
        imageio.mimsave(path, frames, duration=1.0 / fps, loop=0)
    else:
        imageio.mimsave(path, frames, fps=fps)
    return ok


def describe_phases() -> str:
    return ', '.join(f'{i} = {n}' for i, n in enumerate(PHASE_NAMES))
