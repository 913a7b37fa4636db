"""The embedded store: one SQLite file in WAL mode, one writer thread with group commits,
and one read connection per querying thread.

Write semantics (what "acknowledged" means): every write is an operation handed to
``GroupCommitWriter.submit``, which returns a ``concurrent.futures.Future`` at once. The writer
thread runs queued operations in one transaction and commits; only then are their futures
resolved. A write is acknowledged when its future resolves, so an acknowledged write is in
the database file (synchronous=FULL: on disk, surviving power loss; NORMAL: surviving a
killed process). The writer runs what is queued, never waits for more, and commits a batch
once it has run for ``max_batch_delay_s``, so a transaction holds at most that much work and,
under any load the writer keeps up with, a write waits about two batch times at most.

In-memory mode (path ':memory:') uses a shared-cache in-memory database so that the writer and
the readers see one database; readers use read_uncommitted there, as shared cache has no WAL.
"""

from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import Future
from contextlib import contextmanager
from dataclasses import dataclass
import os
import queue
import sqlite3
import threading
import time
import uuid

from memory_nodes.file_safety import FILE_MODE, private_file

from .schema import SCHEMA_VERSION, migrate

SYNCHRONOUS_MODES = ('OFF', 'NORMAL', 'FULL', 'EXTRA')
CHECK_ON_OPEN = ('off', 'quick', 'full')
# SQLite result codes that mean the file itself failed (not one operation's data)
FILE_ERRORS = ('SQLITE_FULL', 'SQLITE_READONLY', 'SQLITE_IOERR', 'SQLITE_CANTOPEN',
               'SQLITE_CORRUPT', 'SQLITE_NOTADB', 'SQLITE_PERM')
RECOVERY_HINT = ('it is left as it is; recover what it holds with `sqlite3 FILE .recover | '
                 'sqlite3 NEW` or restore a backup (docs/faults.md)')


class StoreError(RuntimeError):
    """The memory file could not be opened or written; the message names the file and the
    cause (SQLite's or the OS's)."""


class StoreCorruptError(StoreError):
    """The memory file is damaged (not a database, or it fails SQLite's check on open)."""


class StoreWriteError(StoreError):
    """A write failed in the file (disk full, read-only, I/O error): it was rolled back and
    not acknowledged; what was acknowledged before is intact."""


def is_file_error(error: BaseException) -> bool:
    """True when an exception is a failure of the file or its disk, not of one operation."""
    if isinstance(error, OSError):
        return True
    name = getattr(error, 'sqlite_errorname', '') or ''
    return isinstance(error, sqlite3.Error) and name.startswith(FILE_ERRORS)


@dataclass(frozen=True)
class StoreConfig:
    """How the SQLite file is opened and how writes are grouped."""

    synchronous: str = 'FULL'        # FULL: acknowledged writes survive power loss
    max_batch_delay_s: float = 0.02  # longest a batch stays open before it commits
    max_batch_ops: int = 2000        # most operations in one transaction
    max_pending_ops: int = 20000     # queue bound; submit blocks beyond it (back-pressure)
    busy_timeout_ms: int = 5000      # readers wait this long for a lock (in-memory mode)
    # the write-ahead log is folded back into the file by a background thread (a PASSIVE
    # checkpoint on its own connection, at most this often), never inside a commit: SQLite's
    # automatic checkpoint runs in the committing write and stalled acknowledgements for
    # hundreds of ms (ack wait p99 at 2,000 obs/s: 447 ms before; 1.3 ms with this and the
    # 20 ms batch window, docs/memory.md)
    checkpoint_period_s: float = 1.0
    # how an existing file is checked before anything writes to it: 'quick' (PRAGMA
    # quick_check: every page and record format, no index cross-check; 0.12 s on an 84 MB
    # file, warm cache; docs/faults.md), 'full' (integrity_check, 0.7 s there) or 'off'
    check_on_open: str = 'quick'

    def __post_init__(self):
        if self.check_on_open not in CHECK_ON_OPEN:
            raise ValueError(f'check_on_open={self.check_on_open!r}: expected one of '
                             f'{CHECK_ON_OPEN}')
        if self.synchronous.upper() not in SYNCHRONOUS_MODES:
            raise ValueError(f'synchronous={self.synchronous!r}: expected one of '
                             f'{SYNCHRONOUS_MODES}')
        if not 0 < self.max_batch_delay_s <= 0.1:
            raise ValueError(f'max_batch_delay_s={self.max_batch_delay_s}: must be in '
                             '(0, 0.1] so that at most 100 ms of writes are pending')
        if not 0 < self.checkpoint_period_s <= 3600:
            raise ValueError(f'checkpoint_period_s={self.checkpoint_period_s}: expected '
                             'seconds in (0, 3600]')
        if self.max_batch_ops < 1 or self.max_pending_ops < 1:
            raise ValueError(f'max_batch_ops={self.max_batch_ops} and max_pending_ops='
                             f'{self.max_pending_ops} must be >= 1')


