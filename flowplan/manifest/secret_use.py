"""Where a secret may go (contract 1.1): a value that is not a secret param is shown in plans
and recorded in the state, so it may use `${env:}` and `${file:}`, but never

- flowplan's own credential variables (CREDENTIAL_VARIABLES),
- a variable or file that a secret param also uses (anywhere in the manifest),
- a secret-store reference (`${aws-sm:}`, `${aws-ssm:}`, `${vault:}`), directly or through a
  `${var:}` that holds one.

These are the only refusals 1.1 adds to 1.0, and each message says why.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from flowplan.manifest.environments import Expanded
from flowplan.manifest.schema_check import dotted
from flowplan.references.template import Ref

CREDENTIAL_VARIABLES = frozenset(
    {
        "AEP_ACCESS_TOKEN",
        "AEP_CLIENT_SECRET",
        "VAULT_TOKEN",
        "AWS_SECRET_ACCESS_KEY",
        "AWS_SESSION_TOKEN",
    }
)
SECRET, PLAIN, UNKNOWN = "secret", "plain", "unknown"  # UNKNOWN: a spec flowplan learns later

Path = tuple[Any, ...]
Use = tuple[Path, Expanded, str]
"""One templated value of the manifest that holds a reference: where, the value after var
expansion, and its role (SECRET, PLAIN or UNKNOWN)."""


def _identity(ref: Ref) -> tuple[str, str]:
    if ref.kind == "file":
        return ("file", os.path.normpath(ref.target))
    return (ref.kind, ref.target)


def check(uses: Sequence[Use], where_var: Callable[[str], str]) -> list[tuple[Path, str]]:
    """(path, message) for every non-secret value that breaks a rule above.

    `where_var(name)` words a var for messages (`environment dev: ${var:x}`)."""
    secret_refs: dict[tuple[str, str], Path] = {}
    seen: set[Expanded] = set()  # a value's later secret uses come after its first
    for path, value, role in uses:
        if role == SECRET and value not in seen:
            seen.add(value)
            for ref in value.template.refs:
                secret_refs.setdefault(_identity(ref), path)
    problems: list[tuple[Path, str]] = []
    verdicts: dict[Expanded, list[str]] = {}
    for path, value, role in uses:
        if role != PLAIN:
            continue
        found = verdicts.get(value)
        if found is None:
            found = verdicts[value] = _problems(value, secret_refs, where_var)
        if found:
            problems += ((path, f"{dotted(path)}: {problem}") for problem in found)
    return problems


def _problems(
    value: Expanded, secret_refs: Mapping[tuple[str, str], Path], where_var: Callable[[str], str]
) -> list[str]:
    found: list[str] = []
    for ref in dict.fromkeys(value.template.refs):
        reason = _reason(ref, secret_refs)
        if reason is None:
            continue
        var = value.origins.get(ref)
        via = f"{where_var(var)} holds {ref}, which" if var else f"{ref}"
        found.append(f"{via} {reason}")
    return found


def _reason(ref: Ref, secret_refs: Mapping[tuple[str, str], Path]) -> str | None:
    if ref.is_store:
        return (
            "is a secret-store reference: it may only be a secret param's whole value "
            "(a non-secret field is shown in plans and stored in the state)"
        )
    if ref.kind == "env" and ref.target in CREDENTIAL_VARIABLES:
        return (
            "is one of flowplan's own credentials: a non-secret field, shown in plans and "
            "stored in the state, cannot use it"
        )
    secret_path = secret_refs.get(_identity(ref))
    if secret_path is not None:
        return (
            f"is also used by the secret param {dotted(secret_path)}: a non-secret field, "
            "shown in plans and stored in the state, cannot use it"
        )
    return None
