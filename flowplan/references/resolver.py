"""`${env:NAME}` and `${file:PATH}` references in manifest values.

Parsed (and their syntax checked) by `validate`, which reads no secret; resolved only by plan and
apply. A reference is interpolated after YAML parsing, into a string value only, so a secret
holding `: ` or a newline can never change the document's structure. `$${` writes a literal `${`.
"""

from __future__ import annotations

import functools
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

_TOKEN = re.compile(r"\$\$\{|\$\{([^}]*)\}?")
_ENV_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
MAX_FILE_BYTES = 1024 * 1024


@dataclass(frozen=True, slots=True)
class Ref:
    kind: str  # "env" or "file"
    target: str

    def __str__(self) -> str:
        return f"${{{self.kind}:{self.target}}}"


@dataclass(frozen=True, slots=True)
class Template:
    """A string value: literal text and references, in order."""

    raw: str
    parts: tuple[str | Ref, ...]
    refs: tuple[Ref, ...] = ()

    @property
    def is_single_ref(self) -> bool:
        return len(self.parts) == 1 and isinstance(self.parts[0], Ref)

    @property
    def is_literal(self) -> bool:
        return not self.refs


class RefSyntaxError(ValueError):
    pass


@functools.lru_cache(maxsize=65536)
def parse(raw: str) -> Template:
    """Split a value into literal text and references; raises RefSyntaxError on bad syntax.

    Cached: manifests repeat the same references (`${env:CLIENT_ID}`) in every connection."""
    if "$" not in raw:
        return Template(raw, (raw,) if raw else ())
    parts: list[str | Ref] = []
    literal: list[str] = []
    pos = 0
    for match in _TOKEN.finditer(raw):
        literal.append(raw[pos : match.start()])
        pos = match.end()
        if match.group(0) == "$${":
            literal.append("${")
            continue
        parts.extend(_flush(literal))
        parts.append(_parse_ref(match.group(0), match.group(1)))
    literal.append(raw[pos:])
    parts.extend(_flush(literal))
    template = Template(raw, tuple(parts), tuple(p for p in parts if isinstance(p, Ref)))
    if any(r.kind == "file" for r in template.refs) and not template.is_single_ref:
        raise RefSyntaxError("a ${file:PATH} reference must be the whole value")
    return template


def _flush(literal: list[str]) -> list[str]:
    text = "".join(literal)
    literal.clear()
    return [text] if text else []


def _parse_ref(whole: str, inner: str | None) -> Ref:
    if not whole.endswith("}"):
        raise RefSyntaxError(f"unterminated reference {whole!r}; write ${{env:NAME}}")
    kind, sep, target = (inner or "").partition(":")
    if not sep or kind not in ("env", "file"):
        raise RefSyntaxError(
            f"unknown reference {whole!r}; use ${{env:NAME}} or ${{file:PATH}} ($${{ for a literal)"
        )
    if kind == "env" and not _ENV_NAME.match(target):
        raise RefSyntaxError(f"{whole!r}: an environment variable name is letters, digits and _")
    if kind == "file" and not target.strip():
        raise RefSyntaxError(f"{whole!r}: the file path is empty")
    return Ref(kind, target)


@dataclass(frozen=True, slots=True)
class Resolver:
    """Reads references' values from the environment and from files beside the manifest."""

    env: Mapping[str, str]
    base_dir: Path

    @classmethod
    def from_os(cls, base_dir: Path) -> Resolver:
        return cls(dict(os.environ), base_dir)

    def resolve(self, template: Template, missing: list[str]) -> str:
        """The value, or "" after appending what is missing (so every problem is reported)."""
        out: list[str] = []
        for part in template.parts:
            if isinstance(part, str):
                out.append(part)
            elif part.kind == "env":
                value = self.env.get(part.target)
                if value is None:
                    missing.append(f"environment variable {part.target} is not set")
                out.append(value or "")
            else:
                out.append(self._read_file(part.target, missing))
        return "".join(out)

    def _read_file(self, target: str, missing: list[str]) -> str:
        path = (self.base_dir / target).expanduser()
        try:
            if path.stat().st_size > MAX_FILE_BYTES:
                missing.append(f"file {target} is larger than {MAX_FILE_BYTES:,} bytes")
                return ""
            text = path.read_text(encoding="utf-8")
        except FileNotFoundError:
            missing.append(f"file {target} does not exist (relative to {self.base_dir})")
            return ""
        except (OSError, UnicodeDecodeError) as exc:
            missing.append(f"file {target} cannot be read: {exc.__class__.__name__}")
            return ""
        return text[:-1] if text.endswith("\n") else text
