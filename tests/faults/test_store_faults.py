"""The memory store file under real faults: disk full, read-only, damaged or truncated.

Disk full is a real OS write failure (a child process under RLIMIT_FSIZE with SIGXFSZ
ignored, so a write past the limit fails with EFBIG) and a real SQLITE_FULL (PRAGMA
max_page_count); read-only is a child process that gives up root's power over file
permissions (setpriv) and meets a file or folder it may not write. After each fault the
file must pass PRAGMA integrity_check and hold every write acknowledged before the fault;
a damaged file is refused on open, with its path in the message, and left byte for byte as
it was.
"""

import hashlib
import os
import random
import shutil
import sqlite3
import subprocess
import sys
import textwrap

import pytest

from memory_nodes.lifelong_memory import (
    LifelongMemory,
    MemoryEvent,
    Query,
    QueryKind,
    StoreCorruptError,
    StoreWriteError,
)

NOBODY = 65534


def digest(path):
    return hashlib.sha256(open(path, 'rb').read()).hexdigest()


def tick(step):
    return MemoryEvent(step * 0.1, 'tick', f'step {step}', episode_id='faults',
                       text=f'tick number {step}')


def check_file(path, acked):
    """integrity_check passes and every acknowledged step is in the file."""
    conn = sqlite3.connect(path)
    try:
        assert conn.execute('PRAGMA integrity_check').fetchone()[0] == 'ok'
        have = {int(s.split()[1]) for (s,) in conn.execute(
            "SELECT subject FROM events WHERE kind = 'tick'")}
    finally:
        conn.close()
    missing = sorted(set(acked) - have)
    assert not missing, f'{len(missing)} acknowledged writes lost, e.g. {missing[:5]}'


def fill(path, n):
    with LifelongMemory(path) as mem:
        for f in [mem.log_event(tick(i)) for i in range(n)]:
            f.result(10)


# -- disk full ----------------------------------------------------------------------------

def test_sqlite_full_fails_writes_clearly_and_keeps_what_was_acknowledged(tmp_path):
    path = str(tmp_path / 'full.db')
    mem = LifelongMemory(path)
    acked, errors = [], []
    try:
        for f in [mem.log_event(tick(i)) for i in range(50)]:
            f.result(10)
        acked += range(50)
        mem.writer.flush()
        conn = mem.store.write_conn  # the writer is idle: cap the file a few pages on
        pages = conn.execute('PRAGMA page_count').fetchone()[0]
        conn.execute(f'PRAGMA max_page_count={pages + 3}')
        for step in range(50, 3000):
            try:
                mem.log_event(tick(step)).result(10)
                acked.append(step)
            except StoreWriteError as error:
                errors.append(str(error))
                if len(errors) >= 5:
                    break
        assert errors, 'the capped file never filled up'
        assert path in errors[0] and 'full' in errors[0], errors[0]
        assert mem.writer.write_errors >= 5
        # it keeps answering from what it has
        result = mem.query(Query(kind=QueryKind.WHAT_HAPPENED, episode_id='faults', k=20))
        assert [e.subject for e in result.results][:3] == ['step 0', 'step 1', 'step 2']
        conn.execute('PRAGMA max_page_count=1073741823')  # space again: writes resume
        mem.log_event(tick(9999)).result(10)
        acked.append(9999)
    finally:
        mem.close()
    check_file(path, acked)


DISK_FULL_CHILD = textwrap.dedent("""
    import resource, signal, sys
    from memory_nodes.lifelong_memory import LifelongMemory, MemoryEvent, Query, QueryKind
    signal.signal(signal.SIGXFSZ, signal.SIG_IGN)   # EFBIG instead of death
    limit = int(sys.argv[2])
    resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))
    mem = LifelongMemory(sys.argv[1])
    failures = 0
    for step in range(100000):
        f = mem.log_event(MemoryEvent(step * 0.1, 'tick', f'step {step}', episode_id='faults',
                                      text='x' * 200 + str(step)))
        try:
            f.result(10)
            print('ACK', step, flush=True)
        except Exception as error:
            failures += 1
            print('FAIL', type(error).__name__, error, flush=True)
            if failures >= 10:
                break
    r = mem.query(Query(kind=QueryKind.WHAT_HAPPENED, episode_id='faults', k=1))
    print('QUERY', len(r.results), flush=True)
    try:
        mem.close()
    except Exception as error:
        print('CLOSE', type(error).__name__, error, flush=True)
    print('DONE', flush=True)
""")


