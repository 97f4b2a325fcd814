"""The GitHub integration as attack surface: action.yml and examples/github/ audited offline.

zizmor (static analysis of GitHub Actions) and check-jsonschema's vendored GitHub schemas are
development dependencies; both run without network. Beside them, the rules they do not check
themselves: SHA pins carry their version, no `${{ }}` in a script, least permissions per job.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml
from conftest import ROOT

ACTION = ROOT / "action.yml"
EXAMPLES = ROOT / "examples" / "github"
WORKFLOWS = sorted(p for p in EXAMPLES.glob("*.yml") if p.name != "dependabot.yml")
DEPENDABOT = EXAMPLES / "dependabot.yml"
ZIZMOR_CONFIG = ROOT / ".github" / "zizmor.yml"
PLACEHOLDER = "your-org/flowplan@v1"  # the one reference that cannot be pinned (see the config)
PINNED = re.compile(r"^[\w.-]+/[\w./-]+@[0-9a-f]{40} # v\d+\.\d+\.\d+$")


def tool(name: str) -> str:
    """A development dependency's executable, from the virtual environment running the tests."""
    found = shutil.which(name, path=str(Path(sys.executable).parent))
    if found is None:
        pytest.fail(f"{name} is missing: pip install -e '.[dev]'")
    return found


def audited() -> list[str]:
    return [str(p.relative_to(ROOT)) for p in [ACTION, *WORKFLOWS, DEPENDABOT]]


