"""GitOps: the GitHub Action's shell logic, import, state commands, export round trip."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from conftest import ORG, ROOT, hubspot_manifest, hubspot_params, run

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
        f"exit {plan_code}\n"
    )
    stub.chmod(0o755)
    return stub


def run_action(
    folder: Path, command: str, stub: Path | str, **extra: str
) -> tuple[int, dict[str, str], str]:
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
    return result.returncode, outputs, summary.read_text()


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
    calls = (tmp_path / "calls").read_text()
    assert (
        f"plan -f flowplan.yaml --detailed-exitcode --out {tmp_path}/flowplan.plan --target a"
        in calls
    )
    if code in (0, 2):
        assert "stub markdown" in summary
        assert f"show {tmp_path}/flowplan.plan --format markdown" in calls
    else:
        assert "plan failed (exit 1)" in summary


@pytest.mark.parametrize("code", [0, 1])
def test_action_apply_and_validate_pass_exit_codes_through(tmp_path: Path, code: int) -> None:
    stub = fake_flowplan(tmp_path, code)
    assert run_action(tmp_path, "apply", stub)[0] == code
    assert "apply -f flowplan.yaml --auto-approve" in (tmp_path / "calls").read_text()
    assert run_action(tmp_path, "apply", stub, FLOWPLAN_PLAN_FILE="saved.plan")[0] == code
    assert "apply saved.plan" in (tmp_path / "calls").read_text()
    assert run_action(tmp_path, "validate", stub)[0] == code
    assert run_action(tmp_path, "destroy", stub)[0] == 1


def test_action_with_the_real_cli(emulator: Emulator, tmp_path: Path) -> None:
    (tmp_path / "flowplan.yaml").write_text(hubspot_manifest("Alpha"))
    bin_dir = Path(sys.executable).parent
    extra = {
        "FLOWPLAN_ENDPOINT": emulator.flow_url,
        "AEP_ACCESS_TOKEN": "t",
        "AEP_API_KEY": "k",
        "AEP_ORG_ID": ORG,
        "HS_CLIENT_ID": "c",
        "HS_CLIENT_SECRET": "s",
        "HS_ACCESS_TOKEN": "a",
        "HS_REFRESH_TOKEN": "r",
    }
    code, outputs, summary = run_action(tmp_path, "plan", bin_dir / "flowplan", **extra)
    assert (code, outputs["has-changes"]) == (0, "true")
    assert summary.startswith("### flowplan: `prod`\n\n**Plan: 1 to create")
    code, _, _ = run_action(
        tmp_path, "apply", bin_dir / "flowplan", FLOWPLAN_PLAN_FILE=outputs["plan-file"], **extra
    )
    assert code == 0
    code, outputs, summary = run_action(tmp_path, "plan", bin_dir / "flowplan", **extra)
    assert (code, outputs["has-changes"]) == (0, "false")
    assert "No changes" in summary


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
    assert (code, "flowplan import 42-sales-eu" in err) == (1, True)  # ambiguous until pinned
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
