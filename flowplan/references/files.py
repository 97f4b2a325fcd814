"""Reading a `${file:PATH}` reference, safely.

Only regular files inside the manifest's folder tree, or inside a folder listed in
FLOWPLAN_FILE_ROOTS (`:`-separated, e.g. `/run/secrets`), after symlinks and `..` are resolved;
never a device, FIFO, socket or a file of /proc, /sys or /dev (/proc/self/environ holds every
credential of the process). At most MAX_FILE_BYTES are accepted, refused by size while reading:
a file that lies about its size (or grows) cannot make flowplan read more than the limit + 1.
"""

from __future__ import annotations

import os
import stat
from collections.abc import Mapping
from pathlib import Path

MAX_FILE_BYTES = 256 * 1024
ROOTS_VARIABLE = "FLOWPLAN_FILE_ROOTS"
_NEVER = (Path("/proc"), Path("/sys"), Path("/dev"))
_OPEN_FLAGS = (
    os.O_RDONLY
    | getattr(os, "O_NONBLOCK", 0)  # opening a FIFO must not wait for a writer
    | getattr(os, "O_NOFOLLOW", 0)  # the path is resolved already: a new symlink is refused
    | getattr(os, "O_NOCTTY", 0)
    | getattr(os, "O_CLOEXEC", 0)
)


class FileProblem(Exception):
    """Why a file reference cannot be read; the message names the path, never content."""


def file_roots(base_dir: Path, env: Mapping[str, str]) -> tuple[Path, ...]:
    """The manifest's folder, then FLOWPLAN_FILE_ROOTS's folders (relative ones from it)."""
    extra = [p for p in env.get(ROOTS_VARIABLE, "").split(":") if p.strip()]
    return tuple(Path(os.path.realpath(base_dir / p)) for p in [".", *extra])


def read_file(target: str, base_dir: Path, roots: tuple[Path, ...]) -> str:
    """The file's text, one trailing newline stripped; raises FileProblem."""
    real = Path(os.path.realpath(base_dir / Path(target).expanduser()))
    if any(real == n or n in real.parents for n in _NEVER):
        raise FileProblem(f"file {target} is a special file ({real}); it is never read")
    if not any(real == r or r in real.parents for r in roots):
        raise FileProblem(
            f"file {target} is outside the manifest's folder ({roots[0]}); "
            f"list its folder in {ROOTS_VARIABLE} to allow it"
        )
    data = _read_bounded(target, real)
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        raise FileProblem(f"file {target} is not UTF-8 text") from None
    return text[:-1] if text.endswith("\n") else text


def _read_bounded(target: str, real: Path) -> bytes:
    try:
        fd = os.open(real, _OPEN_FLAGS)
    except FileNotFoundError:
        raise FileProblem(f"file {target} does not exist") from None
    except OSError as exc:
        raise FileProblem(f"file {target} cannot be opened ({exc.strerror})") from None
    try:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            raise FileProblem(f"file {target} is not a regular file")
        chunks: list[bytes] = []
        size = 0
        while size <= MAX_FILE_BYTES:
            chunk = os.read(fd, MAX_FILE_BYTES + 1 - size)
            if not chunk:
                break
            chunks.append(chunk)
            size += len(chunk)
    except OSError as exc:
        raise FileProblem(f"file {target} cannot be read ({exc.strerror})") from None
    finally:
        os.close(fd)
    if size > MAX_FILE_BYTES:
        raise FileProblem(f"file {target} is larger than {MAX_FILE_BYTES // 1024} KiB")
    return b"".join(chunks)