class SQLiteStore:
    """Connections to one memory database (a file, or ':memory:')."""

    def __init__(self, path: str = ':memory:', config: StoreConfig | None = None,
                 read_only: bool = False):
        self.path = str(path)
        self.config = config = config or StoreConfig()
        self.in_memory = self.path == ':memory:'
        self.read_only = read_only
        if self.in_memory:
            if read_only:
                raise ValueError("path=':memory:': an in-memory store cannot be read-only")
            self._uri = f'file:lifelong-{uuid.uuid4().hex}?mode=memory&cache=shared'
        else:
            folder = os.path.dirname(os.path.abspath(self.path))
            if not os.path.isdir(folder):
                raise ValueError(f'path={self.path!r}: folder {folder!r} does not exist')
            if read_only and not os.path.isfile(self.path):
                raise ValueError(f'path={self.path!r}: no such memory file')
            if not read_only:
                # owner-only before SQLite opens it: SQLite gives the -wal and -shm files
                # the database file's mode
                try:
                    private_file(self.path, parents=False)
                    for suffix in ('-wal', '-shm'):
                        if os.path.isfile(self.path + suffix):
                            os.chmod(self.path + suffix, FILE_MODE)
                except PermissionError as error:
                    raise StoreError(f'memory file {self.path!r} cannot be opened for '
                                     f'writing: {error.strerror} (read-only file, folder '
                                     'or mount?)') from error
            self._uri = 'file:' + os.path.abspath(self.path) + ('?mode=ro' if read_only else '')
        try:
            self.write_conn = self._connect()
            self._check_on_open()
        except sqlite3.Error as error:
            if getattr(self, 'write_conn', None) is not None:
                self.write_conn.close()
            name = getattr(error, 'sqlite_errorname', '') or ''
            if name.startswith(('SQLITE_CORRUPT', 'SQLITE_NOTADB')):
                raise StoreCorruptError(f'memory file {self.path!r} is damaged: {error}; '
                                        f'{RECOVERY_HINT}') from error
            raise StoreError(f'memory file {self.path!r} cannot be opened'
                             f'{"" if read_only else " for writing"}: {error} ({name})') \
                from error
        try:
            self._prepare(read_only, config)
        except sqlite3.Error as error:
            self.write_conn.close()
            if is_file_error(error):
                raise StoreError(f'memory file {self.path!r} cannot be opened for writing: '
                                 f'{error}') from error
            raise
        self._local = threading.local()
        self._readers: list[sqlite3.Connection] = []
        self._readers_lock = threading.Lock()
        self.closed = False
        self._stop_checkpoints = threading.Event()
        self._checkpoint_thread = None
        if not read_only and not self.in_memory:
            self._checkpoint_thread = threading.Thread(
                target=self._checkpointer, name='memory-checkpoint', daemon=True)
            self._checkpoint_thread.start()

    def _check_on_open(self) -> None:
        """Refuse a damaged file before anything writes to it (the switch to WAL below
        rewrites the header): StoreCorruptError names the file and SQLite's finding."""
        if self.in_memory or self.config.check_on_open == 'off':
            self.write_conn.execute('PRAGMA schema_version').fetchone()  # 'not a database'
            return
        pragma = 'quick_check(5)' if self.config.check_on_open == 'quick' \
            else 'integrity_check(5)'
        rows = [r[0] for r in self.write_conn.execute(f'PRAGMA {pragma}')]
        if rows != ['ok']:
            self.write_conn.close()
            raise StoreCorruptError(f'memory file {self.path!r} is damaged: PRAGMA {pragma} '
                                    f'found {"; ".join(rows)}; {RECOVERY_HINT}')

    def _prepare(self, read_only: bool, config: StoreConfig) -> None:
        """Check the schema (read-only) or switch to WAL and migrate (writable)."""
        if read_only:
            version = self.write_conn.execute('PRAGMA user_version').fetchone()[0]
            if version != SCHEMA_VERSION:
                raise ValueError(f'path={self.path!r}: schema version {version}, this library '
                                 f'reads {SCHEMA_VERSION}; open it once for writing to migrate')
            self.schema_version = version
        else:
            if not self.in_memory:
                mode = self.write_conn.execute('PRAGMA journal_mode=WAL').fetchone()[0]
                if mode.lower() != 'wal':
                    raise RuntimeError(f'could not switch {self.path!r} to WAL (got {mode!r})')
                # keep the write-ahead log from growing past 4 MB between checkpoints
                self.write_conn.execute('PRAGMA journal_size_limit=4194304')
                self.write_conn.execute('PRAGMA wal_autocheckpoint=0')  # see _checkpointer
            self.write_conn.execute(f'PRAGMA synchronous={config.synchronous.upper()}')
            self.schema_version = migrate(self.write_conn)

    def _checkpointer(self) -> None:
        """Every checkpoint_period_s: a PASSIVE checkpoint on a connection of its own (it
        copies what no reader needs and never blocks the writer)."""
        conn = self._connect()
        try:
            while not self._stop_checkpoints.wait(self.config.checkpoint_period_s):
                try:
                    conn.execute('PRAGMA wal_checkpoint(PASSIVE)')
                except sqlite3.Error:
                    pass  # busy or closing: the next period tries again
        finally:
            conn.close()

    def _connect(self) -> sqlite3.Connection:
        conn = sqlite3.connect(self._uri, uri=True, isolation_level=None,
                               check_same_thread=False)
        conn.execute(f'PRAGMA busy_timeout={self.config.busy_timeout_ms}')
        return conn

    def reader(self) -> sqlite3.Connection:
        """This thread's read-only connection (made on first use)."""
        conn = getattr(self._local, 'conn', None)
        if conn is None:
            if self.closed:
                raise RuntimeError(f'store {self.path!r} is closed')
            conn = self._connect()
            if self.in_memory:
                conn.execute('PRAGMA read_uncommitted=1')
            conn.execute('PRAGMA query_only=1')
            self._local.conn = conn
            with self._readers_lock:
                self._readers.append(conn)
        return conn

    @contextmanager
    def transaction(self):
        """BEGIN IMMEDIATE on the write connection; COMMIT on success, ROLLBACK on error."""
        conn = self.write_conn
        conn.execute('BEGIN IMMEDIATE')
        try:
            yield conn
            conn.execute('COMMIT')
        except BaseException:
            # a failed COMMIT (disk full, I/O error) may have rolled back already
            if conn.in_transaction:
                conn.execute('ROLLBACK')
            raise

    def size_bytes(self) -> int:
        """Database file plus write-ahead log, or the in-memory page total."""
        if self.in_memory:
            pages = self.write_conn.execute('PRAGMA page_count').fetchone()[0]
            size = self.write_conn.execute('PRAGMA page_size').fetchone()[0]
            return pages * size
        total = 0
        for suffix in ('', '-wal'):
            try:
                total += os.path.getsize(self.path + suffix)
            except OSError:
                pass
        return total

    def checkpoint(self) -> None:
        """Fold the write-ahead log back into the database file."""
        if not self.in_memory and not self.read_only:
            self.write_conn.execute('PRAGMA wal_checkpoint(TRUNCATE)')

    def close(self) -> None:
        if self.closed:
            return
        self.closed = True
        self._stop_checkpoints.set()
        if self._checkpoint_thread is not None:
            self._checkpoint_thread.join()
        with self._readers_lock:
            for conn in self._readers:
                conn.close()
            self._readers.clear()
        self.checkpoint()
        self.write_conn.close()


