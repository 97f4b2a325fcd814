"""The mass-delete guard (octoDNS's safety threshold): a plan that would delete more than 3
resources and more than 25 % of those in the state fails unless `--max-deletes N` allows that
many. A replace counts as a delete. `destroy` and `plan --destroy` are exempt: they are asked
for by name.
"""

from __future__ import annotations

from collections.abc import Sequence

from flowplan.engine.changes import Action, Change
from flowplan.errors import PlanError

MIN_DELETES = 3
MAX_SHARE = 0.25


def check_mass_delete(changes: Sequence[Change], managed: int, max_deletes: int | None) -> None:
    deleting = [
        c for c in changes if c.action in (Action.DELETE, Action.REPLACE) and c.id is not None
    ]
    count = len(deleting)
    if count <= MIN_DELETES or count <= MAX_SHARE * managed:
        return
    if max_deletes is not None and count <= max_deletes:
        return
    allowed = "" if max_deletes is None else f" (--max-deletes {max_deletes} allows fewer)"
    raise PlanError(
        f"the plan would delete {count} of the {managed} resources in the state (replaces "
        f"count as deletes): more than {MIN_DELETES} and more than {MAX_SHARE:.0%}{allowed}. "
        f"If that is what you want, run it again with --max-deletes {count}; to delete "
        "everything, use `flowplan destroy`"
    )
