"""GitOps: the GitHub Action's shell logic, import, state commands, export round trip."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml
from conftest import ORG, ROOT, hubspot_manifest, hubspot_params, run
from servers import s3_env, s3_server  # noqa: F401 (fixtures)

from flowplan.emulator import Emulator

SCRIPT = ROOT / ".github" / "flowplan-action" / "run.sh"


def fake_flowplan(folder: Path, plan_code: int) -> Path:
    """A stand-in for flowplan that records its arguments and exits as told."""
    stub = folder / "flowplan-stub"
    stub.write_text(
        "#!/usr/bin/env bash\n"
        f'echo "$@" >> "{folder}/calls"\n'
        'if [ "$1" = show ]; then echo "### flowplan: stub markdown"; exit 0; fi\n'
        'if [ "$1" = plan ]; then touch "${@: -1}"; fi\n'
        'if [ "$1" = apply ]; then echo "+ created alpha"; fi\n'
        f'if [ {plan_code} -eq 1 ]; then echo "::error::annotation" ; '
        'echo "Error: stub failure" >&2; fi\n'
        f"exit {plan_code}\n"
    )
    stub.chmod(0o755)
    return stub


def run_action(
    folder: Path, command: str, stub: Path | str, **extra: str
) -> tuple[int, dict[str, str], str]:
    code, outputs, summary, _ = run_action_full(folder, command, stub, **extra)
    return code, outputs, summary


def run_action_full(
    folder: Path, command: str, stub: Path | str, **extra: str
) -> tuple[int, dict[str, str], str, str]:
    """run.sh as action.yml runs it: (exit code, outputs, step summary, stdout + stderr)."""
    output, summary = folder / "output", folder / "summary"
    output.write_text("")
    summary.write_text("")
    env = {
        **os.environ,
        "GITHUB_ACTIONS": "true",
        "GITHUB_OUTPUT": str(output),
        "GITHUB_STEP_SUMMARY": str(summary),
        "RUNNER_TEMP": str(folder),
        "FLOWPLAN_COMMAND": command,
        "FLOWPLAN_BIN": str(stub),
        **extra,
    }
    result = subprocess.run(
        ["bash", str(SCRIPT)],
        env=env,
        cwd=folder,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    outputs = dict(line.split("=", 1) for line in output.read_text().splitlines() if "=" in line)
    return result.returncode, outputs, summary.read_text(), result.stdout + result.stderr


@pytest.mark.parametrize(
    ("code", "step_exit", "has_changes"), [(0, 0, "false"), (2, 0, "true"), (1, 1, "false")]
)
def test_action_maps_plan_exit_codes(
    tmp_path: Path, code: int, step_exit: int, has_changes: str
) -> None:
    stub = fake_flowplan(tmp_path, code)
    exit_code, outputs, summary = run_action(tmp_path, "plan", stub, FLOWPLAN_ARGS="--target a")
    assert exit_code == step_exit
    assert outputs["exit-code"] == str(code)
    assert outputs["has-changes"] == has_changes
    assert outputs["plan-file"] == str(tmp_path / "flowplan.plan")
    assert outputs["comment-marker"] == "<!-- flowplan:plan:flowplan.yaml -->"
    markdown = Path(outputs["markdown-file"]).read_text()
    assert markdown.startswith("<!-- flowplan:plan:flowplan.yaml -->\n")
    calls = (tmp_path / "calls").read_text()
    assert (
        f"plan -f flowplan.yaml --detailed-exitcode --out {tmp_path}/flowplan.plan --target a"
        in calls
    )
    if code in (0, 2):
        assert "stub markdown" in summary
        assert "stub markdown" in markdown
        assert "<!--" not in summary  # the marker is for the comment only
        assert f"show {tmp_path}/flowplan.plan --format markdown" in calls
    else:
        # A failed plan's comment shows what flowplan said (stderr), not "see the log".
        assert "plan failed (exit 1)" in summary
        assert "```text\nError: stub failure\n```" in markdown
        assert "::error" not in markdown  # workflow commands are not the error text


def test_action_apply_and_validate_pass_exit_codes_through(tmp_path: Path) -> None:
    for code in (0, 1):
        stub = fake_flowplan(tmp_path, code)
        assert run_action(tmp_path, "apply", stub)[0] == code
        assert "apply -f flowplan.yaml --auto-approve" in (tmp_path / "calls").read_text()
        assert run_action(tmp_path, "apply", stub, FLOWPLAN_PLAN_FILE="saved.plan")[0] == code
        assert "apply saved.plan" in (tmp_path / "calls").read_text()
        assert run_action(tmp_path, "validate", stub)[0] == code


@pytest.mark.parametrize("code", [0, 1])
def test_action_apply_writes_the_step_summary(tmp_path: Path, code: int) -> None:
    stub = fake_flowplan(tmp_path, code)
    exit_code, outputs, summary, log = run_action_full(tmp_path, "apply", stub)
    assert (exit_code, outputs["exit-code"]) == (code, str(code))
    assert "+ created alpha" in log  # still in the job log as it happens
    outcome = "succeeded" if code == 0 else "failed (exit 1)"
    assert summary.startswith(f"### flowplan: apply {outcome} for `flowplan.yaml`\n")
    assert "+ created alpha" in summary
    if code:
        assert "Error: stub failure" in summary


def test_action_comment_marker_is_per_manifest(tmp_path: Path) -> None:
    stub = fake_flowplan(tmp_path, 2)
    markers = set()
    for manifest, directory in [
        ("flowplan.yaml", "."),
        ("envs/prod.yaml", "."),
        ("envs/prod.yaml", "./infra/"),
        ("we<i>rd -->.yaml", "."),
    ]:
        _, outputs, _ = run_action(
            tmp_path,
            "plan",
            stub,
            FLOWPLAN_MANIFEST=manifest,
            FLOWPLAN_WORKING_DIRECTORY=directory,
        )
        marker = outputs["comment-marker"]
        assert Path(outputs["markdown-file"]).read_text().startswith(marker + "\n")
        markers.add(marker)
    assert markers == {
        "<!-- flowplan:plan:flowplan.yaml -->",
        "<!-- flowplan:plan:envs/prod.yaml -->",
        "<!-- flowplan:plan:infra/envs/prod.yaml -->",
        "<!-- flowplan:plan:we_i_rd_--_.yaml -->",  # nothing can end the HTML comment early
    }


def test_action_quotes_long_or_fenced_errors_safely(tmp_path: Path) -> None:
    stub = tmp_path / "flowplan-stub"
    stub.write_text(
        "#!/usr/bin/env bash\n"
        'for i in $(seq 1 3000); do echo "line $i of a long error message"; done >&2\n'
        "echo 'a ```` fence' >&2\n"
        "exit 1\n"
    )
    stub.chmod(0o755)
    _, outputs, summary = run_action(tmp_path, "plan", stub)
    markdown = Path(outputs["markdown-file"]).read_text()
    assert markdown.endswith(summary)  # the same text, less the marker
    assert len(markdown) < 65536  # one GitHub comment
    assert "\n`````text\n(earlier lines cut; the job log has them all)\n" in markdown
    assert markdown.endswith("line 3000 of a long error message\na ```` fence\n`````\n")
    assert "line 1 of" not in markdown


def test_action_comment_fits_one_github_comment_with_its_marker(tmp_path: Path) -> None:
    row = "| `connection.x` | create |\n"
    (tmp_path / "long.md").write_text(row * (65536 // len(row)))  # flowplan may fill it all
    stub = tmp_path / "flowplan-stub"
    stub.write_text(
        "#!/usr/bin/env bash\n"
        f'if [ "$1" = show ]; then cat "{tmp_path}/long.md"; exit 0; fi\n'
        'touch "${@: -1}"; exit 2\n'
    )
    stub.chmod(0o755)
    _, outputs, summary = run_action(tmp_path, "plan", stub)
    markdown = Path(outputs["markdown-file"]).read_text()
    assert 65000 < len(markdown) <= 65536
    assert markdown.endswith("|\n\n_(cut to fit one comment; the job summary has it all)_\n")
    assert summary == (tmp_path / "long.md").read_text()  # the summary keeps it all


@pytest.mark.parametrize(
    ("variables", "message"),
    [
        ({"FLOWPLAN_COMMAND": "destroy"}, "command must be validate, plan or apply, not 'destroy'"),
        ({"FLOWPLAN_COMMAND": ""}, "command must be validate, plan or apply"),
        ({"FLOWPLAN_MANIFEST": "--help"}, "input manifest must be a path, not an option"),
        ({"FLOWPLAN_MANIFEST": "a.yaml\nb"}, "input manifest must not contain control characters"),
        ({"FLOWPLAN_PLAN_FILE": "p\nexit-code=0"}, "input plan-file must not contain control"),
        ({"FLOWPLAN_ARGS": "--target 'a b'"}, "input args is split on whitespace; quotes"),
        ({"FLOWPLAN_ARGS": "--target a\rb"}, "input args must not contain control characters"),
        (
            {"FLOWPLAN_INPUTS": '{\n  "command": "plan",\n  "plan-fle": "saved.plan"\n}'},
            "unknown input 'plan-fle'",
        ),
        ({"FLOWPLAN_INPUTS": '{"command":"plan","Args ":""}'}, "unknown input 'Args '"),
        ({"FLOWPLAN_INPUTS": '["command"]'}, "cannot read the action's inputs (FLOWPLAN_INPUTS is"),
        ({"FLOWPLAN_EXTRAS": "s3, aws"}, "input extras is a comma-separated list such as s3,aws"),
        ({"FLOWPLAN_EXTRAS": "s3]; x"}, "input extras is a comma-separated list such as s3,aws"),
        ({"FLOWPLAN_EXTRAS": "s3,"}, "input extras is a comma-separated list such as s3,aws"),
        (
            {"FLOWPLAN_EXTRAS": "s3,boto3"},
            "flowplan has no extra 'boto3'; the extras are: emulator",
        ),
        ({"FLOWPLAN_EXTRAS": "dev"}, "flowplan has no extra 'dev'"),  # not the tools' extras
        ({"FLOWPLAN_ENV_INPUT": "Prod"}, "input env must be an environment name"),
        ({"FLOWPLAN_ENV_INPUT": "-x"}, "input env must be an environment name"),
        ({"FLOWPLAN_ENV_INPUT": "dev\n"}, "input env must be an environment name"),
        ({"FLOWPLAN_ENV_INPUT": "d" * 64}, "input env must be an environment name"),
        ({"FLOWPLAN_ENV_INPUT": "dev --state x"}, "input env must be an environment name"),
        (
            {"FLOWPLAN_COMMAND": "validate", "FLOWPLAN_ENV_INPUT": "dev"},
            "input env is for plan and apply; validate checks every environment",
        ),
        (
            {"FLOWPLAN_INPUTS": '{"manifest": "a"}'},
            "cannot read the action's inputs (FLOWPLAN_INPUTS has",
        ),
    ],
)
def test_action_fails_closed_on_inputs_it_does_not_know(
    tmp_path: Path, variables: dict[str, str], message: str
) -> None:
    stub = fake_flowplan(tmp_path, 0)
    env = {"FLOWPLAN_COMMAND": "plan", **variables}
    code, outputs, _, log = run_action_full(tmp_path, env.pop("FLOWPLAN_COMMAND"), stub, **env)
    assert (code, outputs) == (1, {"exit-code": "1"})
    assert f"::error title=flowplan action::{message}" in log
    assert len([line for line in log.splitlines() if line.startswith("::")]) == 1
    assert not (tmp_path / "calls").exists()  # flowplan never ran


def test_action_accepts_every_input_it_declares(tmp_path: Path) -> None:
    stub = fake_flowplan(tmp_path, 0)
    declared = yaml.safe_load((ROOT / "action.yml").read_text())["inputs"]
    inputs = json.dumps({name: "" for name in declared} | {"command": "plan"}, indent=2)
    code, _, _, log = run_action_full(
        tmp_path,
        "plan",
        stub,
        FLOWPLAN_INPUTS=inputs,
        FLOWPLAN_ARGS="--target a\n--target b",
        FLOWPLAN_CHECK_ONLY="true",
    )
    assert (code, log) == (0, "")
    assert not (tmp_path / "calls").exists()  # checked only
    code, _, _, _ = run_action_full(tmp_path, "plan", stub, FLOWPLAN_ARGS="--target a\n--target b")
    assert code == 0
    assert "--target a --target b" in (tmp_path / "calls").read_text()  # every line of args


def test_action_passes_the_environment_and_names_it_in_the_marker(tmp_path: Path) -> None:
    stub = fake_flowplan(tmp_path, 2)
    code, outputs, _ = run_action(
        tmp_path, "plan", stub, FLOWPLAN_ENV_INPUT="d" * 63, FLOWPLAN_ARGS="--target a"
    )
    assert code == 0
    marker = f"<!-- flowplan:plan:flowplan.yaml#{'d' * 63} -->"
    assert outputs["comment-marker"] == marker
    assert Path(outputs["markdown-file"]).read_text().startswith(marker + "\n")
    calls = (tmp_path / "calls").read_text().splitlines()
    plan = f"plan -f flowplan.yaml --detailed-exitcode --out {tmp_path}/flowplan.plan"
    assert calls[0] == f"{plan} --env {'d' * 63} --target a"
    stub = fake_flowplan(tmp_path, 0)
    assert run_action(tmp_path, "apply", stub, FLOWPLAN_ENV_INPUT="prod")[0] == 0
    assert (
        run_action(tmp_path, "apply", stub, FLOWPLAN_ENV_INPUT="prod", FLOWPLAN_PLAN_FILE="p")[0]
        == 0
    )
    calls = (tmp_path / "calls").read_text().splitlines()
    assert calls[-2:] == ["apply -f flowplan.yaml --auto-approve --env prod", "apply p --env prod"]


def fake_python(folder: Path) -> Path:
    """A python whose `-m venv --clear DIR` makes a venv whose python records its arguments;
    anything else goes to the real Python (the script reads its inputs' JSON with it)."""
    recorder = folder / "recorder"
    recorder.write_text(f'#!/usr/bin/env bash\necho "$*" >> "{folder}/pip-calls"\n')
    recorder.chmod(0o755)
    python = folder / "python-stub"
    python.write_text(
        "#!/usr/bin/env bash\n"
        'if [ "$1 $2 $3" = "-m venv --clear" ]; then\n'
        f'  mkdir -p "$4/bin" && cp "{recorder}" "$4/bin/python"; exit 0\n'
        "fi\n"
        f'exec "{sys.executable}" "$@"\n'
    )
    python.chmod(0o755)
    return python


@pytest.mark.parametrize(
    ("extras", "spec"),
    [("", "/action"), ("s3", "/action[s3]"), ("s3,aws,vault", "/action[s3,aws,vault]")],
)
def test_action_installs_flowplan_with_the_extras_asked_for(
    tmp_path: Path, extras: str, spec: str
) -> None:
    stub = fake_flowplan(tmp_path, 0)
    inputs = json.dumps({"command": "plan", "extras": extras})
    code, _, _, log = run_action_full(
        tmp_path,
        "plan",
        stub,
        FLOWPLAN_INSTALL="true",
        FLOWPLAN_INPUTS=inputs,
        FLOWPLAN_PYTHON=str(fake_python(tmp_path)),
        FLOWPLAN_SOURCE="/action",
        FLOWPLAN_VENV=str(tmp_path / "venv"),
        FLOWPLAN_EXTRAS=extras,
    )
    assert (code, log) == (0, "")
    pip = (tmp_path / "pip-calls").read_text()
    assert pip == f"-m pip install --quiet --disable-pip-version-check {spec}\n"
    assert not (tmp_path / "calls").exists()  # installed, not run


def test_action_refuses_bad_extras_before_installing(tmp_path: Path) -> None:
    stub = fake_flowplan(tmp_path, 0)
    code, outputs, _, log = run_action_full(
        tmp_path,
        "plan",
        stub,
        FLOWPLAN_INSTALL="true",
        FLOWPLAN_PYTHON=str(fake_python(tmp_path)),
        FLOWPLAN_SOURCE="/action",
        FLOWPLAN_VENV=str(tmp_path / "venv"),
        FLOWPLAN_EXTRAS="s3,git+https://example.invalid/x",
    )
    assert (code, outputs) == (1, {"exit-code": "1"})
    assert "input extras is a comma-separated list" in log
    assert not (tmp_path / "venv").exists()
    assert not (tmp_path / "pip-calls").exists()


def test_action_knows_the_extras_flowplan_has() -> None:
    """run.sh's list of extras is pyproject.toml's, less the ones for flowplan's own tests."""
    import tomllib

    extras = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"][
        "optional-dependencies"
    ]
    line = next(x for x in SCRIPT.read_text().splitlines() if x.startswith("KNOWN_EXTRAS="))
    assert set(line.split('"')[1].split()) == set(extras) - {"test", "dev"}


