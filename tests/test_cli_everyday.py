"""Issue #17, the everyday commands and the rough edges a Terraform user trips over: each one
through the real CLI (in-process, or the installed module as a subprocess), against the
emulator over loopback."""

from __future__ import annotations

import io
import json
import logging
import os
import re
import socket
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from conftest import ORG, ROOT, cli_env, hubspot_manifest, run
from jsonschema import Draft202012Validator

from flowplan.emulator import Emulator, Fault
from flowplan.manifest.schema_files import load_schema, schema_text
from flowplan.output import logs, progress

SECRETS = {
    "HS_CLIENT_SECRET": "CANARY-everyday-cs-41d2",
    "HS_ACCESS_TOKEN": "CANARY-everyday-at-77e0",
    "HS_REFRESH_TOKEN": "CANARY-everyday-rt-90ab",
}
TOKEN = "TOKEN-everyday-c3f1"


@pytest.fixture
def env(emulator: Emulator, monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    values = cli_env(emulator, monkeypatch, TOKEN, SECRETS)
    for key in ("FLOWPLAN_LOG", "GITHUB_ACTIONS", "GITHUB_WORKSPACE", "FLOWPLAN_ENV"):
        monkeypatch.delenv(key, raising=False)
    return values


def no_secret(*texts: str) -> None:
    for text in texts:
        for secret in (*SECRETS.values(), TOKEN):
            assert secret not in text


def validator(name: str) -> Draft202012Validator:
    return Draft202012Validator(
        load_schema(name), format_checker=Draft202012Validator.FORMAT_CHECKER
    )


ENV_MANIFEST = """\
version: 1
environments:
  dev: {sandbox: dev}
  prod: {sandbox: prod}
connections:
  alpha:
    type: hubspot
    name: Alpha
    auth:
      params:
        clientId: ${env:HS_CLIENT_ID}
        clientSecret: ${env:HS_CLIENT_SECRET}
        accessToken: ${env:HS_ACCESS_TOKEN}
        refreshToken: ${env:HS_REFRESH_TOKEN}
"""


# --- say where ---------------------------------------------------------------------------------


def test_text_plan_and_apply_prompt_name_org_sandbox_and_environment(
    env: dict[str, str], write: Any, capsys: pytest.CaptureFixture[str], monkeypatch: Any
) -> None:
    path = write(ENV_MANIFEST)
    code, out, err = run(capsys, "plan", "-f", str(path), "--env", "dev")
    assert code == 0, err
    where = f"Plan for org {ORG}, sandbox dev, environment dev (manifest {path})."
    assert out.splitlines()[0] == where
    code, out, _ = run(capsys, "plan", "-f", str(write(hubspot_manifest("Alpha"), "p.yaml")))
    assert out.splitlines()[0].startswith(f"Plan for org {ORG}, sandbox prod (manifest ")

    class Terminal(io.StringIO):
        def isatty(self) -> bool:
            return True

    monkeypatch.setattr(sys, "stdin", Terminal("no\n"))
    code, out, err = run(capsys, "apply", "-f", str(path), "--env", "dev")
    assert code == 1
    assert f"Apply these changes to org {ORG}, sandbox dev, environment dev?" in out
    assert "Apply cancelled." in err
    no_secret(out, err)


def test_markdown_names_the_manifest_and_its_diff_signs_sit_in_the_first_column(
    env: dict[str, str], write: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    path = write(hubspot_manifest("Alpha"), "envs/prod.yaml")
    assert run(capsys, "apply", "-f", str(path), "--auto-approve")[0] == 0
    path.write_text(hubspot_manifest("Alpha").replace("name: Alpha", "name: Alpha 2"))
    code, out, _ = run(capsys, "plan", "-f", str(path), "--format", "markdown")
    assert code == 0
    assert out.splitlines()[0] == f"### flowplan: `{path}` in sandbox `prod`"
    block = out.split("```diff\n", 1)[1].split("\n```", 1)[0].splitlines()
    assert '- name: "Alpha"' in block
    assert '+ name: "Alpha 2"' in block
    assert all(not line.startswith(" ") for line in block), block
    no_secret(out)


# --- flags where hands put them ----------------------------------------------------------------


@pytest.mark.parametrize(
    "how",
    [("--debug", "apply"), ("apply", "--debug"), ("apply", "-debug"), ("apply", "FLOWPLAN_LOG")],
)
def test_debug_before_or_after_the_command_or_from_the_environment(
    env: dict[str, str],
    write: Any,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    how: tuple[str, str],
) -> None:
    path = write(hubspot_manifest("Alpha"))
    args = [a for a in how if a != "FLOWPLAN_LOG"]
    if "FLOWPLAN_LOG" in how:
        monkeypatch.setenv("FLOWPLAN_LOG", "debug")
    code, out, err = run(capsys, *args, "-f", str(path), "--auto-approve")
    assert code == 0, err
    assert re.search(r"DEBUG flowplan\.http POST /connections -> 201 in \d+ ms", err), err
    assert "filelock" not in err.lower()
    assert "Apply complete: 1 created" in out
    no_secret(out, err)
    # and without it, no debug line
    path.write_text(hubspot_manifest("Alpha", "Beta"))
    monkeypatch.delenv("FLOWPLAN_LOG", raising=False)
    code, out, err = run(capsys, "apply", "-f", str(path), "--auto-approve")
    assert code == 0
    assert "flowplan.http" not in err


def test_debug_logging_keeps_filelock_quiet_and_scrubs_every_handler(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    from flowplan import redact

    redact.register("CANARY-handler-secret-5150")
    # only flowplan's handler: pytest's own (scrubbing) handlers would mask a missing filter
    monkeypatch.setattr(logging.getLogger(), "handlers", [])
    undo = logs.configure(True)
    try:
        logging.getLogger("filelock").debug("Attempting to acquire lock 1234 on x.lock")
        logging.getLogger("filelock").info("Lock 1234 acquired on x.lock")
        # made without the scrubbing record factory, as a library's own factory could
        raw = logging.LogRecord("flowplan.http", logging.DEBUG, __file__, 1, "sent %s", None, None)
        raw.args = ("CANARY-handler-secret-5150",)
        logging.getLogger("flowplan.http").handle(raw)
    finally:
        undo()
    err = capsys.readouterr().err
    assert "x.lock" not in err
    assert "sent (sensitive value)" in err
    assert "CANARY-handler-secret-5150" not in err
    assert not logging.getLogger("flowplan").handlers  # undone: no handler piles up


def test_a_retry_is_announced_on_stderr_without_debug(
    emulator: Emulator, env: dict[str, str], write: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    path = write(hubspot_manifest("Alpha"))
    emulator.push_fault(Fault("status", status=503, method="POST"))
    code, out, err = run(capsys, "apply", "-f", str(path), "--auto-approve")
    assert code == 0, err
    assert re.search(r"^Warning: POST /connections: HTTP 503; retrying in", err, re.M), err
    assert "DEBUG" not in err
    no_secret(out, err)


def test_terraform_spellings_work_or_say_what_to_type(
    env: dict[str, str], write: Any, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    path = write(hubspot_manifest("Alpha", "Beta"))
    planfile = tmp_path / "plan.tfplan"
    code, out, err = run(capsys, "plan", f"-file={path}", f"-out={planfile}", "-target=alpha")
    assert code == 0, err
    assert planfile.is_file()
    assert "connection.beta" not in out
    assert "Warning: resource targeting is in effect (--target alpha)" in err
    assert "the plan may be incomplete" in err
    code, out, err = run(capsys, "apply", "-f", str(path), "-auto-approve", "-parallelism=2")
    assert code == 0, err
    assert "Apply complete: 2 created" in out

    for args, message in [
        (["plan", "-var", "a=b"], "-var is Terraform's, not flowplan's: values come from"),
        (["apply", "-input=false"], "-input is Terraform's, not flowplan's"),
        (["plan", "-outt=x"], "No such option: -outt (did you mean --out?)"),
        (["plan", "--ot", "x"], "Did you mean one of: '--format', '--out'?"),
        (["pln"], "No such command 'pln'. Did you mean 'plan'?"),
        (["plan", "-f", str(path), "--target", "alpah"], "(did you mean alpha?)"),
        (["state", "show", "-f", str(path), "alpah"], "no state entry 'alpah' (did you mean"),
    ]:
        code, out, err = run(capsys, *args)
        assert code == 1, args
        assert message in err, (args, err)
        assert "Traceback" not in err
    # click's own short option with its value attached still works
    assert run(capsys, "validate", f"-f{path}")[0] == 0


def test_the_target_warning_shows_on_apply(
    env: dict[str, str], write: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    path = write(hubspot_manifest("Alpha", "Beta"))
    code, out, err = run(capsys, "apply", "-f", str(path), "--auto-approve", "--target", "beta")
    assert code == 0, err
    assert "Warning: resource targeting is in effect (--target beta)" in err
    assert "Apply complete: 1 created" in out
    code, _, err = run(capsys, "plan", "-f", str(path))
    assert "targeting" not in err


# --- honest counts -----------------------------------------------------------------------------


def test_a_move_is_counted_as_a_move_everywhere(
    emulator: Emulator, env: dict[str, str], write: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    path = write(hubspot_manifest("Alpha"))
    assert run(capsys, "apply", "-f", str(path), "--auto-approve")[0] == 0
    before = len(emulator.requests)
    path.write_text(
        hubspot_manifest("Alpha").replace("  alpha:", "  alpha-2:")
        + "moved:\n  - {from: connection.alpha, to: connection.alpha-2}\n"
    )
    code, out, err = run(capsys, "plan", "-f", str(path), "--detailed-exitcode")
    assert code == 2, err
    assert "-> connection.alpha-2" in out
    assert "will be moved" in out
    summary = "Plan: 0 to create, 0 to update, 0 to delete, 0 to adopt, 1 to move."
    assert out.rstrip().endswith(summary)
    code, out, _ = run(capsys, "plan", "-f", str(path), "--format", "markdown")
    assert f"**{summary}**" in out
    assert "| `->` | `connection.alpha-2` | move |" in out
    code, out, _ = run(capsys, "plan", "-f", str(path), "--format", "json")
    assert json.loads(out)["summary"]["move"] == 1
    code, out, err = run(capsys, "apply", "-f", str(path), "--auto-approve")
    assert code == 0, err
    assert "-> moved connection.alpha-2" in out
    assert "Apply complete: 0 created, 0 updated, 0 deleted, 0 adopted, 1 moved." in out
    code, out, _ = run(capsys, "apply", "-f", str(path), "--auto-approve", "--format", "json")
    events = [json.loads(line) for line in out.splitlines()]
    assert events[-1]["type"] == "summary"
    assert all(r.method == "GET" for r in emulator.requests[before:])  # a move sends nothing


def test_a_protect_only_change_is_state_only_in_every_output(
    emulator: Emulator, env: dict[str, str], write: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    path = write(hubspot_manifest("Alpha"))
    assert run(capsys, "apply", "-f", str(path), "--auto-approve")[0] == 0
    path.write_text(
        hubspot_manifest("Alpha").replace("type: hubspot", "type: hubspot\n    protect: true")
    )
    code, out, _ = run(capsys, "plan", "-f", str(path), "--detailed-exitcode")
    assert code == 2  # apply must still record it
    assert "~ connection.alpha" in out
    assert "protect will change (state only; nothing is sent)" in out
    assert "will be updated in place" not in out
    summary = (
        "Plan: 0 to create, 1 to update (1 of them in the state only), 0 to delete, 0 to adopt."
    )
    assert summary in out
    code, out, _ = run(capsys, "plan", "-f", str(path), "--format", "markdown")
    assert "| update (state only) |" in out
    assert f"**{summary}**" in out
    code, out, _ = run(capsys, "plan", "-f", str(path), "--format", "json")
    assert json.loads(out)["summary"]["update"] == 1  # the same count, in every output
    before = len(emulator.requests)
    code, out, err = run(capsys, "apply", "-f", str(path), "--auto-approve")
    assert code == 0, err
    assert "(protect: state only; nothing was sent)" in out
    assert "Apply complete: 0 created, 1 updated, 0 deleted, 0 adopted." in out
    assert [r.method for r in emulator.requests[before:] if r.method != "GET"] == []
    state = json.loads(path.with_suffix(".state.json").read_text())
    assert state["connections"]["alpha"]["protect"] is True
    assert run(capsys, "plan", "-f", str(path), "--detailed-exitcode")[0] == 0


# --- progress ----------------------------------------------------------------------------------


def test_a_slow_apply_on_a_terminal_shows_progress(
    env: dict[str, str], write: Any, capsys: pytest.CaptureFixture[str], monkeypatch: Any
) -> None:
    monkeypatch.setattr(progress, "on_a_terminal", lambda: True)
    monkeypatch.setattr(progress, "INTERVAL_S", 0.05)
    with Emulator(latency_ms=150) as slow:
        monkeypatch.setenv("FLOWPLAN_ENDPOINT", slow.flow_url)
        path = write(hubspot_manifest("Alpha", "Beta", "Gamma"))
        code, out, err = run(
            capsys, "apply", "-f", str(path), "--auto-approve", "--parallelism", "1"
        )
    assert code == 0, err
    lines = [line for line in out.splitlines() if line.startswith("Still applying... [")]
    assert lines, out
    assert re.match(r"Still applying\.\.\. \[\d+s elapsed\] [0-3] of 3 changes done", lines[0])
    assert "waiting for connection." in lines[0]
    no_secret(out, err)
    # not on a terminal (CI logs) and never in the JSON stream
    monkeypatch.setattr(progress, "on_a_terminal", lambda: False)
    with Emulator(latency_ms=150) as slow:
        monkeypatch.setenv("FLOWPLAN_ENDPOINT", slow.flow_url)
        path.write_text(hubspot_manifest("Delta"))
        path.with_suffix(".state.json").unlink()
        code, out, _ = run(capsys, "apply", "-f", str(path), "--auto-approve")
    assert code == 0
    assert "Still applying" not in out


# --- machine-readable everything ---------------------------------------------------------------


def test_validate_counts_every_kind_in_text_and_json(capsys: pytest.CaptureFixture[str]) -> None:
    pipeline = ROOT / "examples" / "hubspot-pipeline.yaml"
    code, out, _ = run(capsys, "validate", "-f", str(pipeline))
    assert code == 0
    assert "valid (1 connection, 1 source, 1 target, 1 mapping set, 1 dataflow)." in out
    code, out, _ = run(capsys, "validate", "--format", "json", str(pipeline))
    doc = json.loads(out)
    validator("validate.schema.json").validate(doc)
    assert doc["valid"] is True
    assert doc["files"][0]["resources"] == {
        "connection": 1,
        "source": 1,
        "target": 1,
        "mapping": 1,
        "dataflow": 1,
    }


def test_validate_json_lists_problems_and_exits_1(
    write: Any, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("GITHUB_ACTIONS", "true")  # annotations must not corrupt the JSON
    good = write(hubspot_manifest("A"), "good.yaml")
    bad = write("version: 1\nconnections:\n  a:\n    type: hubspot\n", "bad.yaml")
    code, out, err = run(capsys, "validate", "--format", "json", str(good), str(bad))
    assert code == 1
    doc = json.loads(out)
    validator("validate.schema.json").validate(doc)
    assert doc["valid"] is False
    assert [f["valid"] for f in doc["files"]] == [True, False]
    assert doc["files"][1]["resources"] is None
    assert {
        "file": str(bad),
        "line": 3,
        "col": 3,
        "message": "connections.a: 'name' is required",
    } in doc["files"][1]["problems"]
    assert "2 problems found." in err


def test_github_annotations_are_relative_to_the_workspace(
    write: Any, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("GITHUB_ACTIONS", "true")
    monkeypatch.setenv("GITHUB_WORKSPACE", str(tmp_path))
    path = write("version: 1\nconnections:\n  a:\n    type: hubspot\n", "envs/prod.yaml")
    code, out, err = run(capsys, "validate", "-f", str(path))
    assert code == 1
    assert "::error file=envs/prod.yaml,line=3,col=3::connections.a: 'name' is required" in out
    assert f"{path}:3:3: error:" in err  # the terminal's line keeps the path as given
    monkeypatch.setenv("GITHUB_WORKSPACE", str(tmp_path / "elsewhere"))
    code, out, _ = run(capsys, "validate", "-f", str(path))
    assert f"::error file={str(path).replace(':', '%3A')},line=3" in out


def test_state_list_and_show_as_json(
    env: dict[str, str], write: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    path = write(hubspot_manifest("Alpha", "Beta"))
    assert run(capsys, "apply", "-f", str(path), "--auto-approve")[0] == 0
    _, out, _ = run(capsys, "state", "list", "-f", str(path), "--format", "json")
    doc = json.loads(out)
    validator("state-list.schema.json").validate(doc)
    assert [r["address"] for r in doc["resources"]] == ["connection.alpha", "connection.beta"]
    _code, out, _ = run(capsys, "state", "show", "alpha", "-f", str(path), "--format", "json")
    doc = json.loads(out)
    validator("state-show.schema.json").validate(doc)
    assert (doc["address"], doc["kind"], doc["key"]) == ("connection.alpha", "connection", "alpha")
    assert doc["entry"]["etag"].startswith('"')
    no_secret(out)
    # the text forms are as they were
    assert run(capsys, "state", "list", "-f", str(path))[1].startswith("alpha\t")


def test_runs_schema_accepts_the_documented_fields() -> None:
    run_ = {
        "address": "dataflow.hs-contacts-hourly",
        "dataflow_id": "f-1",
        "run_id": "r-1",
        "status": "success",
        "started_at": "2026-12-01T00:00:00Z",
        "duration_s": 12.5,
        "records_read": 10,
        "records_written": 9,
        "records_failed": 1,
    }
    validator("runs.schema.json").validate({"runs": [run_]})
    with pytest.raises(Exception, match="started_at"):
        validator("runs.schema.json").validate({"runs": [{**run_, "started_at": "yesterday"}]})


def test_schema_prints_the_manifest_schema_and_the_outputs(
    capsys: pytest.CaptureFixture[str],
) -> None:
    code, out, _ = run(capsys, "schema")
    assert code == 0
    assert out == (ROOT / "schemas" / "manifest.schema.json").read_text(encoding="utf-8")
    for name in ("plan", "validate", "state-list", "state-show", "runs"):
        code, out, _ = run(capsys, "schema", name)
        assert json.loads(out) == json.loads(schema_text(f"{name}.schema.json"))
        Draft202012Validator.check_schema(json.loads(out))


def test_shell_completion_as_the_readme_documents_it(tmp_path: Path) -> None:
    base = {**os.environ, "PYTHONPATH": str(ROOT)}
    source = subprocess.run(
        [sys.executable, "-m", "flowplan"],
        env={**base, "_FLOWPLAN_COMPLETE": "bash_source"},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert source.returncode == 0, source.stderr
    assert "_FLOWPLAN_COMPLETE=bash_complete" in source.stdout
    complete = subprocess.run(
        [sys.executable, "-m", "flowplan"],
        env={
            **base,
            "_FLOWPLAN_COMPLETE": "bash_complete",
            "COMP_WORDS": "flowplan pl",
            "COMP_CWORD": "1",
        },
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert "plain,plan" in complete.stdout.splitlines()


# --- quiet first impression --------------------------------------------------------------------


def test_the_demo_runs_quietly() -> None:
    result = subprocess.run(
        [sys.executable, str(ROOT / "examples" / "demo.py")],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    both = result.stdout + result.stderr
    assert "ERROR" not in both
    assert "Traceback" not in both
    assert "Warning" not in both
    assert "Plan for org DEMO" in result.stdout
    # `make demo`'s install step: aepp's deliberately missing dependencies are not pip ERRORs
    makefile = (ROOT / "Makefile").read_text(encoding="utf-8")
    aepp = makefile.split('--no-deps "aepp==', 1)[1].split("\n\n", 1)[0]
    assert "--no-warn-conflicts" in aepp


def test_emulator_on_a_busy_port_says_so_in_one_line(capsys: pytest.CaptureFixture[str]) -> None:
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        code, _out, err = run(capsys, "emulator", "--port", str(port))
    assert code == 1
    assert "Traceback" not in err
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    assert str(port) in lines[0]
    assert "--port" in lines[0]
