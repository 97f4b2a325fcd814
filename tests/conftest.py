from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parent.parent

HUBSPOT_PARAMS = """\
      params:
        clientId: ${env:HS_CLIENT_ID}
        clientSecret: ${env:HS_CLIENT_SECRET}
        accessToken: ${env:HS_ACCESS_TOKEN}
        refreshToken: ${env:HS_REFRESH_TOKEN}
"""


def hubspot_manifest(*names: str, sandbox: str = "prod") -> str:
    """A valid manifest with one HubSpot connection per name (key = name lower-cased)."""
    out = ["version: 1", f"sandbox: {sandbox}", "connections:"]
    for name in names:
        key = name.lower().replace(" ", "-")
        out += [f"  {key}:", "    type: hubspot", f"    name: {name}", "    auth:"]
        out.append(HUBSPOT_PARAMS.rstrip("\n"))
    if not names:
        out[-1] = "connections: {}"
    return "\n".join(out) + "\n"


@pytest.fixture
def write(tmp_path: Path):  # type: ignore[no-untyped-def]
    def _write(text: str | bytes, name: str = "flowplan.yaml") -> Path:
        path = tmp_path / name
        path.parent.mkdir(parents=True, exist_ok=True)
        if isinstance(text, bytes):
            path.write_bytes(text)
        else:
            path.write_text(text, encoding="utf-8")
        return path

    return _write


ORG = "TESTORG@AdobeOrg"
HUBSPOT_SPEC = "cc6a4487-9e91-433e-a3a3-9cf6626c1806"


@pytest.fixture
def emulator():  # type: ignore[no-untyped-def]
    from flowplan.emulator import Emulator

    with Emulator() as emu:
        yield emu


def hubspot_params(tag: str = "x") -> dict[str, str]:
    return {
        "clientId": f"client-{tag}",
        "clientSecret": f"SECRET-cs-{tag}",
        "accessToken": f"SECRET-at-{tag}",
        "refreshToken": f"SECRET-rt-{tag}",
    }


def run(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    """The CLI in-process: (exit code, stdout, stderr)."""
    from flowplan.cli import main

    code = main(list(args))
    out, err = capsys.readouterr()
    return code, out, err


def cli_env(
    emulator: Any, monkeypatch: pytest.MonkeyPatch, token: str, secrets: dict[str, str]
) -> dict[str, str]:
    """Point the CLI at `emulator` with a canary token and the HubSpot secrets of a test
    (their values are what the test greps outputs and files for)."""
    values = {
        "FLOWPLAN_ENDPOINT": emulator.flow_url,
        "FLOWPLAN_IMS_ENDPOINT": emulator.ims_url,
        "AEP_ACCESS_TOKEN": token,
        "AEP_API_KEY": "flowplan-tests",
        "AEP_ORG_ID": ORG,
        "FLOWPLAN_BACKOFF": "0",
        "HS_CLIENT_ID": "client-id-1",
        "NO_COLOR": "1",
        **secrets,
    }
    for key, value in values.items():
        monkeypatch.setenv(key, value)
    return values
