"""The pure planner: every action and matching rule, no network."""

from __future__ import annotations

import pytest
from conftest import HUBSPOT_SPEC, ORG
from hypothesis import given, settings
from hypothesis import strategies as st

from flowplan.engine import planner
from flowplan.engine.changes import Action, Change
from flowplan.engine.planner import Wanted
from flowplan.errors import PlanError
from flowplan.kinds.connection import ConnectionKind, attributes
from flowplan.model import Address, Attrs, Desired, Remote, SpecRef
from flowplan.state.model import State, StateEntry

SPEC = SpecRef(HUBSPOT_SPEC, "1.0")
OTHER = SpecRef("cfc0fee1-7dc0-40ef-b73e-d8b134c436f5", "1.0")


def attrs(name: str, desc: str | None = None, spec: SpecRef = SPEC, cid: str = "c") -> Attrs:
    return attributes(spec.id, spec.version, name, desc, "Basic Authentication", {"clientId": cid})


def desired(key: str, a: Attrs, fp: str = "fp1", protect: bool = False) -> Wanted:
    return Wanted(Desired(Address("connection", key), a, protect), {"clientSecret": fp})


def remote(cid: str, a: Attrs, etag: str = '"e1"') -> Remote:
    return Remote(cid, etag, a, updated_by="bob@AdobeID", updated_at=1_700_000_000_000)


def state(**entries: StateEntry) -> State:
    s = State.new(ORG, "prod")
    s.connections.update(entries)
    return s


def entry(
    cid: str, a: Attrs, etag: str = '"e1"', fp: str = "fp1", protect: bool = False
) -> StateEntry:
    return StateEntry(cid, etag, a, protect, {"clientSecret": fp})


def plan(
    wanted: dict[str, Wanted], st: State, remotes: list[Remote], targets: tuple[str, ...] = ()
) -> tuple[Change, ...]:
    """The generic planner with the connection kind alone, keyed as the manifest keys them."""
    by_address = {Address("connection", k): w for k, w in wanted.items()}
    return planner.plan([ConnectionKind()], by_address, st, {"connection": remotes}, targets)


def only(changes: tuple) -> object:  # type: ignore[type-arg]
    (change,) = changes
    return change


def test_create() -> None:
    change = only(plan({"a": desired("a", attrs("A"))}, state(), []))
    assert change.action is Action.CREATE
    assert change.sensitive == {"clientSecret": "set"}


def test_noop_when_everything_matches() -> None:
    a = attrs("A")
    change = only(plan({"a": desired("a", a)}, state(a=entry("1", a)), [remote("1", a)]))
    assert change.action is Action.NOOP


def test_update_fields_and_secret() -> None:
    old, new = attrs("A", "old"), attrs("B", "new", cid="c2")
    change = only(
        plan({"a": desired("a", new, fp="fp2")}, state(a=entry("1", old)), [remote("1", old)])
    )
    assert change.action is Action.UPDATE
    assert [f.field for f in change.fields] == ["name", "description", "params.clientId"]
    assert change.sensitive == {"clientSecret": "changed"}
    assert change.etag == '"e1"'


def test_secret_only_change() -> None:
    a = attrs("A")
    change = only(plan({"a": desired("a", a, fp="new")}, state(a=entry("1", a)), [remote("1", a)]))
    assert change.action is Action.UPDATE
    assert change.fields == ()
    assert change.sends_secrets


def test_adopt_by_spec_and_name() -> None:
    r = remote("9", attrs("A", "theirs"))
    change = only(
        plan({"a": desired("a", attrs("A"))}, state(), [r, remote("8", attrs("A", spec=OTHER))])
    )
    assert change.action is Action.ADOPT
    assert change.id == "9"
    assert [f.field for f in change.fields] == ["description"]
    assert change.sensitive == {"clientSecret": "set"}


def test_ambiguous_adoption_fails_naming_ids() -> None:
    rs = [remote("8", attrs("A")), remote("9", attrs("A"))]
    with pytest.raises(
        PlanError, match=r"2 connections are named 'A' \(8, 9\).*flowplan import connection.a"
    ):
        plan({"a": desired("a", attrs("A"))}, state(), rs)


def test_managed_connection_is_not_adopted_by_another_key() -> None:
    a = attrs("A")
    changes = plan(
        {"a": desired("a", attrs("A renamed")), "b": desired("b", a)},
        state(a=entry("1", a)),
        [remote("1", a)],
    )
    assert {c.key: c.action for c in changes} == {"a": Action.UPDATE, "b": Action.CREATE}


def test_two_keys_never_manage_one_connection() -> None:
    a = attrs("A")
    with pytest.raises(PlanError, match=r"connection\.b and connection\.a both declare"):
        plan({"a": desired("a", a), "b": desired("b", a)}, state(), [])
    with pytest.raises(PlanError, match=r"records connection 1 under both connection\.a and"):
        plan(
            {"a": desired("a", a), "b": desired("b", attrs("B"))},
            state(a=entry("1", a), b=entry("1", attrs("B"))),
            [remote("1", a)],
        )


def test_delete_and_protect() -> None:
    a = attrs("A")
    change = only(plan({}, state(a=entry("1", a)), [remote("1", a, '"e2"')]))
    assert (change.action, change.id, change.etag) == (Action.DELETE, "1", '"e2"')
    with pytest.raises(PlanError, match="is protected"):
        plan({}, state(a=entry("1", a, protect=True)), [remote("1", a)])


