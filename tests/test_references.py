"""References: syntax, `${file:}` safety, the resolver's once-per-run parallel reads, and the
redaction of every spelling of a secret."""

from __future__ import annotations

import io
import json
import logging
import os
import threading
import time
from pathlib import Path
from urllib.parse import quote, quote_plus

import pytest

from flowplan import redact
from flowplan.references import files
from flowplan.references.resolver import Resolver, parse
from flowplan.references.stores import SecretStores, StoreError
from flowplan.references.template import Ref, RefSyntaxError, render

# --- syntax --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "ref"),
    [
        ("${aws-sm:prod/hubspot}", Ref("aws-sm", "prod/hubspot")),
        ("${aws-sm:prod/hubspot#clientSecret}", Ref("aws-sm", "prod/hubspot#clientSecret")),
        (
            "${aws-sm:arn:aws:secretsmanager:eu-west-1:123456789012:secret:x-AbCdEf}",
            Ref("aws-sm", "arn:aws:secretsmanager:eu-west-1:123456789012:secret:x-AbCdEf"),
        ),
        ("${aws-ssm:/flowplan/hubspot/token}", Ref("aws-ssm", "/flowplan/hubspot/token")),
        ("${vault:secret/hubspot/prod#token}", Ref("vault", "secret/hubspot/prod#token")),
        ("${var:hs_client_id}", Ref("var", "hs_client_id")),
    ],
)
def test_store_and_var_references_parse(raw: str, ref: Ref) -> None:
    template = parse(raw)
    assert template.parts == (ref,)
    assert template.is_single_ref


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        ("${vault:secret#k}", "MOUNT/PATH#KEY"),
        ("${vault:secret/x}", "MOUNT/PATH#KEY"),
        ("${aws-sm:x#}", "JSON key"),
        ("${aws-sm:has space}", "SECRET_ID"),
        ("${var:1x}", "variable name"),
        ("pre-${aws-sm:x}", "must be the whole value"),
        ("pre-${vault:a/b#c}", "must be the whole value"),
        ("${gcp:x}", "unknown reference"),
    ],
)
def test_bad_references(raw: str, message: str) -> None:
    with pytest.raises(RefSyntaxError, match=message):
        parse(raw)


def test_render_keeps_literal_dollar_brace() -> None:
    template = render(["a${b", Ref("env", "X"), "$", "{c}"])
    assert template.raw == "a$${b${env:X}$${c}"
    assert parse(template.raw).parts == template.parts


# --- ${file:} ------------------------------------------------------------------------------


def read(tmp_path: Path, target: str, env: dict[str, str] | None = None) -> tuple[str, list[str]]:
    missing: list[str] = []
    value = Resolver(env or {}, tmp_path).resolve(parse(f"${{file:{target}}}"), missing)
    return value, missing


def test_file_inside_the_tree_is_read(tmp_path: Path) -> None:
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / "s.txt").write_text("value\n")
    assert read(tmp_path, "sub/s.txt") == ("value", [])
    assert read(tmp_path, "sub/../sub/s.txt") == ("value", [])


def test_escapes_and_absolute_paths_are_refused(tmp_path: Path) -> None:
    manifest_dir = tmp_path / "repo"
    manifest_dir.mkdir()
    (tmp_path / "outside.txt").write_text("CANARY-outside")
    (manifest_dir / "link").symlink_to(tmp_path / "outside.txt")
    for target in ("../outside.txt", str(tmp_path / "outside.txt"), "link"):
        value, missing = read(manifest_dir, target)
        assert value == ""
        assert "outside the manifest's folder" in missing[0]
        assert "FLOWPLAN_FILE_ROOTS" in missing[0]


def test_file_roots_allow_other_folders(tmp_path: Path) -> None:
    manifest_dir, secrets = tmp_path / "repo", tmp_path / "run-secrets"
    manifest_dir.mkdir()
    secrets.mkdir()
    (secrets / "token").write_text("from-roots")
    env = {"FLOWPLAN_FILE_ROOTS": f"/nonexistent:{secrets}"}
    assert read(manifest_dir, str(secrets / "token"), env) == ("from-roots", [])
    assert "outside" in read(manifest_dir, str(secrets / "token"))[1][0]


