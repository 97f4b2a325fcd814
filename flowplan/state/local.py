"""The state file backend (imported as flowplan.state.file): JSON written atomically with the
previous version kept as `<state>.backup`, guarded during apply by an OS lock on `<state>.lock`
(released by the OS if the holder dies), the holder recorded in `<state>.lock.info`.

A state path that is a symlink is followed: its target is replaced atomically and the link
stays a link.
"""

from __future__ import annotations

import contextlib
import errno
import hashlib
import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

from flowplan.errors import StateConflictError, StateError
from flowplan.state.backend import (
    LockInfo,
    StateBackend,
    Token,
    check_size,
    holder_once_named,
    lock_held_error,
)


def atomic_write(path: Path, payload: bytes, mode: int = 0o600) -> None:
    """Replace `path` (its target, if it is a symlink) by `payload` all at once: a temporary
    file beside it, fsync, rename, fsync of the folder. On any failure (a full disk, say) the
    old content is intact, the temporary file is gone, and a StateError names the file."""
    target = _target_of(path)
    folder = target.parent
    try:
        folder.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=folder)
    except OSError as exc:
        raise _write_error(path, exc) from None
    try:
        try:
            os.fchmod(fd, mode)
            _write_all(fd, payload)
            os.fsync(fd)
        finally:
            os.close(fd)
        os.replace(tmp, target)
    except OSError as exc:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise _write_error(path, exc) from None
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise
    _fsync_dir(folder)


def _write_all(fd: int, payload: bytes) -> None:
    view = memoryview(payload)
    while view:
        written = os.write(fd, view)
        view = view[written:]


def _write_error(path: Path, exc: OSError) -> StateError:
    reason = exc.strerror or str(exc)
    if exc.errno == errno.ENOSPC:
        reason = "no space left on the device"
    return StateError(f"{path}: cannot write ({reason}); the previous content is intact")


def _target_of(path: Path) -> Path:
    """The file a write must replace: the symlink's final target, never the link itself."""
    if path.is_symlink():
        return Path(os.path.realpath(path))
    return path


def _fsync_dir(folder: Path) -> None:
    with contextlib.suppress(OSError):
        fd = os.open(folder, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


HOLDER_WAIT_S = 0.5  # the holder writes its record just after it takes the lock
HOLDER_POLL_S = 0.05


class FileBackend(StateBackend):
    """One state file, with its backup, lock and holder info beside it."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.backup_path = path.with_name(path.name + ".backup")
        self.lock_path = path.with_name(path.name + ".lock")
        self.holder_path = path.with_name(path.name + ".lock.info")
        self._held = False

    def describe(self) -> str:
        return str(self.path)

    def describe_backup(self) -> str:
        return str(self.backup_path) + ("" if self.backup_path.exists() else " (none exists)")

    def read(self) -> tuple[bytes | None, Token]:
        try:
            with open(self.path, "rb") as handle:
                size = os.fstat(handle.fileno()).st_size
                check_size(size, str(self.path), self.describe_backup())
                data = handle.read()
        except FileNotFoundError:
            return None, None
        except OSError as exc:
            raise StateError(f"{self.path}: cannot read the state: {exc.strerror}") from None
        return data, _token(data)

    def write(self, payload: bytes, expected: Token) -> Token:
        with self._exclusive():
            _, current = self.read()
            if current != expected:
                raise StateConflictError(
                    f"{self.path} was changed by someone else since it was read; nothing was "
                    "written. Run the command again"
                )
            self._keep_backup()
            atomic_write(self.path, payload)
        return _token(payload)

    def _keep_backup(self) -> None:
        """The current version becomes <state>.backup: a hard link, so that it is never
        missing; a copy when the state's target is on another file system."""
        target = _target_of(self.path)
        if not target.exists():
            return
        link = self.backup_path.with_name(self.backup_path.name + ".tmp")
        try:
            with contextlib.suppress(FileNotFoundError):
                link.unlink()
            try:
                os.link(target, link)
            except OSError:
                shutil.copyfile(target, link)
            os.replace(link, self.backup_path)
        except OSError as exc:
            raise _write_error(self.backup_path, exc) from None

    @contextlib.contextmanager
    def _exclusive(self) -> Iterator[None]:
        """Writes happen under the state's lock: the apply's, or one taken for the write."""
        if self._held:
            yield
            return
        with self.lock(0.0):
            yield

    @contextlib.contextmanager
    def lock(self, timeout: float = 0.0) -> Iterator[None]:
        import filelock  # here: a plan takes no lock, and the import is ~20 ms of start-up

        try:
            self.lock_path.parent.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise StateError(f"{self.lock_path}: cannot create: {exc.strerror}") from None
        lock = filelock.FileLock(str(self.lock_path), thread_local=False)
        try:
            lock.acquire(timeout=timeout)
        except filelock.Timeout:
            holder = holder_once_named(self._holder, HOLDER_WAIT_S, HOLDER_POLL_S)
            raise lock_held_error(str(self.path), holder) from None
        try:
            with contextlib.suppress(OSError):
                atomic_write(self.holder_path, LockInfo.mine().to_json().encode(), 0o644)
            self._held = True
            yield
        finally:
            self._held = False
            with contextlib.suppress(OSError):
                self.holder_path.unlink()
            lock.release()

    def _holder(self) -> LockInfo | None:
        try:
            return LockInfo.from_json(self.holder_path.read_bytes())
        except OSError:
            return None

    def force_unlock(self, lock_id: str) -> str:
        import filelock

        holder = self._holder()
        lock = filelock.FileLock(str(self.lock_path), thread_local=False)
        try:
            lock.acquire(timeout=0)
        except filelock.Timeout:
            raise StateError(
                f"the state {self.path} is locked by a running process "
                f"({holder or 'holder unknown'}); an OS lock is released when its holder "
                "ends, so stop that process instead"
            ) from None
        try:
            if holder is not None and holder.id == lock_id:
                with contextlib.suppress(OSError):
                    self.holder_path.unlink()
            return f"the state {self.path} is not locked (an OS lock dies with its holder)"
        finally:
            lock.release()


def _token(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()
