"""The bundled JSON Schemas, read from the package (wheel) or the source checkout; and the
generator of `compiled_schema.py` (`python -m flowplan.manifest.schema_files`)."""

from __future__ import annotations

import functools
import hashlib
import json
import re
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from jsonschema import Draft202012Validator

_PACKAGE = Path(__file__).resolve().parents[1]
_CHECKOUT = _PACKAGE.parent / "schemas"
MANIFEST_SCHEMA = "manifest.schema.json"
UUID_PATTERN = r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$"
COMPILED = Path(__file__).with_name("compiled_schema.py")
# fastjsonschema's exceptions, defined in the generated module itself: importing them from
# fastjsonschema would load its code generator (~40 ms) in every run
_EXCEPTIONS = """\
class JsonSchemaException(ValueError):
    pass


class JsonSchemaValueException(JsonSchemaException):
    def __init__(self, message, value=None, name=None, definition=None, rule=None):
        super().__init__(message)
        self.message, self.value, self.name = message, value, name
        self.definition, self.rule = definition, rule


class JsonSchemaValuesException(JsonSchemaException):
    def __init__(self, errors):
        super().__init__(str(errors))
        self.errors = errors
"""


def schema_text(name: str) -> str:
    """`schemas/NAME` as shipped in the wheel (flowplan/schemas/) or in a source checkout."""
    # the package's folder, as importlib.resources would find it for an installed wheel,
    # without importing it (~12 ms of every run)
    packaged = _PACKAGE / "schemas" / name
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


def schema_digest(name: str = MANIFEST_SCHEMA) -> str:
    return hashlib.sha256(schema_text(name).encode("utf-8")).hexdigest()


def compiled_source() -> str:
    """`compiled_schema.py`: fastjsonschema's code for the manifest schema, generated ahead of
    time. Generating and compiling it took ~0.2 s of every run; imported from its bytecode it
    takes a few milliseconds. schema_check uses it only while its digest matches the schema."""
    import fastjsonschema

    code = fastjsonschema.compile_to_code(
        load_schema(MANIFEST_SCHEMA), formats={"uuid": UUID_PATTERN}
    )
    entry = re.search(r"^def (validate\w*)\(", code, re.MULTILINE)
    imports = "from fastjsonschema import JsonSchemaValueException, JsonSchemaValuesException\n"
    if entry is None or imports not in code:
        raise RuntimeError("fastjsonschema's generated code has changed shape; update this")
    head = (
        "# type: ignore\n"
        f"# Generated from schemas/{MANIFEST_SCHEMA} by `python -m flowplan.manifest.schema_files`"
        "\n# with fastjsonschema; do not edit. tests/test_manifest_schema.py checks it is current."
        f'\nSCHEMA_SHA256 = "{schema_digest()}"\n'
    )
    code = _LOCALS_FORMAT.sub(_named_format, code.replace(imports, _EXCEPTIONS))
    if "locals()" in code:
        raise RuntimeError("fastjsonschema formats a path in a new way; update _LOCALS_FORMAT")
    return head + code + f"\n\nvalidate = {entry.group(1)}\n"


# fastjsonschema names each item's path with `"...{key}".format(**locals())`, once per item
# even when it is valid: copying the locals of a validator function cost ~8 µs a connection.
_LOCALS_FORMAT = re.compile(r'"([^"\\{}]*(?:\{\w+\}[^"\\{}]*)+)"\.format\(\*\*locals\(\)\)')


def _named_format(match: re.Match[str]) -> str:
    names = dict.fromkeys(re.findall(r"\{(\w+)\}", match.group(1)))
    return f'"{match.group(1)}".format({", ".join(f"{n}={n}" for n in names)})'


if __name__ == "__main__":
    COMPILED.write_text(compiled_source(), encoding="utf-8")
    print(f"wrote {COMPILED}")  # noqa: T201
