"""Owner-only modes of what the stack writes, and path validation (memory_nodes.file_safety).

Every test runs under the common umask 0o022, so a mode of 0o600 / 0o700 here comes from the
stack's own code, not from a restrictive umask. Real files: a real SQLite store with its
write-ahead log, the `memory export` CLI, a real checkpoint, a run folder with node logs
from memory_nodes.runner, a rosbag2 bag written with rosbags.
"""

import json
import os
from pathlib import Path
import stat
import sys

import pytest

from memory_nodes.file_safety import (
    UnsafePathError,
    check_path,
    open_private,
    private_dir,
    private_file,
    restrict_tree,
    write_private_text,
)


def mode(path):
    return stat.S_IMODE(os.lstat(path).st_mode)


@pytest.fixture(autouse=True)
def common_umask():
    previous = os.umask(0o022)
    yield
    os.umask(previous)


# -- the helpers themselves -------------------------------------------------------------------
def test_private_dir_and_files_are_owner_only(tmp_path):
    shared = tmp_path / 'shared'
    shared.mkdir(mode=0o755)
    folder = private_dir(shared / 'a' / 'b')
    assert mode(shared / 'a') == mode(folder) == 0o700
    assert mode(shared) == 0o755            # a folder that existed keeps its mode
    text = write_private_text(folder / 'x.json', '{}')
    assert mode(text) == 0o600 and text.read_text() == '{}'
    assert not [p for p in folder.iterdir() if p.name.endswith('.tmp')]   # atomic, no litter
    with open_private(folder / 'log.txt', 'a') as f:
        f.write('line\n')
    assert mode(folder / 'log.txt') == 0o600
    wide = folder / 'wide.bin'
    wide.write_bytes(b'kept')
    os.chmod(wide, 0o644)
    assert mode(private_file(wide)) == 0o600 and wide.read_bytes() == b'kept'


def test_private_file_refuses_a_planted_symlink(tmp_path):
    victim = tmp_path / 'victim.txt'
    victim.write_text('secret')
    link = tmp_path / 'out.json'
    link.symlink_to(victim)
    with pytest.raises(UnsafePathError, match='is a symlink'):
        private_file(link)
    with pytest.raises(UnsafePathError, match='is a symlink'):
        write_private_text(link, 'overwritten')
    assert victim.read_text() == 'secret'


def test_restrict_tree(tmp_path):
    (tmp_path / 'bag' / 'sub').mkdir(parents=True)
    (tmp_path / 'bag' / 'sub' / 'f').write_text('x')
    restrict_tree(tmp_path / 'bag')
    assert mode(tmp_path / 'bag') == mode(tmp_path / 'bag' / 'sub') == 0o700
    assert mode(tmp_path / 'bag' / 'sub' / 'f') == 0o600


@pytest.mark.parametrize('value, message', [
    ('', 'the path is empty'),
    ('   ', 'the path is empty'),
    ('mem\x00ory.db', 'NUL byte'),
    (42, 'expected a path string, got int'),
    (None, 'expected a path string, got NoneType'),
])
def test_malformed_paths_are_refused_naming_the_argument(value, message):
    with pytest.raises(UnsafePathError, match=message) as info:
        check_path(value, 'store_path')
    assert str(info.value).startswith(f'store_path={value!r}')


def test_paths_must_stay_in_their_root(tmp_path):
    root = tmp_path / 'data'
    root.mkdir()
    outside = tmp_path / 'elsewhere'
    outside.mkdir()
    assert check_path('memory.db', 'store_path', root) == root / 'memory.db'   # relative: in root
    assert check_path(str(root / 'sub' / 'm.db'), 'store_path', root) == root / 'sub' / 'm.db'
    assert check_path(':memory:', 'store_path', root, allow_memory=True) == ':memory:'
    for escape in ('../elsewhere/memory.db', str(root / '..' / 'elsewhere' / 'm.db'),
                   str(outside / 'memory.db'), '/etc/cron.d/x'):
        with pytest.raises(UnsafePathError, match='outside storage_root=') as info:
            check_path(escape, 'store_path', root, root_name='storage_root')
        assert f'store_path={escape!r}' in str(info.value)
    (root / 'link').symlink_to(outside)     # a symlink inside the root pointing out of it
    with pytest.raises(UnsafePathError, match='resolves to .*elsewhere.* outside'):
        check_path(str(root / 'link' / 'memory.db'), 'store_path', root,
                   root_name='storage_root')
    os.environ['MEMORY_TEST_ROOT'] = str(root)
    try:
        assert check_path('$MEMORY_TEST_ROOT/m.db', 'store_path', '$MEMORY_TEST_ROOT') == \
            root / 'm.db'
    finally:
        del os.environ['MEMORY_TEST_ROOT']


# -- the stack's writers ----------------------------------------------------------------------
def test_memory_store_and_its_wal_are_owner_only(tmp_path):
    from memory_nodes.lifelong_memory import LifelongMemory, MemoryEvent
    db = tmp_path / 'memory.db'
    memory = LifelongMemory(str(db))
    try:
        memory.log_event(MemoryEvent(stamp=1.0, kind='appeared', subject='red cube')).result(10)
        assert (tmp_path / 'memory.db-wal').exists()
        for suffix in ('', '-wal', '-shm'):
            assert mode(f'{db}{suffix}') == 0o600, suffix
    finally:
        memory.close()
    assert mode(db) == 0o600
    os.chmod(db, 0o644)                      # an old file made before this rule is tightened
    LifelongMemory(str(db)).close()
    assert mode(db) == 0o600


