"""Environments and `${var:}`: one manifest, several sandboxes, checked in every environment."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from conftest import ORG, ROOT, run

from flowplan.emulator import Emulator
from flowplan.errors import ManifestError
from flowplan.manifest import loader
from flowplan.references.template import Ref

MANIFEST = """\
version: 1
state: shared.state.json
vars:
  hs_client_id: shared-client
  hs_access: ${env:HS_ACCESS}
environments:
  dev:
    sandbox: dev
    vars: {hs_secret: "${env:DEV_HS_SECRET}"}
  prod:
    sandbox: prod
    state: s3://acme-flowplan/prod.json
    vars:
      hs_client_id: prod-client
      hs_secret: ${aws-sm:prod/hubspot#clientSecret}
connections:
  hubspot-marketing:
    type: hubspot
    name: HubSpot marketing (${var:hs_client_id})
    auth:
      params:
        clientId: ${var:hs_client_id}
        clientSecret: ${var:hs_secret}
        accessToken: ${var:hs_access}
        refreshToken: ${env:HS_REFRESH}
"""


def test_each_environment_gets_its_sandbox_vars_and_state(write: Any) -> None:
    path = write(MANIFEST)
    dev, prod = loader.load(path, "dev"), loader.load(path, "prod")
    assert (dev.environment, dev.sandbox, prod.environment, prod.sandbox) == (
        "dev",
        "dev",
        "prod",
        "prod",
    )
    assert dev.state_location == prod.state_location == "shared.state.json"
    assert (dev.env_state_location, prod.env_state_location) == (
        None,
        "s3://acme-flowplan/prod.json",
    )
    dev_conn = dev.connections["hubspot-marketing"]
    prod_conn = prod.connections["hubspot-marketing"]
    assert dev_conn.name.raw == "HubSpot marketing (shared-client)"
    assert prod_conn.name.raw == "HubSpot marketing (prod-client)"
    assert dev_conn.params["clientSecret"].raw == "${env:DEV_HS_SECRET}"  # type: ignore[union-attr]
    assert prod_conn.params["clientSecret"].raw == "${aws-sm:prod/hubspot#clientSecret}"  # type: ignore[union-attr]
    # no cross-talk: nothing of one environment reaches the other
    assert Ref("aws-sm", "prod/hubspot#clientSecret") not in dev.references
    assert Ref("env", "DEV_HS_SECRET") not in prod.references
    assert Ref("env", "HS_ACCESS") in dev.references


def test_a_manifest_with_environments_needs_one_chosen(write: Any) -> None:
    path = write(MANIFEST)
    with pytest.raises(ManifestError, match=r"has environments \(dev, prod\); choose one"):
        loader.load(path)
    with pytest.raises(ManifestError, match=r"--env qa: no such environment; .* dev, prod"):
        loader.load(path, "qa")
    plain = write(MANIFEST.split("environments:")[0] + "connections: {}\n", "plain.yaml")
    with pytest.raises(ManifestError, match="no environments"):
        loader.load(plain, "dev")
    assert sorted(loader.load_all(path)) == ["dev", "prod"]  # type: ignore[type-var]


def test_validate_checks_every_environment_and_names_the_broken_one(
    write: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    text = MANIFEST.replace("      hs_client_id: prod-client\n", "").replace(
        "  hs_client_id: shared-client\n", ""
    )
    text = text.replace(
        'vars: {hs_secret: "${env:DEV_HS_SECRET}"}',
        'vars: {hs_secret: "${env:DEV_HS_SECRET}", hs_client_id: dev-client}',
    )
    path = write(text)
    code, _, err = run(capsys, "validate", "-f", str(path))
    assert code == 1
    lines = err.splitlines()
    line_of = text.splitlines().index("        clientId: ${var:hs_client_id}") + 1
    name_line = text.splitlines().index("    name: HubSpot marketing (${var:hs_client_id})") + 1
    assert (
        f"{path}:{line_of}:19: error: connections.hubspot-marketing.auth.params.clientId: "
        "environment prod: ${var:hs_client_id} is not defined "
        "(define it under vars or environments.prod.vars)"
    ) in lines
    assert any(
        line.startswith(f"{path}:{name_line}:11: error: ") and "environment prod" in line
        for line in lines
    )
    assert "environment dev" not in err
    assert lines[-1] == "2 problems found."


def test_validate_reports_every_environment(write: Any, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "validate", "-f", str(write(MANIFEST)))
    assert code == 0
    assert "valid (1 connection in 2 environments: dev, prod)" in out


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (
            ("clientId: ${var:hs_client_id}", "clientId: ${var:hs_secret}"),
            "environment prod: ${var:hs_secret} holds ${aws-sm:prod/hubspot#clientSecret}, "
            "which is a secret-store reference",
        ),
        (
            ("clientId: ${var:hs_client_id}", "clientId: ${var:hs_secret}"),
            "environment dev: ${var:hs_secret} holds ${env:DEV_HS_SECRET}, which is also used "
            "by the secret param connections.hubspot-marketing.auth.params.clientSecret",
        ),
        (
            ("clientSecret: ${var:hs_secret}", "clientSecret: ${var:hs_client_id}"),
            "is secret, so it must be exactly one reference such as ${env:NAME}",
        ),
        (
            ("clientSecret: ${var:hs_secret}", "clientSecret: ${var:hs_client_id}"),
            "environment prod: ${var:hs_client_id} gives it a literal value",
        ),
        (("hs_access: ${env:HS_ACCESS}", "hs_access: ${var:other}"), "another ${var:"),
        (
            ("hs_access: ${env:HS_ACCESS}", "hs_access: x-${file:token}"),
            "must be the whole value",
        ),
        (("version: 1\n", "version: 1\nsandbox: prod\n"), "each environment names its own"),
    ],
)
def test_var_rules_name_the_environment_and_var(
    write: Any, change: tuple[str, str], message: str
) -> None:
    assert change[0] in MANIFEST
    path = write(MANIFEST.replace(*change))
    with pytest.raises(ManifestError) as info:
        loader.load_all(path)
    assert message in str(info.value)


def test_example_manifest_validates(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = run(capsys, "validate", "-f", str(ROOT / "examples" / "environments.yaml"))
    assert code == 0, err
    assert "2 environments: dev, prod" in out


# --- two sandboxes, two states, through the CLI ---------------------------------------------

CLI_MANIFEST = """\
version: 1
vars: {client: shared-client}
environments:
  dev: {sandbox: dev, vars: {secret: "${env:DEV_SECRET}"}}
  prod: {sandbox: prod, vars: {client: prod-client, secret: "${env:PROD_SECRET}"}}
connections:
  hs:
    type: hubspot
    name: HubSpot
    auth:
      params:
        clientId: ${var:client}
        clientSecret: ${var:secret}
        accessToken: ${env:ACCESS}
        refreshToken: ${env:REFRESH}
"""


def test_two_environments_apply_to_two_sandboxes_with_separate_states(
    emulator: Emulator,
    write: Any,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    for key, value in {
        "FLOWPLAN_ENDPOINT": emulator.flow_url,
        "FLOWPLAN_IMS_ENDPOINT": emulator.ims_url,
        "AEP_ACCESS_TOKEN": "TOKEN-canary-envs",
        "AEP_API_KEY": "flowplan-tests",
        "AEP_ORG_ID": ORG,
        "DEV_SECRET": "CANARY-dev-secret-1234",
        "PROD_SECRET": "CANARY-prod-secret-5678",
        "ACCESS": "CANARY-access-9999",
        "REFRESH": "CANARY-refresh-0000",
        "NO_COLOR": "1",
    }.items():
        monkeypatch.setenv(key, value)
    path = write(CLI_MANIFEST, "m.yaml")
    code, _, err = run(capsys, "apply", "-f", str(path), "--auto-approve")
    assert code == 1
    assert "dev, prod" in err
    for env in ("dev", "prod"):
        code, _, err = run(capsys, "apply", "-f", str(path), "--env", env, "--auto-approve")
        assert code == 0, err
    dev_state = json.loads((tmp_path / "m.dev.state.json").read_text())
    prod_state = json.loads((tmp_path / "m.prod.state.json").read_text())
    assert (dev_state["sandbox"], prod_state["sandbox"]) == ("dev", "prod")
    (dev_conn,) = emulator.connections(ORG, "dev")
    (prod_conn,) = emulator.connections(ORG, "prod")
    assert dev_state["connections"]["hs"]["id"] == dev_conn["id"]
    assert prod_state["connections"]["hs"]["id"] == prod_conn["id"]
    assert emulator.stored(ORG, "dev", dev_conn["id"])["auth"]["params"]["clientSecret"] == (
        "CANARY-dev-secret-1234"
    )
    prod_params = emulator.stored(ORG, "prod", prod_conn["id"])["auth"]["params"]
    assert prod_params["clientSecret"] == "CANARY-prod-secret-5678"
    assert prod_params["clientId"] == "prod-client"
    monkeypatch.setenv("FLOWPLAN_ENV", "dev")
    code, out, _ = run(capsys, "plan", "-f", str(path), "--detailed-exitcode")
    assert code == 0, out
    texts = [f.read_text() for f in tmp_path.rglob("*.json")]
    for secret in ("CANARY-dev-secret-1234", "CANARY-prod-secret-5678"):
        assert all(secret not in text for text in texts)
