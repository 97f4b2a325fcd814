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
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from flowplan.manifest.schema_check import dotted
from flowplan.references.template import Ref, Template

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


@dataclass(frozen=True, slots=True)
class Use:
    """One templated value of the manifest, after var expansion."""

    path: tuple[Any, ...]
    template: Template
    role: str
    origins: Mapping[Ref, str] = field(default_factory=dict)  # ref -> var it came from


def _identity(ref: Ref) -> tuple[str, str]:
    if ref.kind == "file":
        return ("file", os.path.normpath(ref.target))
    return (ref.kind, ref.target)


def check(uses: Iterable[Use], where_var: Any) -> list[tuple[tuple[Any, ...], str]]:
    """(path, message) for every non-secret value that breaks a rule above.

    `where_var(name)` words a var for messages (`environment dev: ${var:x}`)."""
    uses = list(uses)
    secret_refs: dict[tuple[str, str], tuple[Any, ...]] = {}
    for use in uses:
        if use.role == SECRET:
            for ref in use.template.refs:
                secret_refs.setdefault(_identity(ref), use.path)
    problems: list[tuple[tuple[Any, ...], str]] = []
    for use in uses:
        if use.role != PLAIN:
            continue
        for ref in dict.fromkeys(use.template.refs):
            reason = _reason(ref, secret_refs)
            if reason is None:
                continue
            var = use.origins.get(ref)
            via = f"{where_var(var)} holds {ref}, which" if var else f"{ref}"
            problems.append((use.path, f"{dotted(use.path)}: {via} {reason}"))
    return problems


def _reason(ref: Ref, secret_refs: Mapping[tuple[str, str], tuple[Any, ...]]) -> str | None:
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
