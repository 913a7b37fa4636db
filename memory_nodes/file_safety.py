"""Owner-only files and validated paths for everything the stack writes (no ROS imports).

Two jobs, used by every writer of the stack (memory store, exports, checkpoints, run
folders, reports, GIFs, bags, demo datasets) and by every node that takes a path from a
parameter:

- create folders 0o700 and files 0o600, whatever the process umask: ``private_dir``,
  ``private_file`` (creates or tightens a file before a library writes into it, so it is
  never readable by others, not even for a moment), ``write_private_text`` /
  ``write_private_bytes`` (atomic: a temporary file in the same folder, then a rename),
  ``open_private`` (a file object on an owner-only file), ``restrict_tree`` (after a
  library that makes its own tree, e.g. a rosbag2 folder);
- validate paths: ``check_path`` refuses non-strings, empty strings and NUL bytes and, with
  a ``root``, anything that resolves (after ``~``, environment variables, ``..`` and
  symlinks) outside that folder. Errors are ``UnsafePathError`` (a ``ValueError``) naming
  the parameter or argument and the value.

``owner_only_umask()`` additionally sets the process umask to 0o077 (a context manager that
restores the previous one), for entry points that want every file a library creates to be
owner-only too.
"""

from __future__ import annotations

from contextlib import contextmanager
import os
from pathlib import Path
import tempfile

DIR_MODE = 0o700
FILE_MODE = 0o600
OWNER_ONLY_UMASK = 0o077
IN_MEMORY = ':memory:'


class UnsafePathError(ValueError):
    """A path that is empty, malformed, or resolves outside the folder it must stay in."""


def expand(value) -> str:
    """``~`` and environment variables expanded (no resolution, no checks)."""
    return os.path.expandvars(os.path.expanduser(os.fspath(value)))


def check_path(value, name: str, root=None, *, root_name: str = 'root',
               allow_memory: bool = False) -> Path | str:
    """Validate one path taken from a parameter, a CLI argument or a service request.

    Returns the resolved absolute ``Path`` (or ``':memory:'`` when ``allow_memory`` and that
    is the value). ``value`` is expanded (``~``, ``$VARS``); a relative value is taken
    relative to ``root`` when one is given (else to the working folder). With ``root``, the
    resolved path (symlinks followed, ``..`` folded) must be ``root`` or lie below it.
    Raises UnsafePathError naming ``name`` and the value.
    """
    if isinstance(value, Path):
        value = str(value)
    if not isinstance(value, str):
        raise UnsafePathError(f'{name}={value!r}: expected a path string, got '
                              f'{type(value).__name__}')
    if not value.strip():
        raise UnsafePathError(f'{name}={value!r}: the path is empty')
    if '\x00' in value:
        raise UnsafePathError(f'{name}={value!r}: the path contains a NUL byte')
    if allow_memory and value == IN_MEMORY:
        return IN_MEMORY
    path = Path(expand(value))
    root_path = None
    if root is not None and str(root) != '':
        root_path = check_path(root, root_name)
        if not path.is_absolute():
            path = root_path / path
    resolved = Path(os.path.realpath(path))
    if root_path is not None and resolved != root_path and root_path not in resolved.parents:
        raise UnsafePathError(f'{name}={value!r} resolves to {str(resolved)!r}, outside '
                              f'{root_name}={str(root)!r} ({str(root_path)!r})')
    return resolved


def private_dir(path) -> Path:
    """Create ``path`` and its missing parents with mode 0o700; return it.

    Folders that already exist keep their mode (they may be shared, e.g. the home folder);
    only the ones created here are made owner-only, whatever the umask.
    """
    path = Path(expand(path))
    missing = []
    probe = path
    while not probe.exists():
        if probe.is_symlink():   # a dangling symlink: refuse rather than create its target
            raise UnsafePathError(f'{str(probe)!r} is a dangling symlink')
        missing.append(probe)
        if probe.parent == probe:
            break
        probe = probe.parent
    for folder in reversed(missing):
        try:
            folder.mkdir(mode=DIR_MODE)
        except FileExistsError:
            pass   # made meanwhile by another writer
        os.chmod(folder, DIR_MODE)
    if not path.is_dir():
        raise UnsafePathError(f'{str(path)!r} exists and is not a folder')
    return path


def private_file(path, *, parents: bool = True) -> Path:
    """Create ``path`` empty with mode 0o600, or tighten an existing one to 0o600; return it.

    The content of an existing file is kept. A symlink as the last component is refused (a
    link planted where the stack writes could redirect the write). With ``parents``, missing
    folders are created 0o700.
    """
    path = Path(expand(path))
    if parents:
        private_dir(path.parent)
    flags = os.O_WRONLY | os.O_CREAT | getattr(os, 'O_NOFOLLOW', 0) | getattr(os, 'O_CLOEXEC', 0)
    try:
        fd = os.open(path, flags, FILE_MODE)
    except OSError as error:
        if path.is_symlink():
            raise UnsafePathError(f'{str(path)!r} is a symlink; the stack does not write '
                                  'through links') from error
        raise
    try:
        os.fchmod(fd, FILE_MODE)
    finally:
        os.close(fd)
    return path


def write_private_bytes(path, data: bytes) -> Path:
    """Write ``data`` to ``path`` atomically, mode 0o600 (parents created 0o700)."""
    path = Path(expand(path))
    folder = private_dir(path.parent)
    fd, tmp = tempfile.mkstemp(prefix=f'.{path.name}.', suffix='.tmp', dir=folder)
    try:
        with os.fdopen(fd, 'wb') as f:   # mkstemp makes it 0o600
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        if path.is_symlink():
            raise UnsafePathError(f'{str(path)!r} is a symlink; the stack does not write '
                                  'through links')
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise
    return path


def write_private_text(path, text: str, encoding: str = 'utf-8') -> Path:
    """Write ``text`` to ``path`` atomically, mode 0o600 (parents created 0o700)."""
    return write_private_bytes(path, text.encode(encoding))


def open_private(path, mode: str = 'w', **kwargs):
    """``open(path, mode)`` on a file created (or tightened) to 0o600 first."""
    if not any(c in mode for c in 'wax'):
        raise ValueError(f'mode={mode!r}: open_private is for writing')
    private_file(path)
    return open(path, mode, **kwargs)


def restrict_tree(path) -> Path:
    """Make ``path`` (a file or a folder and everything below it) owner-only: folders
    0o700, files 0o600. Symlinks are left alone (never followed)."""
    path = Path(path)
    if path.is_symlink():
        return path
    if path.is_file():
        os.chmod(path, FILE_MODE)
        return path
    os.chmod(path, DIR_MODE)
    for folder, dirs, files in os.walk(path):
        for d in dirs:
            p = os.path.join(folder, d)
            if not os.path.islink(p):
                os.chmod(p, DIR_MODE)
        for f in files:
            p = os.path.join(folder, f)
            if not os.path.islink(p):
                os.chmod(p, FILE_MODE)
    return path


@contextmanager
def owner_only_umask():
    """Set the process umask to 0o077 for the block (every file a library creates is then
    owner-only); the previous umask is restored afterwards."""
    previous = os.umask(OWNER_ONLY_UMASK)
    try:
        yield previous
    finally:
        os.umask(previous)


__all__ = ['DIR_MODE', 'FILE_MODE', 'IN_MEMORY', 'OWNER_ONLY_UMASK', 'UnsafePathError',
           'check_path', 'expand', 'private_dir', 'private_file', 'write_private_bytes',
           'write_private_text', 'open_private', 'restrict_tree', 'owner_only_umask']
