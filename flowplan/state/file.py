"""The state file backend: JSON written atomically with the previous version kept as
`<state>.backup`, guarded during apply by an OS lock on `<state>.lock` (released by the OS if
the holder dies)."""

from __future__ import annotations

import contextlib
import json
import os
import socket
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import filelock

from flowplan.errors import LockError, StateError
from flowplan.state.model import State


class StateStore:
    """Reads and writes one state file, with its backup and lock beside it."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.backup_path = path.with_name(path.name + ".backup")
        self.lock_path = path.with_name(path.name + ".lock")
        self.holder_path = path.with_name(path.name + ".lock.info")

    def load(self, org: str, sandbox: str) -> State:
        try:
            text = self.path.read_text(encoding="utf-8")
        except FileNotFoundError:
            return State.new(org, sandbox)
        except OSError as exc:
            raise StateError(f"{self.path}: cannot read the state: {exc.strerror}") from None
        try:
            data = json.loads(text)
        except ValueError:
            raise StateError(
                f"{self.path}: the state is not valid JSON (truncated or edited?); nothing was "
                f"changed. The previous version is {self.backup_path}"
                + ("" if self.backup_path.exists() else " (none exists)")
            ) from None
        state = State.from_dict(data, str(self.path))
        if state.org != org or state.sandbox != sandbox:
            raise StateError(
                f"{self.path} was written for org {state.org}, sandbox {state.sandbox}, not "
                f"org {org}, sandbox {sandbox}; use the right --state for this sandbox"
            )
        return state

    def save(self, state: State) -> None:
        """Atomically replace the file (temp file, fsync, rename, fsync of the folder); the
        previous version becomes <state>.backup (hard link, so it is never missing)."""
        state.serial += 1
        payload = json.dumps(state.to_dict(), indent=2, sort_keys=False) + "\n"
        folder = self.path.parent
        folder.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=f".{self.path.name}.", suffix=".tmp", dir=folder)
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as handle:
                handle.write(payload)
                handle.flush()
                os.fsync(handle.fileno())
            os.chmod(tmp, 0o600)
            if self.path.exists():
                link = self.backup_path.with_name(self.backup_path.name + ".tmp")
                with contextlib.suppress(FileNotFoundError):
                    link.unlink()
                os.link(self.path, link)
                os.replace(link, self.backup_path)
            os.replace(tmp, self.path)
        except BaseException:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(tmp)
            raise
        _fsync_dir(folder)
        state.exists = True

    @contextlib.contextmanager
    def lock(self, timeout: float = 0.0) -> Iterator[None]:
        """Hold `<state>.lock` (an OS lock: a killed holder releases it) for the block."""
        self.lock_path.parent.mkdir(parents=True, exist_ok=True)
        lock = filelock.FileLock(str(self.lock_path))
        try:
            lock.acquire(timeout=timeout)
        except filelock.Timeout:
            raise LockError(
                f"the state {self.path} is locked by another apply ({self._holder()}); "
                "wait for it to finish, or pass --lock-timeout to wait"
            ) from None
        try:
            info = {
                "pid": os.getpid(),
                "host": socket.gethostname(),
                "since": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
            }
            self.holder_path.write_text(json.dumps(info), encoding="utf-8")
            yield
        finally:
            with contextlib.suppress(OSError):
                self.holder_path.unlink()
            lock.release()

    def _holder(self) -> str:
        try:
            info = json.loads(self.holder_path.read_text(encoding="utf-8"))
            return f"pid {info['pid']} on {info['host']} since {info['since']}"
        except (OSError, ValueError, KeyError, TypeError):
            return "holder unknown"


def _fsync_dir(folder: Path) -> None:
    with contextlib.suppress(OSError):
        fd = os.open(folder, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)
