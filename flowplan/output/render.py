"""Plans for people (text, markdown) and pipelines (JSON). Secrets never appear: a plan holds
none, and secret params show only as `(sensitive value changed)`."""

from __future__ import annotations

import json
import time
from collections.abc import Callable

from flowplan.engine.changes import Action, Change, Plan
from flowplan.kinds import kind_named
from flowplan.kinds.base import Kind
from flowplan.kinds.connection import ConnectionKind
from flowplan.model import Attrs

GITHUB_COMMENT_LIMIT = 65_536

SYMBOLS = {
    Action.CREATE: "+",
    Action.ADOPT: "<=",
    Action.UPDATE: "~",
    Action.REPLACE: "-/+",
    Action.DELETE: "-",
    Action.NOOP: " ",
}
COLORS = {
    Action.CREATE: "green",
    Action.ADOPT: "cyan",
    Action.UPDATE: "yellow",
    Action.REPLACE: "magenta",
    Action.DELETE: "red",
}
VERBS = {
    Action.CREATE: "will be created",
    Action.ADOPT: "will be adopted (brought under management)",
    Action.UPDATE: "will be updated in place",
    Action.REPLACE: "must be replaced",
    Action.DELETE: "will be deleted",
}

Style = Callable[[str, str], str]


class _GenericKind(ConnectionKind):
    """Shows any kind's attributes as dotted labels."""

    def display(self, attributes: Attrs) -> list[tuple[str, str]]:
        return Kind.display(self, attributes)

    def secret_label(self, name: str) -> str:
        return Kind.secret_label(self, name)


_GENERIC = _GenericKind()


def _plain(text: str, color: str) -> str:
    return text


def summary_line(plan: Plan) -> str:
    """One vocabulary everywhere: a replace counts as a replace (shown when there is one)."""
    if not plan.has_changes:
        return "No changes. The sandbox matches the manifest."
    s = plan.summary()
    words = [f"{s['create']} to create", f"{s['update']} to update"]
    if s["replace"]:
        words.append(f"{s['replace']} to replace")
    words += [f"{s['delete']} to delete", f"{s['adopt']} to adopt"]
    return "Plan: " + ", ".join(words) + "."


def _value(value: object) -> str:
    return "(none)" if value is None else json.dumps(value, ensure_ascii=False)


def _when(epoch_ms: int) -> str:
    if not epoch_ms:
        return "an unknown time"
    return time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime(epoch_ms / 1000))


def _kind(change: Change) -> Kind:
    try:
        return kind_named(change.kind)
    except KeyError:
        return _GENERIC  # a plan file from a newer flowplan, or a test's own kind


def _attribute_lines(change: Change, attrs: Attrs, sign: str) -> list[str]:
    return [f"    {sign} {label} = {value}" for label, value in _kind(change).display(attrs)]


def change_lines(change: Change) -> list[str]:
    """The body of one change, without colour (shared by text and markdown)."""
    lines: list[str] = []
    if change.reason:
        lines.append(f"    # {change.reason}")
    if change.drift is not None:
        who = change.drift.updated_by or "someone"
        lines.append(f"    # changed outside flowplan by {who} at {_when(change.drift.updated_at)}")
        for f in change.drift.fields:
            lines.append(f"    #   {f.field}: {_value(f.before)} -> {_value(f.after)} (remote)")
    if change.action in (Action.CREATE, Action.REPLACE) and change.after:
        lines += _attribute_lines(change, change.after, "+")
    elif change.action is Action.DELETE and change.before:
        lines += _attribute_lines(change, change.before, "-")
    else:
        for f in change.fields:
            lines.append(f"    ~ {f.field}: {_value(f.before)} -> {_value(f.after)}")
    label = _kind(change).secret_label
    for name, status in sorted(change.sensitive.items()):
        if status == "changed":
            lines.append(f"    ~ {label(name)} = (sensitive value changed)")
        elif status == "set":
            lines.append(f"    + {label(name)} = (sensitive value)")
        elif status == "removed":
            lines.append(f"    - {label(name)} = (sensitive value)")
    return lines


def header(change: Change) -> str:
    where = f" [id={change.id}]" if change.id else ""
    return f"{SYMBOLS[change.action]} {change.address}{where} {VERBS[change.action]}"


def render_text(plan: Plan, style: Style = _plain) -> str:
    out: list[str] = []
    for change in plan.actionable:
        color = COLORS.get(change.action, "")
        out.append(style(header(change), color))
        out += change_lines(change)
        out.append("")
    out.append(style(summary_line(plan), "bold"))
    return "\n".join(out) + "\n"


def render_json(plan: Plan) -> str:
    return json.dumps(plan.to_dict(), indent=2) + "\n"


def render_markdown(plan: Plan, limit: int = GITHUB_COMMENT_LIMIT) -> str:
    """Summary first, a table, details folded; cut to fit one GitHub comment."""
    head = [f"### flowplan: `{plan.sandbox}`", "", f"**{summary_line(plan)}**", ""]
    if not plan.has_changes:
        return "\n".join(head)
    table = ["| | address | action | id |", "|---|---|---|---|"]
    details: list[str] = []
    for change in plan.actionable:
        symbol, action, where = SYMBOLS[change.action], change.action, change.id or ""
        table.append(f"| `{symbol}` | `{change.address}` | {action} | {where} |")
        body = "\n".join(change_lines(change)).replace("```", "'''")
        details.append(
            f"<details><summary><code>{header(change)}</code></summary>\n\n```diff\n{body}\n```\n"
            "</details>"
        )
    return _fit(head, table, details, limit)


def _fit(head: list[str], table: list[str], details: list[str], limit: int) -> str:
    total = len(table) - 2
    full = "\n".join([*head, *table, "", *details]) + "\n"
    if len(full) <= limit:
        return full
    reserve = 400  # the closing note
    out = "\n".join(head) + "\n"
    shown_rows = 0
    for row in table:
        if len(out) + len(row) + 1 > limit - reserve:
            break
        out += row + "\n"
        shown_rows += 1
    shown = max(shown_rows - 2, 0)
    shown_details = 0
    for block in details[:shown]:
        if len(out) + len(block) + 2 > limit - reserve:
            break
        out += "\n" + block
        shown_details += 1
    left_out = total - shown
    note = (
        f"\n\n> **{left_out} of {total} changes are not listed** and details are shown for "
        f"{shown_details}, to fit one comment. Run `flowplan plan` (or see the JSON plan "
        "artifact) for all of them.\n"
    )
    return out + note