def test_action_with_the_real_cli(emulator: Emulator, tmp_path: Path) -> None:
    (tmp_path / "flowplan.yaml").write_text(hubspot_manifest("Alpha"))
    bin_dir = Path(sys.executable).parent
    extra = {
        "FLOWPLAN_ENDPOINT": emulator.flow_url,
        "AEP_ACCESS_TOKEN": "t",
        "AEP_API_KEY": "k",
        "AEP_ORG_ID": ORG,
        "HS_CLIENT_ID": "c",
        "HS_CLIENT_SECRET": "client-secret-value",
        "HS_ACCESS_TOKEN": "access-token-value",
        "HS_REFRESH_TOKEN": "refresh-token-value",
    }
    code, outputs, summary = run_action(tmp_path, "plan", bin_dir / "flowplan", **extra)
    assert (code, outputs["has-changes"]) == (0, "true")
    heading = "### flowplan: `flowplan.yaml` in sandbox `prod`"
    assert summary.startswith(f"{heading}\n\n**Plan: 1 to create")
    code, _, summary = run_action(
        tmp_path, "apply", bin_dir / "flowplan", FLOWPLAN_PLAN_FILE=outputs["plan-file"], **extra
    )
    assert code == 0
    assert summary.startswith("### flowplan: apply succeeded for `flowplan.yaml`\n")
    assert "Apply complete: 1 created" in summary
    assert "-value" not in summary
    code, outputs, summary = run_action(tmp_path, "plan", bin_dir / "flowplan", **extra)
    assert (code, outputs["has-changes"]) == (0, "false")
    assert "No changes" in summary
    del extra["HS_REFRESH_TOKEN"]
    code, outputs, summary = run_action(tmp_path, "plan", bin_dir / "flowplan", **extra)
    assert code == 1
    markdown = Path(outputs["markdown-file"]).read_text()
    assert "HS_REFRESH_TOKEN is not set" in markdown
    for text in (markdown, summary):
        assert "-value" not in text  # no secret, in the comment or anywhere