def test_memory_export_is_owner_only_and_refuses_the_memory_file(tmp_path, capsys):
    from memory_nodes.lifelong_memory import LifelongMemory, MemoryEvent
    from memory_nodes.lifelong_memory.cli import main
    db = tmp_path / 'memory.db'
    with LifelongMemory(str(db)) as memory:
        memory.log_event(MemoryEvent(stamp=1.0, kind='appeared', subject='red cube')).result(10)
    out = tmp_path / 'export' / 'rows.jsonl'
    assert main(['export', '--db', str(db), '--out', str(out)]) == 0
    assert mode(out) == 0o600 and mode(out.parent) == 0o700
    assert any(json.loads(line)['table'] == 'events' for line in out.read_text().splitlines())
    assert main(['export', '--db', str(db), '--out', str(db)]) == 2
    assert 'is the memory file itself' in capsys.readouterr().err
    assert main(['export', '--db', str(db), '--out', 'a\x00b']) == 2
    assert 'NUL byte' in capsys.readouterr().err


def test_checkpoint_folder_is_owner_only(tmp_path):
    torch = pytest.importorskip('torch')
    from models.checkpoint import load_checkpoint, save_checkpoint
    from models.config import PolicyConfig
    from models.network import MemoryDiffusionNet
    torch.manual_seed(0)
    net = MemoryDiffusionNet(tiny_policy_config(PolicyConfig))
    folder = save_checkpoint(tmp_path / 'runs' / 'ckpt', net, {'seed': 0})
    assert mode(folder) == mode(folder.parent) == 0o700
    assert mode(folder / 'model.safetensors') == mode(folder / 'config.json') == 0o600
    load_checkpoint(folder)   # still loads


def tiny_policy_config(cls):
    return cls(
        encoder=dict(width=32, heads=2, cnn_channels=(8, 16, 16, 32), proprio_dim=5,
                     object_slots=3, object_dim=9, perceptual_tokens=4),
        memory=dict(capacity=8, write_every=4, heads=2),
        denoiser=dict(width=32, layers=2, heads=2, unet_dims=(16, 32, 64), unet_cond_dim=32),
        diffusion=dict(train_timesteps=50, inference_steps=5))


def test_run_folder_logs_and_enclaves_of_the_runner(tmp_path):
    """memory_nodes.runner makes the run folder 0o700 and each node log 0o600; with
    enclave_root each node's command line carries its own SROS2 enclave. The 'python' here
    is /bin/true, so the processes end at once: what is tested is what the runner does."""
    from memory_nodes.runner import StackProcesses, composed_ros_args
    from memory_nodes.stack_description import load_stack, node_enclave
    run = tmp_path / 'runs' / 'main_job' / 'now'
    stack = StackProcesses(load_stack('robot'), only=['memory', 'planner'], log_dir=str(run),
                           python='/bin/true', enclave_root='/memory_stack')
    stack.start()
    try:
        for name, proc in stack.processes.items():
            proc.wait(timeout=10)
            argv = proc.args
            assert argv[argv.index('--enclave') + 1] == f'/memory_stack/{name}'
            assert argv.index('--enclave') > argv.index('--ros-args')
            assert mode(run / f'{name}.log') == 0o600
    finally:
        stack.stop()
    assert mode(run) == mode(run.parent) == 0o700
    plain = StackProcesses(load_stack('robot'), only=['memory'], python='/bin/true')
    assert '--enclave' not in plain.specs[0].process_command('python', 'p.yaml')
    assert composed_ros_args(load_stack('robot'), node_enclave('/memory_stack', 'composed'))[
        -2:] == ['--enclave', '/memory_stack/composed']
    for bad in ('memory_stack', '/memory stack', '/a/../b', '/1abc'):
        with pytest.raises(ValueError, match='enclave_root='):
            StackProcesses(load_stack('robot'), enclave_root=bad)


def test_recorded_bag_is_owner_only(tmp_path):
    pytest.importorskip('rosbags')
    from memory_nodes.evaluation.bagio import BagWriter
    bag = tmp_path / 'bags' / 'run1'
    writer = BagWriter(bag)
    writer.add_topic('/instruction', 'std_msgs/msg/String')
    writer.write('/instruction', 1, bytes([0, 1, 0, 0, 2, 0, 0, 0, 104, 0]))
    assert mode(bag) == 0o700          # already while it is being written
    writer.close()
    files = [p for p in bag.rglob('*')]
    assert files and all(mode(p) == (0o700 if p.is_dir() else 0o600) for p in files)
    assert mode(bag.parent) == 0o700


def test_demo_dataset_is_owner_only(tmp_path):
    from models.synthetic import write_synthetic_dataset
    paths = write_synthetic_dataset(tmp_path / 'data', [0])
    assert mode(paths[0]) == mode(tmp_path / 'data' / 'meta.json') == 0o600
    assert mode(paths[0].parent) == mode(tmp_path / 'data') == 0o700
    import numpy as np
    with np.load(paths[0], allow_pickle=False) as npz:
        assert 'action' in npz.files


def test_node_processes_use_an_owner_only_umask():
    """run_lifecycle_node sets umask 0o077, so files libraries create in a node process are
    owner-only too (checked in the source: starting a node process here costs seconds)."""
    from memory_nodes import ros_common
    source = Path(ros_common.__file__).read_text()
    assert 'os.umask(OWNER_ONLY_UMASK)' in source
    assert sys.modules['memory_nodes.file_safety'].OWNER_ONLY_UMASK == 0o077
