"""The state file: which connection each manifest key manages, and what was last applied.

JSON, never holding a secret (secrets appear as HMAC-SHA256 fingerprints under a random
per-state key), written atomically with the previous version kept as `<state>.backup`, and
guarded during apply by an OS lock on `<state>.lock` (released by the OS if the holder dies).
"""

from __future__ import annotations

import contextlib
import hashlib
import hmac
import json
import os
import secrets
import socket
import tempfile
import threading
import time
import uuid
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import filelock

from flowplan.errors import LockError, StateError
from flowplan.model import Attributes

STATE_VERSION = 1
FLUSH_INTERVAL_S = 0.2


@dataclass(frozen=True)
class StateEntry:
    id: str
    etag: str
    attributes: Attributes
    protect: bool = False
    secret_fingerprints: Mapping[str, str] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "etag": self.etag,
            **self.attributes.to_dict(),
            "protect": self.protect,
            "secrets": dict(sorted(self.secret_fingerprints.items())),
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> StateEntry:
        return cls(
            id=str(data["id"]),
            etag=str(data["etag"]),
            attributes=Attributes.from_dict(data),
            protect=bool(data.get("protect", False)),
            secret_fingerprints=dict(data.get("secrets") or {}),
        )


@dataclass
class State:
    lineage: str
    serial: int
    org: str
    sandbox: str
    fingerprint_key: str  # hex; makes fingerprints useless without the state
    connections: dict[str, StateEntry] = field(default_factory=dict)
    exists: bool = True  # False until first written

    @classmethod
    def new(cls, org: str, sandbox: str) -> State:
        return cls(str(uuid.uuid4()), 0, org, sandbox, secrets.token_hex(32), exists=False)

    def fingerprint(self, param: str, value: str) -> str:
        key = bytes.fromhex(self.fingerprint_key)
        digest = hmac.new(key, f"{param}\0{value}".encode(), hashlib.sha256).hexdigest()
        return f"hmac-sha256:{digest}"

    def to_dict(self) -> dict[str, Any]:
        return {
            "version": STATE_VERSION,
            "lineage": self.lineage,
            "serial": self.serial,
            "org": self.org,
            "sandbox": self.sandbox,
            "fingerprint_key": self.fingerprint_key,
            "connections": {k: e.to_dict() for k, e in sorted(self.connections.items())},
        }

    @classmethod
    def from_dict(cls, data: Any, where: str) -> State:
        if not isinstance(data, dict):
            raise StateError(f"{where}: not a flowplan state (expected a JSON object)")
        version = data.get("version")
        if isinstance(version, int) and version > STATE_VERSION:
            raise StateError(
                f"{where}: state format {version} is newer than this flowplan understands "
                f"({STATE_VERSION}); upgrade flowplan"
            )
        if version != STATE_VERSION:
            raise StateError(f"{where}: unknown state format {version!r}")
        try:
            return cls(
                lineage=str(data["lineage"]),
                serial=int(data["serial"]),
                org=str(data["org"]),
                sandbox=str(data["sandbox"]),
                fingerprint_key=str(data["fingerprint_key"]),
                connections={
                    str(k): StateEntry.from_dict(v) for k, v in data["connections"].items()
                },
            )
        except (KeyError, TypeError, ValueError, AttributeError) as exc:
            raise StateError(
                f"{where}: the state is damaged ({exc.__class__.__name__}: {exc}); nothing was "
                "changed"
            ) from None


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


class StateWriter:
    """Records applied changes, writing the file at most every 200 ms.

    Why batched: rewriting a 10,000-connection state (a few MB) after each of 10,000 changes
    would dominate the run. A change's success is on disk within FLUSH_INTERVAL_S, and
    everything is flushed before apply returns; what a killed process had not written yet is
    found again on the next run by name (adoption), so nothing is lost or duplicated.
    """

    def __init__(self, store: StateStore, state: State) -> None:
        self.store = store
        self.state = state
        self._lock = threading.Lock()
        self._dirty = False
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True, name="state-writer")
        self._thread.start()

    def record(self, key: str, entry: StateEntry) -> None:
        with self._lock:
            self.state.connections[key] = entry
            self._dirty = True

    def managed_ids(self) -> set[str]:
        """The connection ids the state manages, read under the lock other threads write with."""
        with self._lock:
            return {e.id for e in self.state.connections.values()}

    def forget(self, key: str) -> None:
        with self._lock:
            self.state.connections.pop(key, None)
            self._dirty = True

    def flush(self) -> None:
        with self._lock:
            if not self._dirty:
                return
            self.store.save(self.state)
            self._dirty = False

    def _run(self) -> None:
        while not self._stop.wait(FLUSH_INTERVAL_S):
            self.flush()

    def close(self) -> None:
        self._stop.set()
        self._thread.join()
        self.flush()