def test_state_entry_whose_remote_is_gone() -> None:
    a = attrs("A")
    change = only(plan({"a": desired("a", a)}, state(a=entry("1", a)), []))
    assert change.action is Action.CREATE
    assert "no longer exists" in change.reason
    gone = only(plan({}, state(a=entry("1", a, protect=True)), []))
    assert gone.action is Action.DELETE
    assert gone.id is None


def test_replace_when_spec_changes() -> None:
    old, new = attrs("A"), attrs("A", spec=OTHER)
    change = only(plan({"a": desired("a", new)}, state(a=entry("1", old)), [remote("1", old)]))
    assert change.action is Action.REPLACE


def test_drift_shows_fields_and_who() -> None:
    recorded, theirs = attrs("A"), attrs("A-renamed")
    change = only(
        plan(
            {"a": desired("a", recorded)},
            state(a=entry("1", recorded)),
            [remote("1", theirs, '"e9"')],
        )
    )
    assert change.action is Action.UPDATE
    assert change.drift is not None
    assert [(f.field, f.before, f.after) for f in change.drift.fields] == [
        ("name", "A", "A-renamed")
    ]
    assert change.drift.updated_by == "bob@AdobeID"


def test_invisible_drift_resends_secrets() -> None:
    a = attrs("A")
    change = only(plan({"a": desired("a", a)}, state(a=entry("1", a)), [remote("1", a, '"e9"')]))
    assert change.action is Action.UPDATE
    assert change.sensitive == {"clientSecret": "changed"}


def test_targets() -> None:
    a, b = attrs("A"), attrs("B")
    changes = plan({"a": desired("a", a), "b": desired("b", b)}, state(), [], targets=("b",))
    assert [c.key for c in changes] == ["b"]
    with pytest.raises(PlanError, match="--target"):
        plan({}, state(), [], targets=("nope",))


def test_bool_is_not_one() -> None:
    a = attributes(SPEC.id, SPEC.version, "A", None, "x", {"flag": True})
    b = attributes(SPEC.id, SPEC.version, "A", None, "x", {"flag": 1})
    change = only(
        plan(
            {"a": Wanted(Desired(Address("connection", "a"), b), {})},
            state(a=StateEntry("1", '"e"', a)),
            [remote("1", a, '"e"')],
        )
    )
    assert change.action is Action.UPDATE


names = st.text(alphabet="abcxyz ", min_size=1, max_size=6)


@settings(max_examples=200, deadline=None)
@given(st.dictionaries(st.sampled_from("abcdefgh"), st.tuples(names, st.booleans()), max_size=8))
def test_property_plan_of_an_applied_world_is_empty(world: dict[str, tuple[str, bool]]) -> None:
    """When state and remote both record exactly what is desired, nothing is planned."""
    desired_records, entries, remotes = {}, {}, []
    for i, (key, (name, has_desc)) in enumerate(sorted(world.items())):
        a = attrs(f"{key}-{name}", "d" if has_desc else None)
        desired_records[key] = desired(key, a)
        entries[key] = entry(str(i), a, etag=f'"{i}"')
        remotes.append(remote(str(i), a, etag=f'"{i}"'))
    changes = plan(desired_records, state(**entries), remotes)
    assert all(c.action is Action.NOOP for c in changes)


@pytest.mark.parametrize(
    ("name", "plain"),
    [
        ("HubSpot marketing", True),
        ("a-b_c.d:e (f) g/h@i+j", True),
        ('"', False),
        ('say "hi"', False),
        ("a,b", False),
        (" edge", False),
        ("edge ", False),
        ("", False),
        ("two  spaces", False),
    ],
)
def test_which_names_a_filter_can_carry(name: str, plain: bool) -> None:
    from flowplan.flowservice.client import is_plain_filter_value

    assert is_plain_filter_value(name) is plain


def test_remote_queries_batch_ids_and_names() -> None:
    entries = {f"m{i}": entry(f"id-{i:04d}", attrs(f"M{i}")) for i in range(250)}
    new = [desired(f"n{i}", attrs(f"New {i}")).desired for i in range(3)]
    new.append(desired("odd", attrs("a, b", spec=OTHER)).desired)
    new.append(desired("quoted", attrs('"', spec=OTHER)).desired)
    queries = ConnectionKind().remote_queries([e.id for e in entries.values()], new)
    id_queries = [q for q in queries if q[0].startswith("id==")]
    assert [len(q[0].split(",")) for q in id_queries] == [100, 100, 50]
    assert [f"connectionSpec.id=={HUBSPOT_SPEC}", "name==New 0,New 1,New 2"] in queries
    assert [f"connectionSpec.id=={OTHER.id}"] in queries  # a comma or quote: list the spec
    assert len(queries) == 5


def test_auth_spec_change_is_a_replace() -> None:
    old = attrs("A")
    new = attributes(SPEC.id, SPEC.version, "A", None, "OAuth 2 Refresh Code", {"clientId": "c"})
    change = only(plan({"a": desired("a", new)}, state(a=entry("1", old)), [remote("1", old)]))
    assert change.action is Action.REPLACE
    assert "auth spec cannot be changed in place" in change.reason


def test_names_looked_up_in_batches_that_fit_a_query() -> None:
    from flowplan.kinds.base import NAME_CHARS_PER_QUERY
    from flowplan.kinds.connection import _name_batches

    names = {f"name-{i:04d}" for i in range(1000)}
    queries = _name_batches("connectionSpec.id==x", names)
    values = [q[1].removeprefix("name==") for q in queries]
    assert all(len(v) <= NAME_CHARS_PER_QUERY for v in values)
    assert all(len(v) > NAME_CHARS_PER_QUERY - 20 for v in values[:-1])  # batches are full
    assert sorted(n for v in values for n in v.split(",")) == sorted(names)