@pytest.mark.parametrize("target", ["/proc/self/environ", "/dev/zero", "/dev/null"])
def test_special_files_are_refused_even_when_their_folder_is_a_root(
    tmp_path: Path, target: str
) -> None:
    value, missing = read(tmp_path, target, {"FLOWPLAN_FILE_ROOTS": "/proc:/dev"})
    assert value == ""
    assert "special file" in missing[0]


def test_fifo_is_refused_without_waiting(tmp_path: Path) -> None:
    os.mkfifo(tmp_path / "pipe")
    start = time.monotonic()
    _, missing = read(tmp_path, "pipe")
    assert time.monotonic() - start < 2
    assert "not a regular file" in missing[0]


def test_large_file_is_refused_by_size_while_reading(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "big").write_bytes(b"x" * (5 * 1024 * 1024))
    (tmp_path / "limit").write_bytes(b"y" * files.MAX_FILE_BYTES)
    read_bytes = 0
    real_read = os.read

    def counting_read(fd: int, n: int) -> bytes:
        nonlocal read_bytes
        data = real_read(fd, n)
        read_bytes += len(data)
        return data

    monkeypatch.setattr(files.os, "read", counting_read)
    value, missing = read(tmp_path, "big")
    assert value == ""
    assert "larger than 256 KiB" in missing[0]
    assert read_bytes <= files.MAX_FILE_BYTES + 1
    assert read(tmp_path, "limit") == ("y" * files.MAX_FILE_BYTES, [])


def test_empty_secret_is_an_error_naming_it(tmp_path: Path) -> None:
    (tmp_path / "empty").write_text("\n")
    resolver = Resolver({"EMPTY": ""}, tmp_path)
    for raw in ("${env:EMPTY}", "${file:empty}"):
        missing: list[str] = []
        assert resolver.resolve(parse(raw), missing, secret=True) == ""
        assert missing == [f"{raw} is empty; a secret cannot be empty"]
        plain: list[str] = []
        resolver.resolve(parse(raw), plain)  # a non-secret value may be empty
        assert plain == []


# --- the resolver: each distinct reference once, in parallel -------------------------------


class SlowStores(SecretStores):
    def __init__(self) -> None:
        super().__init__({})
        self.calls: list[Ref] = []
        self.active = self.peak = 0
        self.guard = threading.Lock()

    def fetch(self, ref: Ref) -> str:
        with self.guard:
            self.calls.append(ref)
            self.active += 1
            self.peak = max(self.peak, self.active)
        time.sleep(0.2)
        with self.guard:
            self.active -= 1
        if ref.target.startswith("absent"):
            raise StoreError("not found (ResourceNotFoundException)")
        return f"CANARY-value-of-{ref.target}"


def test_prefetch_reads_each_distinct_reference_once_in_parallel(tmp_path: Path) -> None:
    stores = SlowStores()
    resolver = Resolver({}, tmp_path, stores)
    templates = [parse(f"${{aws-sm:s{i % 6}}}") for i in range(30)]
    start = time.monotonic()
    resolver.prefetch(templates)
    elapsed = time.monotonic() - start
    assert sorted(r.target for r in stores.calls) == [f"s{i}" for i in range(6)]
    assert stores.peak == 6
    assert elapsed < 0.2 * 6 / 2  # well under a sequential read
    missing: list[str] = []
    assert [resolver.resolve(t, missing) for t in templates[:6]] == [
        f"CANARY-value-of-s{i}" for i in range(6)
    ]
    assert len(stores.calls) == 6  # nothing read again
    assert missing == []
    assert redact.scrub("x CANARY-value-of-s3 y") == f"x {redact.MASK} y"


