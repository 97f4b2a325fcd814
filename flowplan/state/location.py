"""Which state a command works on: the location's precedence, per-environment naming, and the
backend chosen by the location's scheme (a path, `postgresql://…`, `s3://BUCKET/KEY`).

Precedence: `--state`, else the environment's `state:`, else the manifest's `state:`, else
FLOWPLAN_STATE, else `<stem>.state.json` beside the manifest (`<stem>.<env>.state.json` under an
environment). Under an environment, a location that is not the environment's own gets the
environment's name added, so that environments never share a state.
"""

from __future__ import annotations

import os
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path, PurePosixPath
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from flowplan.errors import ConfigError
from flowplan.state.store import StateStore

PG_SCHEMES = ("postgresql://", "postgres://")
S3_SCHEME = "s3://"


def resolve_location(
    cli_value: str | None,
    env_state: str | None,
    manifest_state: str | None,
    environ: Mapping[str, str],
    manifest_path: Path,
    env_name: str | None,
) -> str:
    """The state location a command uses. Relative paths written in the manifest are relative
    to the manifest's folder; those given on the command line or in FLOWPLAN_STATE to the
    current directory, as every shell user expects."""
    folder = manifest_path.parent
    if cli_value:
        location = cli_value
    elif env_state:
        return _anchor(env_state, folder)
    elif manifest_state:
        location = _anchor(manifest_state, folder)
    elif environ.get("FLOWPLAN_STATE"):
        location = environ["FLOWPLAN_STATE"]
    else:
        return str(_default_path(manifest_path, env_name))
    return for_environment(location, env_name, manifest_path.stem) if env_name else location


def _default_path(manifest_path: Path, env_name: str | None) -> Path:
    suffix = f".{env_name}.state.json" if env_name else ".state.json"
    return manifest_path.with_name(manifest_path.stem + suffix)


def _anchor(location: str, folder: Path) -> str:
    if is_remote(location) or Path(location).is_absolute():
        return location
    return str(folder / location)


def is_remote(location: str) -> bool:
    return location.startswith((*PG_SCHEMES, S3_SCHEME))


def for_environment(location: str, env_name: str, stem: str) -> str:
    """`location` with the environment's name added: a path `x.state.json` -> `x.ENV.state.json`,
    a PostgreSQL `name` (default `stem`) -> `NAME.ENV`, an S3 key `k.json` -> `k.ENV.json`."""
    if location.startswith(PG_SCHEMES):
        return _pg_with_env(location, env_name, stem)
    if location.startswith(S3_SCHEME):
        bucket, _, key = location[len(S3_SCHEME) :].partition("/")
        return f"{S3_SCHEME}{bucket}/{_insert_env(key, env_name, ('.json',))}"
    return _insert_env(location, env_name, (".state.json", ".json"))


def _insert_env(path: str, env_name: str, suffixes: tuple[str, ...]) -> str:
    for suffix in suffixes:
        if path.endswith(suffix) and len(path) > len(suffix):
            return f"{path[: -len(suffix)]}.{env_name}{suffix}"
    name = PurePosixPath(path).name
    if "." in name.lstrip("."):
        head, dot, ext = path.rpartition(".")
        return f"{head}.{env_name}{dot}{ext}"
    return f"{path}.{env_name}"


def _pg_with_env(url: str, env_name: str, stem: str) -> str:
    parts = urlsplit(url)
    query = parse_qsl(parts.query, keep_blank_values=True)
    names = [value for key, value in query if key == "name"]
    rest = [(key, value) for key, value in query if key != "name"]
    suffixed = f"{names[-1] if names else stem}.{env_name}"
    return urlunsplit(parts._replace(query=urlencode([*rest, ("name", suffixed)])))


@contextmanager
def _driver(extra: str) -> Iterator[None]:
    """A missing optional driver is a clear error naming the extra that installs it."""
    try:
        yield
    except ImportError as exc:
        raise ConfigError(
            f"this state location needs a driver that is not installed ({exc.name}): "
            f"pip install 'flowplan[{extra}]'"
        ) from None


def open_store(location: str, base_dir: Path, stem: str = "flowplan") -> StateStore:
    """The store for `location`: a file, a PostgreSQL row, or an S3 object. `stem` (the
    manifest's) names a PostgreSQL state that has no `?name=`. The drivers load lazily."""
    if location.startswith(PG_SCHEMES):
        with _driver("postgres"):
            from flowplan.state.postgres import PostgresBackend

        return StateStore(PostgresBackend.from_url(location, stem))
    if location.startswith(S3_SCHEME):
        with _driver("s3"):
            from flowplan.state.s3 import S3Backend

        return StateStore(S3Backend.from_url(location))
    if "://" in location:
        scheme = location.split("://", 1)[0]
        raise ConfigError(
            f"unknown state location scheme {scheme!r}: use a path, postgresql://… or "
            "s3://BUCKET/KEY"
        )
    path = Path(location)
    return StateStore(path if path.is_absolute() else base_dir / path)


def open_state(
    manifest_path: Path,
    cli_value: str | None,
    *,
    env_name: str | None = None,
    env_state: str | None = None,
    manifest_state: str | None = None,
    environ: Mapping[str, str] | None = None,
) -> StateStore:
    """The store a command works on: `resolve_location` then `open_store`."""
    location = resolve_location(
        cli_value,
        env_state,
        manifest_state,
        os.environ if environ is None else environ,
        manifest_path,
        env_name,
    )
    return open_store(location, Path(), manifest_path.stem)