@dataclass
class _Op:
    fn: Callable[[sqlite3.Connection], object]
    future: Future
    submitted: float


class GroupCommitWriter:
    """The single writer thread: runs submitted operations in batched transactions.

    ``on_rollback`` is called (in the writer thread) after a failed batch was rolled back,
    so that in-memory caches derived from the database can be reloaded before the batch's
    operations are retried one at a time (the failing one gets the exception).
    """

    def __init__(self, store: SQLiteStore, on_rollback: Callable[[], None] | None = None,
                 after_commit: Callable[[], None] | None = None):
        self.store = store
        self.config = store.config
        self.on_rollback = on_rollback
        self.after_commit = after_commit
        self._queue: queue.Queue[_Op | None] = queue.Queue(self.config.max_pending_ops)
        self.commits = 0
        self.ops_committed = 0
        self.max_pending_s = 0.0      # longest wait from submit to acknowledgement seen
        self.write_errors = 0         # operations that failed because the file did
        self._thread = threading.Thread(target=self._run, name='memory-writer', daemon=True)
        self._stopped = False
        self._thread.start()

    def submit(self, fn: Callable[[sqlite3.Connection], object]) -> Future:
        """Queue ``fn(conn)`` to run inside a write transaction; the future resolves with its
        result once the transaction holding it has committed (or with its exception)."""
        if self._stopped:
            raise RuntimeError('the memory writer is closed')
        op = _Op(fn, Future(), time.monotonic())
        self._queue.put(op)
        return op.future

    def pending(self) -> int:
        """Operations queued and not yet committed (approximately)."""
        return self._queue.qsize()

    def flush(self, timeout: float | None = 30.0) -> None:
        """Wait until everything submitted so far is committed."""
        self.submit(lambda conn: None).result(timeout)

    def close(self) -> None:
        if self._stopped:
            return
        self._stopped = True
        self._queue.put(None)
        self._thread.join()

    def _run(self) -> None:
        while True:
            op = self._queue.get()
            if op is None:
                return
            if self._run_batch(op):
                return

    def _run_batch(self, first: _Op) -> bool:
        """Run ``first`` and whatever is queued behind it in one transaction, until the queue
        is empty, ``max_batch_ops`` ran or ``max_batch_delay_s`` passed since the batch began;
        then commit and resolve their futures. Returns True when close() was seen."""
        batch, results, stop = [first], [], False
        deadline = time.monotonic() + self.config.max_batch_delay_s
        try:
            with self.store.transaction() as conn:
                results.append(first.fn(conn))
                while len(batch) < self.config.max_batch_ops and time.monotonic() < deadline:
                    try:
                        nxt = self._queue.get_nowait()
                    except queue.Empty:
                        break
                    if nxt is None:
                        stop = True
                        break
                    batch.append(nxt)
                    results.append(nxt.fn(conn))
        except BaseException:  # noqa: B902 - one bad operation must not sink the others
            if self.on_rollback:
                self.on_rollback()
            for op in batch:
                self._run_alone(op)
            return stop
        self._acknowledge(batch, results)
        return stop

    def _run_alone(self, op: _Op) -> None:
        try:
            with self.store.transaction() as conn:
                result = op.fn(conn)
        except BaseException as err:  # noqa: B902
            if self.on_rollback:
                self.on_rollback()
            if is_file_error(err):
                self.write_errors += 1
                wrapped = StoreWriteError(
                    f'memory file {self.store.path!r}: write failed: {err} (the write was '
                    'rolled back and not stored; earlier acknowledged writes are intact)')
                wrapped.__cause__ = err
                err = wrapped
            op.future.set_exception(err)
            return
        self._acknowledge([op], [result])

    def _acknowledge(self, batch: list[_Op], results: list) -> None:
        self.commits += 1
        self.ops_committed += len(batch)
        if self.after_commit:
            self.after_commit()
        now = time.monotonic()
        self.max_pending_s = max(self.max_pending_s, now - batch[0].submitted)
        for op, result in zip(batch, results):
            op.future.set_result(result)
