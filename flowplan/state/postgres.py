"""The PostgreSQL state backend: one row per state name in a table (`?table=`, default
flowplan_state), created if missing.

- Lock: a session advisory lock, held by a dedicated connection for the whole apply; it dies
  with the process, so a killed apply leaves no stuck lock. The holder (pid, user, host, since,
  lock id) is recorded beside it in `<table>_lock`.
- Writes: a compare-and-swap, `UPDATE … WHERE name = … AND serial = old AND generation = old`
  (`INSERT … ON CONFLICT DO NOTHING` for the first); no row changed means someone else wrote in
  between: StateConflictError, never an overwrite. The replaced version stays in `previous`.
- The password of the URL is never shown: messages use `describe()`, and error text from the
  driver is scrubbed of it.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import re
from collections.abc import Iterator
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

import psycopg
from psycopg import sql
from psycopg.conninfo import conninfo_to_dict

from flowplan import redact
from flowplan.errors import ConfigError, StateConflictError, StateError
from flowplan.state.backend import (
    MAX_STATE_BYTES,
    LockInfo,
    StateBackend,
    Token,
    check_size,
    holder_once_named,
    lock_held_error,
    poll_until,
)

DEFAULT_TABLE = "flowplan_state"
_IDENT = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,50}(\.[A-Za-z_][A-Za-z0-9_]{0,50})?$")
CONNECT_TIMEOUT_S = 10
HOLDER_WAIT_S = 2.0


def _key(*parts: str) -> int:
    """A signed 64-bit advisory lock key for these parts."""
    digest = hashlib.sha256("\0".join(("flowplan", *parts)).encode()).digest()
    return int.from_bytes(digest[:8], "big", signed=True)


class PostgresBackend(StateBackend):
    def __init__(self, conninfo: str, table: str, name: str) -> None:
        if not _IDENT.match(table):
            raise ConfigError(f"?table={table!r}: not a plain table name ([schema.]name)")
        self.conninfo = conninfo
        self.table = table
        self.name = name
        params = conninfo_to_dict(conninfo)
        self._password = str(params.get("password") or "")
        if self._password:
            redact.register(self._password)
        self._timeout = None if "connect_timeout" in params else CONNECT_TIMEOUT_S
        self._shown = _describe(params, table, name)
        self._ready = False

    @classmethod
    def from_url(cls, url: str, stem: str) -> PostgresBackend:
        """From a libpq URL with optional `?table=` and `?name=` (default: the manifest's
        stem), which are stripped before connecting."""
        parts = urlsplit(url)
        query = parse_qsl(parts.query, keep_blank_values=True)
        ours = dict((k, v) for k, v in query if k in ("table", "name"))
        rest = [(k, v) for k, v in query if k not in ("table", "name")]
        conninfo = urlunsplit(parts._replace(query=urlencode(rest)))
        try:
            return cls(conninfo, ours.get("table") or DEFAULT_TABLE, ours.get("name") or stem)
        except psycopg.ProgrammingError:
            raise ConfigError("the PostgreSQL state URL cannot be parsed") from None

    def describe(self) -> str:
        return self._shown

    def describe_backup(self) -> str:
        return f"column previous of that row (table {self.table}, name {self.name})"

    # --- connections ---------------------------------------------------------------------

    def _connect(self) -> psycopg.Connection[Any]:
        kwargs: dict[str, Any] = {"autocommit": True}
        if self._timeout is not None:
            kwargs["connect_timeout"] = self._timeout
        try:
            conn = psycopg.connect(self.conninfo, **kwargs)
        except psycopg.Error as exc:
            raise self._error("cannot connect", exc) from None
        try:
            self._ensure_tables(conn)
        except BaseException:
            conn.close()
            raise
        return conn

    @contextlib.contextmanager
    def _session(self) -> Iterator[psycopg.Connection[Any]]:
        conn = self._connect()
        try:
            yield conn
        except psycopg.Error as exc:
            raise self._error("failed", exc) from None
        finally:
            conn.close()

    def _error(self, what: str, exc: psycopg.Error) -> StateError:
        detail = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        if self._password:
            detail = detail.replace(self._password, redact.MASK)
        return StateError(f"{self._shown}: {what}: {detail}")

    def _ident(self, suffix: str = "") -> sql.Identifier:
        *schema, table = self.table.split(".")
        return sql.Identifier(*schema, table + suffix)

    def _ensure_tables(self, conn: psycopg.Connection[Any]) -> None:
        if self._ready:
            return
        try:
            with conn.transaction():
                # concurrent CREATE TABLE IF NOT EXISTS can collide: serialise them
                conn.execute("SELECT pg_advisory_xact_lock(%s)", (_key("create", self.table),))
                conn.execute(
                    sql.SQL(
                        "CREATE TABLE IF NOT EXISTS {} (name text PRIMARY KEY, "
                        "serial bigint NOT NULL, generation bigint NOT NULL, state text NOT NULL, "
                        "previous text, previous_serial bigint, "
                        "updated_at timestamptz NOT NULL DEFAULT now())"
                    ).format(self._ident())
                )
                conn.execute(
                    sql.SQL(
                        "CREATE TABLE IF NOT EXISTS {} (name text PRIMARY KEY, "
                        "lock_id text NOT NULL, holder text NOT NULL, "
                        "since timestamptz NOT NULL DEFAULT now())"
                    ).format(self._ident("_lock"))
                )
        except psycopg.Error as exc:
            raise self._error(f"cannot create table {self.table}", exc) from None
        self._ready = True

    # --- state ---------------------------------------------------------------------------

    def read(self) -> tuple[bytes | None, Token]:
        with self._session() as conn:
            row = conn.execute(
                sql.SQL(
                    "SELECT serial, generation, octet_length(state), "
                    "CASE WHEN octet_length(state) <= %s THEN state END FROM {} WHERE name = %s"
                ).format(self._ident()),
                (MAX_STATE_BYTES, self.name),
            ).fetchone()
        if row is None:
            return None, None
        serial, generation, size, text = row
        check_size(int(size), self._shown, self.describe_backup())
        return str(text).encode("utf-8"), f"{serial}:{generation}"

    def write(self, payload: bytes, expected: Token) -> Token:
        text = payload.decode("utf-8")
        serial = _serial_of(text, self._shown)
        with self._session() as conn:
            if expected is None:
                query = sql.SQL(
                    "INSERT INTO {} (name, serial, generation, state) VALUES (%s, %s, 1, %s) "
                    "ON CONFLICT (name) DO NOTHING RETURNING serial, generation"
                ).format(self._ident())
                row = conn.execute(query, (self.name, serial, text)).fetchone()
            else:
                old_serial, old_generation = (int(x) for x in expected.split(":"))
                query = sql.SQL(
                    "UPDATE {} SET previous = state, previous_serial = serial, state = %s, "
                    "serial = %s, generation = generation + 1, updated_at = now() "
                    "WHERE name = %s AND serial = %s AND generation = %s "
                    "RETURNING serial, generation"
                ).format(self._ident())
                params = (text, serial, self.name, old_serial, old_generation)
                row = conn.execute(query, params).fetchone()
        if row is None:
            raise StateConflictError(
                f"{self._shown} was changed by someone else since it was read; nothing was "
                "written. Run the command again"
            )
        return f"{row[0]}:{row[1]}"

    # --- lock ----------------------------------------------------------------------------

    @contextlib.contextmanager
    def lock(self, timeout: float = 0.0) -> Iterator[None]:
        key = _key("state", self.table, self.name)
        conn = self._connect()
        try:
            if not poll_until(lambda: _try_lock(conn, key), timeout):
                holder = holder_once_named(lambda: self._holder(conn), HOLDER_WAIT_S)
                raise lock_held_error(self._shown, holder)
            info = LockInfo.mine()
            conn.execute(
                sql.SQL(
                    "INSERT INTO {} (name, lock_id, holder) VALUES (%s, %s, %s) ON CONFLICT "
                    "(name) DO UPDATE SET lock_id = EXCLUDED.lock_id, holder = EXCLUDED.holder, "
                    "since = now()"
                ).format(self._ident("_lock")),
                (self.name, info.id, info.to_json()),
            )
            yield
            with contextlib.suppress(psycopg.Error):
                conn.execute(
                    sql.SQL("DELETE FROM {} WHERE name = %s AND lock_id = %s").format(
                        self._ident("_lock")
                    ),
                    (self.name, info.id),
                )
        except psycopg.Error as exc:
            raise self._error("lock failed", exc) from None
        finally:
            conn.close()  # ends the session, and with it the advisory lock

    def _holder(self, conn: psycopg.Connection[Any]) -> LockInfo | None:
        row = conn.execute(
            sql.SQL("SELECT holder FROM {} WHERE name = %s").format(self._ident("_lock")),
            (self.name,),
        ).fetchone()
        return LockInfo.from_json(row[0]) if row else None

    def force_unlock(self, lock_id: str) -> str:
        key = _key("state", self.table, self.name)
        with self._session() as conn:
            holder = self._holder(conn)
            if not _try_lock(conn, key):
                raise StateError(
                    f"the state {self._shown} is locked by a live session "
                    f"({holder or 'holder unknown'}); PostgreSQL releases it when that "
                    "session ends, so stop that process instead"
                )
            if holder is not None and holder.id == lock_id:
                conn.execute(
                    sql.SQL("DELETE FROM {} WHERE name = %s").format(self._ident("_lock")),
                    (self.name,),
                )
        return (
            f"the state {self._shown} is not locked: an advisory lock dies with its holder's "
            "session"
        )


def _try_lock(conn: psycopg.Connection[Any], key: int) -> bool:
    row = conn.execute("SELECT pg_try_advisory_lock(%s)", (key,)).fetchone()
    return bool(row and row[0])


def _serial_of(text: str, where: str) -> int:
    try:
        return int(json.loads(text)["serial"])
    except (ValueError, KeyError, TypeError):
        raise StateError(f"{where}: refusing to store a state without a serial") from None


def _describe(params: dict[str, Any], table: str, name: str) -> str:
    """`postgresql://user@host:port/db?table=…&name=…`, never the password."""
    user = f"{params['user']}@" if params.get("user") else ""
    host = str(params.get("host") or "")
    port = f":{params['port']}" if params.get("port") else ""
    database = str(params.get("dbname") or "")
    query = urlencode({"table": table, "name": name})
    return f"postgresql://{user}{host}{port}/{database}?{query}"
