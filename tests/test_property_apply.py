"""Property: for random manifests and edits between runs, after apply the plan is empty, the
sandbox equals the manifest, and no connection is ever duplicated."""

from __future__ import annotations

import tempfile
import uuid
from pathlib import Path

import pytest
from conftest import HUBSPOT_PARAMS
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from flowplan.cli import main
from flowplan.emulator import Emulator

keys = st.sampled_from([f"k{i}" for i in range(8)])
texts = st.text(alphabet="abc XYZ-é", min_size=1, max_size=8).map(str.strip).filter(bool)
manifests = st.dictionaries(keys, st.tuples(texts, st.one_of(st.none(), texts)), max_size=6)


def render(conns: dict[str, tuple[str, str | None]]) -> str:
    lines = ["version: 1", "sandbox: prod", "connections:" + (" {}" if not conns else "")]
    for key, (name, description) in sorted(conns.items()):
        lines += [f"  {key}:", "    type: hubspot", f"    name: '{key} {name}'"]
        if description is not None:
            lines.append(f"    description: '{description}'")
        lines += ["    auth:", HUBSPOT_PARAMS.rstrip("\n")]
    return "\n".join(lines) + "\n"


@pytest.fixture(scope="module")
def shared_emulator():  # type: ignore[no-untyped-def]
    with Emulator() as emu:
        yield emu


@settings(
    max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(first=manifests, second=manifests)
def test_apply_then_plan_is_empty(
    shared_emulator: Emulator,
    monkeypatch: pytest.MonkeyPatch,
    first: dict[str, tuple[str, str | None]],
    second: dict[str, tuple[str, str | None]],
) -> None:
    org = f"{uuid.uuid4().hex[:12]}@AdobeOrg"  # a fresh, empty sandbox per example
    for name, value in {
        "FLOWPLAN_ENDPOINT": shared_emulator.flow_url,
        "AEP_ACCESS_TOKEN": "t",
        "AEP_API_KEY": "k",
        "AEP_ORG_ID": org,
        "HS_CLIENT_ID": "c",
        "HS_CLIENT_SECRET": "s",
        "HS_ACCESS_TOKEN": "a",
        "HS_REFRESH_TOKEN": "r",
        "NO_COLOR": "1",
    }.items():
        monkeypatch.setenv(name, value)
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "flowplan.yaml"
        for conns in (first, second):
            path.write_text(render(conns), encoding="utf-8")
            # Random edits may delete most of the state: allowed here, the guard has its tests.
            apply = ["apply", "-f", str(path), "--auto-approve", "--max-deletes", "100000"]
            assert main(apply) == 0
            assert main(["plan", "-f", str(path), "--detailed-exitcode"]) == 0
            remote = shared_emulator.connections(org, "prod")
            assert sorted(c["name"] for c in remote) == sorted(
                f"{k} {n}" for k, (n, _) in conns.items()
            )
            by_name = {c["name"]: c.get("description") for c in remote}
            for key, (name, description) in conns.items():
                assert by_name[f"{key} {name}"] == description
