"""What the action-expert node fed its policy, one .npz per episode, for offline replay.

What it is for: the ROS graph builds the policy's observation from DDS messages (images,
joint states, the end-effector pose, perception's object tracks) on its own clock;
`memory-eval --inputs perception` builds the same in one process. When the two disagree on a
task, the way to find out why is to compare, step by step, what the policy saw and what it
answered. `PolicyInputRecorder` keeps, per policy step, the observation (image, proprio,
object slots, phase), the chunk and the times, and writes an episode's arrays with
``numpy.savez_compressed`` (no pickle) to ``<folder>/<episode id>.npz`` (whole, by rename:
a reader never finds half a file) when the episode changes or the node stops.
`load_policy_inputs` reads one back as a dict of arrays.
"""

import io
from pathlib import Path
import re
import threading

import numpy as np

from memory_nodes.file_safety import private_dir, write_private_bytes

KEYS = ('step', 'stamp', 'proprio', 'objects', 'phase', 'image', 'chunk', 'inference_ms')


def _file_name(episode_id: str) -> str:
    """An episode id as a file name (anything but letters, digits, '-', '_' and '.' -> '_')."""
    name = re.sub(r'[^A-Za-z0-9_.-]', '_', episode_id or 'episode').strip('.')
    return (name or 'episode') + '.npz'


class PolicyInputRecorder:
    """Collects one episode's policy steps in memory and writes them as one .npz."""

    def __init__(self, folder):
        self.folder = private_dir(Path(folder))
        self.episode_id = None
        self.rows = {k: [] for k in KEYS}
        self.written = []  # paths written so far
        self.finished = set()  # episodes written: a late step of one is not recorded
        self.failed = []  # 'episode: error' of the writes that failed on an episode change
        self._lock = threading.Lock()  # the node adds from its worker, flushes from callbacks

    def add(self, episode_id: str, step: int, stamp: float, obs: dict, chunk: np.ndarray,
            inference_ms: float, camera: str = 'rgb') -> None:
        row = dict(step=np.int64(step), stamp=np.float64(stamp),
                   proprio=np.asarray(obs['proprio'], np.float32),
                   objects=np.asarray(obs['objects'], np.float32),
                   phase=np.int64(obs['phase']), image=np.asarray(obs[camera], np.uint8),
                   chunk=np.asarray(chunk, np.float32),
                   inference_ms=np.float32(inference_ms))
        with self._lock:
            if episode_id in self.finished:
                return
            if episode_id != self.episode_id:
                try:
                    self._flush()
                except OSError as error:  # the episode before is lost, not this step
                    self.failed.append(f'{self.episode_id}: {error}')
                self.episode_id = episode_id
            for key in KEYS:
                self.rows[key].append(row[key])

    def flush(self) -> Path | None:
        """Write the collected episode (if any) and start empty; -> the file written."""
        with self._lock:
            return self._flush()

    def _flush(self) -> Path | None:
        if not self.rows['step']:
            return None
        rows, episode_id = self.rows, self.episode_id
        self.rows = {k: [] for k in KEYS}  # a failed write below loses this episode only
        self.finished.add(episode_id)
        path = self.folder / _file_name(episode_id)
        buffer = io.BytesIO()  # written whole, then renamed: a reader never sees half a file
        np.savez_compressed(buffer, episode_id=np.array(episode_id or ''),
                            **{k: np.stack(v) for k, v in rows.items()})
        write_private_bytes(path, buffer.getvalue())
        self.written.append(path)
        return path


def load_policy_inputs(path) -> dict:
    """One recorded episode -> {key: array} (plus 'episode_id' as a str)."""
    with np.load(Path(path), allow_pickle=False) as data:
        out = {k: data[k] for k in data.files}
    out['episode_id'] = str(out['episode_id'])
    return out
