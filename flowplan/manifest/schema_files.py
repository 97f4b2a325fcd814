"""The bundled JSON Schemas, read from the package (wheel) or the source checkout."""

from __future__ import annotations

import functools
import json
from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from jsonschema import Draft202012Validator

_CHECKOUT = Path(__file__).resolve().parents[2] / "schemas"


def schema_text(name: str) -> str:
    """`schemas/NAME` as shipped in the wheel (flowplan/schemas/) or in a source checkout."""
    packaged = resources.files("flowplan").joinpath("schemas", name)
    if packaged.is_file():
        return packaged.read_text(encoding="utf-8")
    return (_CHECKOUT / name).read_text(encoding="utf-8")


@functools.cache
def load_schema(name: str) -> dict[str, Any]:
    data: dict[str, Any] = json.loads(schema_text(name))
    return data


def _no_remote(uri: str) -> Any:
    from referencing.exceptions import NoSuchResource

    # Without this, jsonschema would fetch an unknown $ref over the network.
    raise NoSuchResource(ref=uri)  # type: ignore[call-arg]  # attrs class, stubs lack it


@functools.cache
def validator(name: str) -> Draft202012Validator:
    """jsonschema is imported here, not at start-up: plan and apply need it only to explain an
    invalid manifest (~65 ms of every run otherwise)."""
    from jsonschema import Draft202012Validator
    from referencing import Registry

    return Draft202012Validator(
        load_schema(name),
        registry=Registry(retrieve=_no_remote),  # type: ignore[call-arg]
        format_checker=Draft202012Validator.FORMAT_CHECKER,
    )