EXAMPLES = ROOT / "examples" / "github"
SECRETS = {
    "HS_CLIENT_SECRET": "client-secret-value",
    "HS_ACCESS_TOKEN": "access-token-value",
    "HS_REFRESH_TOKEN": "refresh-token-value",
}


def workflow(name: str) -> dict[str, Any]:
    loaded: dict[str, Any] = yaml.safe_load((EXAMPLES / name).read_text())
    return loaded


def check_step(name: str, job: str) -> dict[str, Any]:
    """The step that checks what a downloaded plan is for, before the apply job applies it."""
    steps = workflow(name)["jobs"][job]["steps"]
    found: dict[str, Any] = next(s for s in steps if s.get("name") == "Check what the plan is for")
    return found


def run_check(folder: Path, plan: Path, manifest: str, environment: str) -> tuple[int, str]:
    """The check step's script as the runner runs it (bash -e), with its env."""
    script = check_step("apply-on-merge.yml", "apply")["run"]
    env = {**os.environ, "PLAN": str(plan), "MANIFEST": manifest, "ENVIRONMENT": environment}
    result = subprocess.run(
        ["bash", "-e", "-c", script],
        env=env,
        cwd=folder,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    return result.returncode, result.stdout + result.stderr


def test_the_check_step_is_the_same_wherever_a_plan_is_applied() -> None:
    script = check_step("apply-on-merge.yml", "apply")["run"]
    for job in ("apply-dev", "apply-stage", "apply-prod"):
        step = check_step("promotion.yml", job)
        assert step["run"] == script
        assert step["env"]["ENVIRONMENT"] == job.removeprefix("apply-")


def test_shared_state_pr_plan_is_applied_on_merge_and_refused_once_stale(
    emulator: Emulator,
    s3_env: dict[str, str],  # noqa: F811 (the fixture)
    tmp_path: Path,
) -> None:
    """Issue #15 through the action's script and the workflows' own values: the pull request's
    runner plans against the S3 state and saves the plan; the merge's runner (another folder,
    no file in common but the plan) checks it and applies it; a plan made before another apply
    is refused; a plan made against a state file is refused by the check step."""
    state = workflow("apply-on-merge.yml")["env"]["FLOWPLAN_STATE"]
    assert state.startswith("s3://your-org-flowplan/")
    state = state.replace("your-org-flowplan", s3_env["S3_BUCKET"])
    pr, merge = tmp_path / "pr", tmp_path / "merge"
    for folder in (pr, merge):
        folder.mkdir()
        (folder / "flowplan.yaml").write_text(hubspot_manifest("Alpha"))
    flowplan = Path(sys.executable).parent / "flowplan"
    extra = {
        **s3_env,
        **SECRETS,
        "FLOWPLAN_STATE": state,
        "FLOWPLAN_ENDPOINT": emulator.flow_url,
        "AEP_ACCESS_TOKEN": "t",
        "AEP_API_KEY": "k",
        "AEP_ORG_ID": ORG,
        "HS_CLIENT_ID": "c",
        "FLOWPLAN_EXTRAS": "s3",
    }
    texts = []

    def plan(name: str, **more: str) -> Path:
        saved = pr / name
        code, outputs, summary = run_action(
            pr, "plan", flowplan, **{**extra, "FLOWPLAN_PLAN_FILE": str(saved), **more}
        )
        assert (code, outputs["has-changes"]) == (0, "true"), summary
        texts.extend([summary, saved.read_text()])
        return saved

    def apply(saved: Path | None) -> tuple[int, str]:
        more = {"FLOWPLAN_PLAN_FILE": str(saved)} if saved else {}
        code, _, summary = run_action(merge, "apply", flowplan, **extra, **more)
        texts.append(summary)
        return code, summary

    # The PR's plan, downloaded on the merge's runner, checked, applied.
    downloaded = merge / "download" / "flowplan.plan"
    downloaded.parent.mkdir()
    downloaded.write_bytes(plan("flowplan.plan").read_bytes())
    assert run_check(merge, downloaded, "flowplan.yaml", "") == (0, "")
    code, summary = apply(downloaded)
    assert code == 0, summary
    assert "Apply complete: 1 created" in summary
    assert [c["name"] for c in emulator.connections(ORG, "prod")] == ["Alpha"]
    # The PR runner sees what the merge runner applied: the state is shared.
    code, outputs, _ = run_action(pr, "plan", flowplan, **extra)
    assert (code, outputs["has-changes"]) == (0, "false")

    # A rename planned on the PR; meanwhile another run applies it; the reviewed plan is stale.
    for folder in (pr, merge):
        (folder / "flowplan.yaml").write_text(hubspot_manifest("Alpha").replace("Alpha", "Beta"))
    stale = plan("stale.plan")
    assert apply(None)[0] == 0
    code, summary = apply(stale)
    assert code == 1
    assert "the state changed since the plan was made" in summary

    # A plan made against a state file on the runner's disk never reaches the apply step.
    local = plan("local.plan", FLOWPLAN_STATE="")
    code, log = run_check(merge, local, "flowplan.yaml", "")
    assert code == 1
    assert not json.loads(local.read_text())["state"]["location"].startswith("s3://")
    assert log.startswith("::error title=flowplan::the plan is for ")
    # Nor a destroy plan (`flowplan destroy` is for a person at a terminal), nor a plan for
    # another manifest or environment.
    destroy = plan("destroy.plan", FLOWPLAN_ARGS="--destroy")
    assert json.loads(destroy.read_text())["destroy"] is True
    assert run_check(merge, destroy, "flowplan.yaml", "")[0] == 1
    assert run_check(merge, downloaded, "other.yaml", "")[0] == 1
    assert run_check(merge, downloaded, "flowplan.yaml", "prod")[0] == 1

    import boto3  # type: ignore[import-untyped]

    s3 = boto3.session.Session().client("s3")
    for item in s3.list_objects_v2(Bucket=s3_env["S3_BUCKET"])["Contents"]:
        texts.append(
            s3.get_object(Bucket=s3_env["S3_BUCKET"], Key=item["Key"])["Body"].read().decode()
        )
    assert len(texts) > 8
    for text in texts:
        for secret in SECRETS.values():
            assert secret not in text  # not in a summary, a saved plan or the shared state


@pytest.fixture
def env(emulator: Emulator, monkeypatch: pytest.MonkeyPatch) -> None:
    for key, value in {
        "FLOWPLAN_ENDPOINT": emulator.flow_url,
        "AEP_ACCESS_TOKEN": "t",
        "AEP_API_KEY": "k",
        "AEP_ORG_ID": ORG,
        "AEP_SANDBOX_NAME": "prod",
        "HS_CLIENT_ID": "client-x",
        "HS_CLIENT_SECRET": "s",
        "HS_ACCESS_TOKEN": "a",
        "HS_REFRESH_TOKEN": "r",
        "NO_COLOR": "1",
    }.items():
        monkeypatch.setenv(key, value)


def test_import_and_state_commands(
    emulator: Emulator, env: None, write: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    existing = emulator.seed(ORG, "prod", name="Legacy name", params=hubspot_params())
    path = write(hubspot_manifest("Alpha"))
    assert run(capsys, "import", "nope", existing, "-f", str(path))[0] == 1
    code, out, err = run(capsys, "import", "alpha", existing, "-f", str(path))
    assert code == 0, err
    assert f"Imported {existing}" in out
    assert run(capsys, "import", "alpha", existing, "-f", str(path))[2].count("already manages")
    code, out, _ = run(capsys, "plan", "-f", str(path))
    assert f"~ connection.alpha [id={existing}] will be updated in place" in out
    assert '~ name: "Legacy name" -> "Alpha"' in out
    assert "(sensitive value changed)" in out
    assert run(capsys, "apply", "-f", str(path), "--auto-approve")[0] == 0
    assert run(capsys, "plan", "-f", str(path), "--detailed-exitcode")[0] == 0
    code, out, _ = run(capsys, "state", "list", "-f", str(path))
    assert out == f"alpha\t{existing}\tAlpha\n"
    code, out, _ = run(capsys, "state", "show", "alpha", "-f", str(path))
    assert f'"id": "{existing}"' in out
    assert '"secrets"' in out
    assert "hmac-sha256:" in out
    code, out, _ = run(capsys, "state", "rm", "alpha", "-f", str(path))
    assert "still exists" in out
    assert len(emulator.connections(ORG, "prod")) == 1
    assert run(capsys, "state", "list", "-f", str(path))[1] == ""
    assert run(capsys, "state", "rm", "alpha", "-f", str(path))[0] == 1
    code, out, _ = run(capsys, "plan", "-f", str(path))
    assert "<= connection.alpha" in out  # found again by name: adopted, not duplicated


def test_export_validate_plan_round_trip(
    emulator: Emulator,
    env: None,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    emulator.seed(
        ORG, "prod", name="HubSpot marketing", description="CRM: main", params=hubspot_params("m")
    )
    emulator.seed(ORG, "prod", name="42 sales: EU", params=hubspot_params("s"))
    twin = emulator.seed(ORG, "prod", name="42 sales: EU", params=hubspot_params("t"))
    emulator.seed(
        ORG,
        "prod",
        name="SF",
        type_name="salesforce",
        params={
            "username": "u",
            "password": "p",
            "securityToken": "t",
            "environmentUrl": "login.salesforce.com",
        },
    )
    emulator.seed(ORG, "other", name="Elsewhere", params=hubspot_params())
    code, out, _ = run(capsys, "export")
    assert code == 0
    assert "HUBSPOT_MARKETING_CLIENT_SECRET" in out
    assert "SECRET-" not in out  # masked secrets never exported
    path = tmp_path / "flowplan.yaml"
    path.write_text(out)
    assert run(capsys, "validate", "-f", str(path))[0] == 0
    imports = []
    for line in out.splitlines():
        if line.startswith("#   flowplan import "):
            imports.append(line[len("#   flowplan ") :].split("#")[0].split())
        elif line.startswith("#   "):
            monkeypatch.setenv(line[4:].strip(), "placeholder")
    assert len(imports) == 1
    assert twin in out
    code, plan_out, err = run(capsys, "plan", "-f", str(path))
    assert (code, "flowplan import connection.42-sales-eu" in err) == (1, True)  # until pinned
    assert run(capsys, *imports[0], "-f", str(path))[0] == 0
    code, plan_out, err = run(capsys, "plan", "-f", str(path), "--format", "json")
    assert code == 0, err
    actions = {c["key"]: c["action"] for c in json.loads(plan_out)["changes"]}
    assert "create" not in actions.values()
    assert sorted(actions.values()) == ["adopt", "adopt", "update"]
    assert "elsewhere" not in actions
    code, out, _ = run(capsys, "export", "--type", "salesforce")
    assert "type: salesforce" in out
    assert "hubspot" not in out
    assert "environmentUrl: login.salesforce.com" in out


def test_validate_many_files_as_pre_commit_calls_it(
    write: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    good = write(hubspot_manifest("A"), "a.flowplan.yaml")
    bad = write("version: 3\nconnections: {}\n", "b.flowplan.yaml")
    code, out, err = run(capsys, "validate", str(good), str(bad))
    assert code == 1
    assert f"{good}: valid" in out
    assert f"{bad}:1:10: error" in err
    hooks = (ROOT / ".pre-commit-hooks.yaml").read_text()
    assert "entry: flowplan validate\n" in hooks
