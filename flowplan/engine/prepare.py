"""Making a plan: resolve the manifest's references while the sandbox is read
(engine/sandbox_reads.py), then call the planner."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

from flowplan.engine import planner
from flowplan.engine.changes import Action, Plan
from flowplan.engine.planner import Wanted
from flowplan.engine.sandbox_reads import SandboxReads
from flowplan.engine.usage import check_unmanaged_users
from flowplan.flowservice.client import FlowServiceClient
from flowplan.flowservice.specs import SpecCatalog
from flowplan.kinds import default_kinds
from flowplan.kinds.base import Kind, KindContext
from flowplan.manifest.yaml_loader import collector_paused
from flowplan.model import Address, Desired, Manifest
from flowplan.references.resolver import Resolver
from flowplan.state.model import State, StateEntry, parse_address


def resolve(
    kinds: Sequence[Kind],
    manifest: Manifest,
    resolver: Resolver,
    state: State,
    catalog: SpecCatalog,
    adopted: Mapping[Address, StateEntry] | None = None,
) -> dict[Address, Desired]:
    """Every resource with its references read; one error naming every missing value.
    `adopted`: what the plan adopts, as the state will record it (references match on it)."""
    resolver.prefetch(manifest.references)  # each distinct file/secret read once, in parallel
    extra = adopted or {}

    def recorded(address: Address) -> StateEntry | None:
        return state.get(address) or extra.get(address)

    ctx = KindContext(manifest, resolver, catalog, state.fingerprint, recorded)
    for kind in kinds:
        for key, resource in kind.desired(ctx).items():
            ctx.resolved[Address(kind.name, key)] = resource
    return ctx.resolved


def wanted(desired: Mapping[Address, Desired], state: State) -> dict[Address, Wanted]:
    return {
        address: Wanted(
            d,
            {name: state.fingerprint(name, value.reveal()) for name, value in d.secrets.items()},
        )
        for address, d in desired.items()
    }


@dataclass(frozen=True)
class Planned:
    plan: Plan
    desired: dict[Address, Desired]
    kinds: tuple[Kind, ...]


@collector_paused()  # acyclic records by the thousand: the cyclic GC was ~12% of a plan (#18)
def make_plan(
    manifest: Manifest,
    state: State,
    client: FlowServiceClient,
    resolver: Resolver,
    targets: Iterable[str] = (),
    kinds: Sequence[Kind] | None = None,
    state_location: str = "",
    destroy: bool = False,
) -> Planned:
    """The plan; with `destroy`, nothing is desired: every resource in the state is deleted
    (in reverse dependency order, `protect` respected)."""
    catalog = SpecCatalog(client)
    chosen = tuple(kinds) if kinds is not None else default_kinds(catalog)
    moves = [(parse_address(a), parse_address(b)) for a, b in manifest.moved]
    renamed = planner.moved_state(state, moves, {})[0]  # references see the new addresses
    adopted: dict[Address, StateEntry] = {}
    for _ in chosen:  # a resource adopted now gives what references it an id to match on
        with SandboxReads(client, chosen) as reads:
            reads.start(renamed)  # by id: this needs no reference resolved
            desired = (
                {} if destroy else resolve(chosen, manifest, resolver, renamed, catalog, adopted)
            )
            remote = reads.finish(desired, renamed)
        changes = planner.plan(chosen, wanted(desired, state), state, remote, targets, moves)
        newly = {
            c.address: StateEntry(c.id, c.etag or "", c.before or {})
            for c in changes
            if c.action is Action.ADOPT and c.id and c.address not in adopted
        }
        if not newly:
            break
        adopted |= newly
    check_unmanaged_users(client, changes, state)
    return Planned(
        plan=Plan(
            changes=changes,
            org=state.org,
            sandbox=state.sandbox,
            manifest_path=str(manifest.path),
            manifest_digest=manifest.digest,
            state_lineage=state.lineage,
            state_serial=state.serial,
            state_exists=state.exists,
            fingerprint_key=None if state.exists else state.fingerprint_key,
            state_location=state_location,
            environment=manifest.environment,
            destroy=destroy,
        ),
        desired=desired,
        kinds=chosen,
    )