def test_a_store_error_names_the_reference_once_per_use(tmp_path: Path) -> None:
    stores = SlowStores()
    resolver = Resolver({}, tmp_path, stores)
    missing: list[str] = []
    resolver.resolve(parse("${aws-ssm:absent/x}"), missing)
    resolver.resolve(parse("${aws-ssm:absent/x}"), missing)
    assert missing == ["${aws-ssm:absent/x}: not found (ResourceNotFoundException)"] * 2
    assert len(stores.calls) == 1


# --- redact --------------------------------------------------------------------------------

SECRET = 'CANARY-s3cr3t/with space&"quote"+plus-0123456789'


@pytest.fixture
def registered() -> str:
    redact.register(SECRET)
    return SECRET


@pytest.mark.parametrize(
    "spelling",
    [
        SECRET,
        json.dumps(SECRET)[1:-1],
        quote(SECRET, safe=""),
        quote_plus(SECRET),
    ],
)
def test_every_encoding_is_scrubbed(registered: str, spelling: str) -> None:
    assert spelling not in redact.scrub(f"error: sent {spelling} and failed")
    assert redact.MASK in redact.scrub(f"error: sent {spelling} and failed")


@pytest.mark.parametrize(
    "text",
    [
        f"body: {{'clientSecret': '{SECRET[:20]}",
        f"body: {SECRET[:14]}...",
        f"body: {SECRET[: len(SECRET) // 2]}\nnext line",
        f"{SECRET[-13:]} was the end",
        f'"{json.dumps(SECRET)[1:-1][-15:]}, "x": 1}}',
    ],
)
def test_a_secret_cut_by_truncation_is_scrubbed(registered: str, text: str) -> None:
    scrubbed = redact.scrub(text)
    assert redact.MASK in scrubbed
    for piece in (SECRET[:12], SECRET[-12:], json.dumps(SECRET)[1:-1][-12:]):
        assert piece not in scrubbed


def test_a_secret_that_is_another_ones_spelling_gets_its_own_spellings() -> None:
    """A value is registered once, with all its spellings (the shortcut for values seen
    before): one that was only known as another secret's JSON spelling still gets its own."""
    first = 'CANARY-first"quoted-0246'
    second = json.dumps(first)[1:-1]  # CANARY-first\\"quoted-0246: already masked
    redact.register(first)
    redact.register(second)
    assert redact.MASK in redact.scrub(f"sent {json.dumps(second)[1:-1]} and failed")
    assert json.dumps(second)[1:-1] not in redact.scrub(f"sent {json.dumps(second)[1:-1]}")


def test_ordinary_text_is_left_alone(registered: str) -> None:
    text = "CANARY- is a prefix too short to mean anything\nplain words"
    assert redact.scrub(text) == text


def test_scrub_obj_walks_structures(registered: str) -> None:
    doc = {"a": [SECRET, {"b": f"x{SECRET}x", SECRET: 1}], "n": 2, "t": (True, None)}
    scrubbed = redact.scrub_obj(doc)
    assert SECRET not in json.dumps(scrubbed)
    assert scrubbed["n"] == 2
    assert scrubbed["t"] == [True, None]


def test_install_log_filter_scrubs_every_handler(
    registered: str, caplog: pytest.LogCaptureFixture
) -> None:
    redact.install_log_filter()
    redact.install_log_filter()  # idempotent
    log = logging.getLogger("flowplan.test")
    with caplog.at_level(logging.DEBUG):
        log.debug("sending %s", {"clientSecret": SECRET})
        try:
            raise ValueError(f"bad value {SECRET}")
        except ValueError:
            log.exception("failed with %s", quote_plus(SECRET))
    late = io.StringIO()  # a handler added after the install is covered too
    handler = logging.StreamHandler(late)
    log.addHandler(handler)
    try:
        log.warning("late %s", SECRET)
    finally:
        log.removeHandler(handler)
    assert late.getvalue().startswith("late ")
    text = caplog.text + "\n".join(r.getMessage() for r in caplog.records) + late.getvalue()
    assert "sending" in text
    assert "failed with" in text
    assert "ValueError: bad value" in text
    for spelling in (SECRET, quote_plus(SECRET), SECRET[:12]):
        assert spelling not in text