def zizmor(*extra: str) -> list[dict[str, Any]]:
    result = subprocess.run(
        [tool("zizmor"), "--offline", "--format", "json", *extra, *audited()],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    # Exit codes 0 and 10-14 mean "ran" (the latter: findings of some severity); others, failure.
    assert result.returncode == 0 or 10 <= result.returncode <= 14, result.stderr
    for path in audited():
        assert f"completed {path}" in result.stderr  # each file was read as what it is
    findings: list[dict[str, Any]] = json.loads(result.stdout)
    return findings


def describe(findings: list[dict[str, Any]]) -> list[str]:
    out = []
    for finding in findings:
        where = finding["locations"][0]
        path = where["symbolic"]["key"]["Local"]["verbatim_path"]
        row = where["concrete"]["location"]["start_point"]["row"] + 1
        severity = finding["determinations"]["severity"]
        out.append(f"{path}:{row}: {finding['ident']} ({severity})")
    return out


def test_zizmor_finds_nothing_of_medium_severity_or_above() -> None:
    findings = zizmor("--config", str(ZIZMOR_CONFIG), "--min-severity", "medium")
    assert describe(findings) == []


def test_zizmor_auditor_persona_finds_nothing_either() -> None:
    # The strictest persona too (one inline, explained ignore: the job that pushes the state).
    findings = zizmor("--config", str(ZIZMOR_CONFIG), "--persona", "auditor")
    assert describe(findings) == []


def test_the_zizmor_config_exempts_only_the_placeholder() -> None:
    """Without the config, the only findings are the placeholder's tag: it hides nothing else."""
    findings = zizmor("--no-config")
    assert findings, "the placeholder is no longer flagged: drop the exemption"
    for finding in findings:
        assert finding["ident"] == "unpinned-uses", describe([finding])
        features = " ".join(loc["concrete"]["feature"] for loc in finding["locations"])
        assert f"uses: {PLACEHOLDER}" in features, describe([finding])
    config = yaml.safe_load(ZIZMOR_CONFIG.read_text())
    assert config == {
        "rules": {"unpinned-uses": {"config": {"policies": {"your-org/flowplan": "ref-pin"}}}}
    }


@pytest.mark.parametrize(
    ("schema", "paths"),
    [
        ("vendor.github-actions", [ACTION]),
        ("vendor.github-workflows", WORKFLOWS),
        ("vendor.dependabot", [DEPENDABOT]),
    ],
    ids=["action", "workflows", "dependabot"],
)
def test_github_schemas_validate(schema: str, paths: list[Path]) -> None:
    result = subprocess.run(
        [tool("check-jsonschema"), "--builtin-schema", schema, *map(str, paths)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr


def uses_lines(path: Path) -> list[str]:
    return [
        line.split("uses:", 1)[1].strip()
        for line in path.read_text().splitlines()
        if line.strip().removeprefix("- ").startswith("uses:")
    ]


@pytest.mark.parametrize("path", [ACTION, *WORKFLOWS], ids=lambda p: p.name)
def test_every_action_is_pinned_to_a_commit_with_its_version(path: Path) -> None:
    uses = uses_lines(path)
    assert uses
    for ref in uses:
        assert ref == PLACEHOLDER or PINNED.match(ref), f"{path.name}: uses: {ref}"


def test_one_version_per_pinned_commit() -> None:
    seen: dict[str, set[str]] = {}
    for path in [ACTION, *WORKFLOWS]:
        for ref in uses_lines(path):
            if ref != PLACEHOLDER:
                action, rest = ref.split("@", 1)
                seen.setdefault(action, set()).add(rest)
    assert seen
    assert {action: len(pins) for action, pins in seen.items()} == dict.fromkeys(seen, 1)


def steps_of(document: dict[str, Any]) -> list[tuple[str, dict[str, Any]]]:
    if "runs" in document:
        return [("action", step) for step in document["runs"]["steps"]]
    return [(job, step) for job, spec in document["jobs"].items() for step in spec["steps"]]


@pytest.mark.parametrize("path", [ACTION, *WORKFLOWS], ids=lambda p: p.name)
def test_no_expression_is_pasted_into_a_script(path: Path) -> None:
    for where, step in steps_of(yaml.safe_load(path.read_text())):
        assert "${{" not in step.get("run", ""), f"{path.name}: {where}: {step.get('name')}"
        assert "${{" not in step.get("with", {}).get("script", ""), f"{path.name}: {where}"


@pytest.mark.parametrize("path", WORKFLOWS, ids=lambda p: p.name)
def test_least_permissions_per_job(path: Path) -> None:
    workflow = yaml.safe_load(path.read_text())
    assert workflow["permissions"] == {}  # nothing by default; each job asks
    for name, job in workflow["jobs"].items():
        permissions = job["permissions"]
        writes = {scope for scope, level in permissions.items() if level == "write"}
        secrets = "secrets." in yaml.safe_dump(job)
        assert not (writes and secrets), f"{name}: a write token beside the sandbox secrets"
        assert "timeout-minutes" in job, name


@pytest.mark.parametrize("path", WORKFLOWS, ids=lambda p: p.name)
def test_checkouts_keep_no_credentials_unless_they_push(path: Path) -> None:
    workflow = yaml.safe_load(path.read_text())
    for name, job in workflow["jobs"].items():
        pushes = any("git push" in step.get("run", "") for step in job["steps"])
        for step in job["steps"]:
            if step.get("uses", "").startswith("actions/checkout@"):
                assert step["with"]["persist-credentials"] is pushes, name
                if pushes:
                    assert job["permissions"] == {"contents": "write"}, name


def test_plans_run_on_pull_request_and_applies_on_the_default_branch() -> None:
    plan = yaml.safe_load((EXAMPLES / "pull-request.yml").read_text())
    assert set(plan[True]) == {"pull_request"}  # never pull_request_target: forks get no secrets
    assert "head.repo.full_name == github.repository" in plan["jobs"]["plan"]["if"]
    assert plan["jobs"]["plan"]["environment"]["name"] == "flowplan-plan"
    apply = yaml.safe_load((EXAMPLES / "apply-on-merge.yml").read_text())
    assert apply[True] == {"push": {"branches": ["main"], "paths": ["flowplan.yaml"]}}
    assert apply["concurrency"] == {"group": "flowplan-apply", "cancel-in-progress": False}
    job = apply["jobs"]["apply"]
    assert job["environment"] == "production"
    assert job["if"] == "github.ref_name == github.event.repository.default_branch"


def test_the_action_sets_up_python_pinned_and_reads_inputs_from_the_environment() -> None:
    action = yaml.safe_load(ACTION.read_text())
    steps = action["runs"]["steps"]
    setup = next(s for s in steps if s.get("uses", "").startswith("actions/setup-python@"))
    assert setup["with"]["python-version"] == "${{ inputs.python-version }}"
    assert setup["with"]["update-environment"] is False  # the caller's Python stays as it was
    assert action["inputs"]["python-version"]["default"] == "3.12"
    script_steps = [s for s in steps if "run" in s]
    assert script_steps[0]["env"]["FLOWPLAN_CHECK_ONLY"] == "true"  # checked before installing
    for step in script_steps:
        for value in step.get("env", {}).values():
            assert value.startswith("${{") or value in {"true"}, value


def test_dependabot_keeps_the_pins_current() -> None:
    config = yaml.safe_load(DEPENDABOT.read_text())
    (update,) = config["updates"]
    assert update["package-ecosystem"] == "github-actions"
    assert update["cooldown"]["default-days"] >= 1


PRE_COMMIT_CASES = {
    "flowplan.yaml": True,
    "flowplan.yml": True,
    "infra/flowplan.yaml": True,
    "infra/prod.flowplan.yaml": True,
    "envs/prod.yaml": True,
    "infra/envs/staging.yml": True,
    ".github/workflows/flowplan.yml": False,  # a workflow named after the tool
    ".github/workflows/ci.yml": False,
    "docker-compose.yaml": False,
    "envs/prod/values.yaml": False,
    "myflowplan.yaml": False,
    "flowplan.yaml.bak": False,
}


def test_pre_commit_hook_pattern() -> None:
    (hook,) = yaml.safe_load((ROOT / ".pre-commit-hooks.yaml").read_text())
    assert hook["entry"] == "flowplan validate"
    assert hook["types"] == ["yaml"]
    files, exclude = re.compile(hook["files"]), re.compile(hook["exclude"])  # with re.search
    matched = {
        path: bool(files.search(path)) and not exclude.search(path) for path in PRE_COMMIT_CASES
    }
    assert matched == PRE_COMMIT_CASES
    readme = (ROOT / "README.md").read_text()
    assert hook["files"] in readme  # the default is documented, with how to override it