def test_disk_full_is_a_clear_error_and_no_corruption(tmp_path):
    """A real EFBIG from the OS (RLIMIT_FSIZE) in the middle of writing."""
    path = str(tmp_path / 'disk_full.db')
    fill(path, 20)  # the file exists, with content, before the limit applies
    limit = os.path.getsize(path) + 300_000
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(sys.path))
    out = subprocess.run([sys.executable, '-c', DISK_FULL_CHILD, path, str(limit)],
                         capture_output=True, text=True, timeout=120, env=env)
    lines = out.stdout.splitlines()
    assert 'DONE' in lines, out.stdout[-2000:] + out.stderr[-2000:]
    acked = [int(x.split()[1]) for x in lines if x.startswith('ACK')]
    fails = [x for x in lines if x.startswith('FAIL')]
    assert acked and len(fails) == 10, out.stdout[-2000:]
    assert all('StoreWriteError' in f and path in f for f in fails), fails[:2]
    assert any('full' in f or 'too large' in f.lower() for f in fails), fails[:2]
    assert 'QUERY 1' in lines  # reads go on
    check_file(path, list(range(20)) + acked)


# -- read-only ----------------------------------------------------------------------------

READ_ONLY_CHILD = textwrap.dedent("""
    import sys
    from memory_nodes.lifelong_memory import LifelongMemory, StoreError
    try:
        LifelongMemory(sys.argv[1])
    except StoreError as error:
        print('REFUSED', type(error).__name__, error, flush=True)
    else:
        print('OPENED', flush=True)
""")


# root that has given up the capabilities that override file permissions: it meets a
# read-only file or folder as any user would (uid 65534 could not even load this Python,
# which lives under /root)
DROP_ROOT = ['setpriv', '--inh-caps=-dac_override,-dac_read_search',
             '--bounding-set=-dac_override,-dac_read_search']


@pytest.fixture()
def public_dir(tmp_path):
    yield str(tmp_path)
    os.chmod(tmp_path, 0o755)


@pytest.mark.skipif(shutil.which('setpriv') is None, reason='needs setpriv (util-linux)')
@pytest.mark.parametrize('what', ['file', 'folder'])
def test_read_only_store_is_refused_clearly_and_left_as_it_was(public_dir, what):
    path = os.path.join(public_dir, 'ro.db')
    fill(path, 10)
    if what == 'file':
        os.chmod(path, 0o444)      # a file the process may not write
    else:
        os.chmod(path, 0o666)      # writable file in a folder where no -wal / -shm can go
        os.chmod(public_dir, 0o555)
    before = digest(path)
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(sys.path), HOME=public_dir)
    out = subprocess.run([*DROP_ROOT, sys.executable, '-c', READ_ONLY_CHILD, path],
                         capture_output=True, text=True, timeout=120, env=env, cwd='/')
    assert out.stdout.startswith('REFUSED StoreError'), out.stdout + out.stderr[-2000:]
    assert path in out.stdout and 'cannot be opened for writing' in out.stdout, out.stdout
    assert digest(path) == before
    os.chmod(public_dir, 0o755)
    check_file(path, range(10))


# -- damaged files ------------------------------------------------------------------------

def damage(path, how, rng):
    size = os.path.getsize(path)
    with open(path, 'r+b') as f:
        if how == 'header':
            f.seek(0)
            f.write(bytes(rng.randrange(256) for _ in range(100)))
        elif how == 'middle':
            page = 4096
            for k in (size // 3, size // 2, 2 * size // 3):  # three whole pages
                f.seek(k // page * page)
                f.write(bytes(rng.randrange(256) for _ in range(page)))
        elif how == 'truncated':
            f.truncate(size // 2)


@pytest.mark.parametrize('how', ['header', 'middle', 'truncated'])
def test_a_damaged_store_is_refused_and_left_untouched(tmp_path, how):
    path = str(tmp_path / f'{how}.db')
    with LifelongMemory(path) as mem:
        futures = [mem.log_event(tick(i)) for i in range(3000)]
        futures[-1].result(30)
    assert os.path.getsize(path) > 100_000
    damage(path, how, random.Random(7))
    before = digest(path)
    with pytest.raises(StoreCorruptError) as info:
        LifelongMemory(path)
    message = str(info.value)
    assert repr(path) in message and 'damaged' in message and '.recover' in message
    assert digest(path) == before, 'opening changed the damaged file'
    assert not os.path.exists(path + '-wal') or os.path.getsize(path + '-wal') == 0
