"""SIGKILL in the middle of sustained ingest: every acknowledged write survives and the file
passes PRAGMA integrity_check. A child process really ingests (observations of 10 objects plus
one event per step) and prints each step once both its futures resolved; the parent kills it
with SIGKILL at a random moment, then reopens the file."""

import os
import random
import signal
import sqlite3
import subprocess
import sys
import textwrap
import threading
import time

import pytest

from memory_nodes.lifelong_memory import LifelongMemory

CHILD = textwrap.dedent("""
    import sys
    from memory_nodes.lifelong_memory import (LifelongMemory, MemoryEvent,
                                              ObjectObservation)
    mem = LifelongMemory(sys.argv[1])
    start = int(sys.argv[2])
    print('ready', flush=True)

    def ack(step, futures):
        def done(_):
            if all(f.done() and f.exception() is None for f in futures):
                print(step, flush=True)
        return done

    step = start
    while True:
        t = step * 0.033
        obs = [ObjectObservation(stamp=t, label='cube', color=c, position=(0.1 * i, 0, 0.8))
               for i, c in enumerate(['red', 'green', 'blue', 'white', 'black', 'pink',
                                      'cyan', 'grey', 'brown', 'orange'])]
        futures = [mem.ingest(obs, episode_id='soak'),
                   mem.log_event(MemoryEvent(t, 'tick', f'step {step}', episode_id='soak'))]
        futures[1].add_done_callback(ack(step, futures))
        futures[0].add_done_callback(ack(step, futures))
        step += 1
""")


def run_and_kill(path, start, kill_after_s, env):
    proc = subprocess.Popen([sys.executable, '-c', CHILD, path, str(start)],
                            stdout=subprocess.PIPE, text=True, env=env)
    acked, ready = [], threading.Event()

    def read():
        for line in proc.stdout:
            if line.strip() == 'ready':
                ready.set()
            elif line.strip():
                acked.append(int(line))
    reader = threading.Thread(target=read, daemon=True)
    reader.start()
    assert ready.wait(60), 'child did not start'
    deadline = time.monotonic() + 30  # kill in the middle of sustained ingest: after the
    while not acked and time.monotonic() < deadline:  # first acknowledgement, not before
        time.sleep(0.01)
    time.sleep(kill_after_s)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait(10)
    reader.join(10)
    return sorted(set(acked))


def check(path, acked):
    conn = sqlite3.connect(path)
    assert conn.execute('PRAGMA integrity_check').fetchone()[0] == 'ok'
    conn.close()
    with LifelongMemory(path) as mem:          # reopens (migrations, caches, index)
        conn = mem.store.reader()
        have = {int(s.split()[1]) for (s,) in conn.execute(
            "SELECT subject FROM events WHERE kind = 'tick'")}
        missing = [s for s in acked if s not in have]
        assert not missing, f'{len(missing)} acknowledged steps lost, e.g. {missing[:5]}'
        n_obs = conn.execute('SELECT SUM(n_obs) FROM tracks').fetchone()[0] or 0
        assert n_obs >= 10 * len(acked)
        assert mem.stats()['spatial_tracks'] == 10    # one track per object, reopen or not
        return max(have) + 1 if have else 0


def soak(tmp_path, kills, seed):
    rng = random.Random(seed)
    path = str(tmp_path / 'soak.db')
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(sys.path))
    start, total = 0, 0
    for _ in range(kills):
        acked = run_and_kill(path, start, rng.uniform(0.2, 1.5), env)
        assert acked, 'nothing was acknowledged before the kill'
        total += len(acked)
        start = check(path, acked)
    return total


def test_sigkill_during_ingest_keeps_acknowledged_writes(tmp_path):
    seed = random.randrange(1 << 30)
    print('seed', seed)
    assert soak(tmp_path, kills=3, seed=seed) > 0


@pytest.mark.slow
def test_sigkill_soak_many_kills(tmp_path):
    seed = random.randrange(1 << 30)
    print('seed', seed)
    assert soak(tmp_path, kills=20, seed=seed) > 0
