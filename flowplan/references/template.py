"""The `${KIND:TARGET}` reference syntax of manifest values.

Kinds: `env` (an environment variable), `file` (a file's content), `var` (a manifest variable,
expanded when the manifest is loaded) and the secret stores `aws-sm`, `aws-ssm` and `vault`.
Parsing reads nothing: `validate` checks the syntax offline. A reference is interpolated after
YAML parsing, into a string value only, so a secret holding `: ` or a newline can never change
the document's structure. `$${` writes a literal `${`.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

_TOKEN = re.compile(r"\$\$\{|\$\{([^}]*)\}?")
_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
_AWS_ID = re.compile(r"^[A-Za-z0-9/_+=.@:-]+$")
_VAULT = re.compile(r"^[^/#\s]+/[^#\s]+#[^#\s]+$")

STORE_KINDS = frozenset({"aws-sm", "aws-ssm", "vault"})
WHOLE_VALUE_KINDS = STORE_KINDS | {"file"}
KINDS = ("env", "file", "var", "aws-sm", "aws-ssm", "vault")
_USAGE = (
    "use ${env:NAME}, ${file:PATH}, ${var:NAME}, ${aws-sm:SECRET_ID[#KEY]}, "
    "${aws-ssm:/PARAM/NAME} or ${vault:MOUNT/PATH#KEY} ($${ for a literal)"
)


@dataclass(frozen=True, slots=True)
class Ref:
    kind: str  # one of KINDS
    target: str

    def __str__(self) -> str:
        return f"${{{self.kind}:{self.target}}}"

    @property
    def is_store(self) -> bool:
        """A secret-store reference: only ever a secret param's value."""
        return self.kind in STORE_KINDS


@dataclass(frozen=True, slots=True)
class Template:
    """A string value: literal text and references, in order."""

    raw: str
    parts: tuple[str | Ref, ...]
    refs: tuple[Ref, ...] = ()
    # a secret param's value (set by the manifest loader where the spec is known): resolving
    # it registers the value with redact and refuses an empty one
    secret: bool = field(default=False, compare=False)

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
        return literal(raw)
    parts: list[str | Ref] = []
    text: list[str] = []
    pos = 0
    for match in _TOKEN.finditer(raw):
        text.append(raw[pos : match.start()])
        pos = match.end()
        if match.group(0) == "$${":
            text.append("${")
            continue
        parts.extend(_flush(text))
        parts.append(_parse_ref(match.group(0), match.group(1)))
    text.append(raw[pos:])
    parts.extend(_flush(text))
    template = Template(raw, tuple(parts), tuple(p for p in parts if isinstance(p, Ref)))
    _check_whole(template)
    return template


def literal(raw: str) -> Template:
    """`parse(raw)` of a value without `$`: its text alone."""
    return Template(raw, (raw,) if raw else ())


def _check_whole(template: Template) -> None:
    if template.is_single_ref:
        return
    for ref in template.refs:
        if ref.kind in WHOLE_VALUE_KINDS:
            what = "${file:PATH}" if ref.kind == "file" else f"a ${{{ref.kind}:…}}"
            raise RefSyntaxError(f"{what} reference must be the whole value")


def _flush(literal: list[str]) -> list[str]:
    text = "".join(literal)
    literal.clear()
    return [text] if text else []


def _parse_ref(whole: str, inner: str | None) -> Ref:
    if not whole.endswith("}"):
        raise RefSyntaxError(f"unterminated reference {whole!r}; write ${{env:NAME}}")
    kind, sep, target = (inner or "").partition(":")
    if not sep or kind not in KINDS:
        raise RefSyntaxError(f"unknown reference {whole!r}; {_USAGE}")
    problem = _TARGET_CHECKS[kind](target)
    if problem:
        raise RefSyntaxError(f"{whole!r}: {problem}")
    return Ref(kind, target)


def _check_name(what: str) -> Callable[[str], str | None]:
    def check(target: str) -> str | None:
        return None if _NAME.match(target) else f"{what} name is letters, digits and _"

    return check


def _check_file(target: str) -> str | None:
    return None if target.strip() else "the file path is empty"


def _check_aws_sm(target: str) -> str | None:
    secret_id, sep, key = target.partition("#")
    if not _AWS_ID.match(secret_id):
        return "write ${aws-sm:SECRET_ID} or ${aws-sm:SECRET_ID#JSON_KEY}"
    if sep and not key:
        return "the JSON key after '#' is empty"
    return None


def _check_aws_ssm(target: str) -> str | None:
    return None if _AWS_ID.match(target) else "write ${aws-ssm:/PARAM/NAME}"


def _check_vault(target: str) -> str | None:
    return None if _VAULT.match(target) else "write ${vault:MOUNT/PATH#KEY} (a KV v2 secret's key)"


_TARGET_CHECKS: dict[str, Callable[[str], str | None]] = {
    "env": _check_name("an environment variable"),
    "var": _check_name("a variable"),
    "file": _check_file,
    "aws-sm": _check_aws_sm,
    "aws-ssm": _check_aws_ssm,
    "vault": _check_vault,
}


def render(parts: Iterable[str | Ref]) -> Template:
    """The template of these parts, with a canonical `raw` (literal `${` written `$${`)."""
    merged: list[str | Ref] = []
    for part in parts:
        if isinstance(part, str) and merged and isinstance(merged[-1], str):
            merged[-1] += part
        elif part != "":
            merged.append(part)
    raw = "".join(p.replace("${", "$${") if isinstance(p, str) else str(p) for p in merged)
    refs = tuple(p for p in merged if isinstance(p, Ref))
    template = Template(raw, tuple(merged), refs)
    _check_whole(template)
    return template


def as_secret(template: Template) -> Template:
    """The same template, marked as a secret param's value."""
    if template.secret:
        return template
    # built directly: dataclasses.replace costs ~4 times more, once per secret param
    return Template(template.raw, template.parts, template.refs, secret=True)
