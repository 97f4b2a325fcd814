"""Plans for people (text, markdown) and pipelines (JSON). Secrets never appear: a plan holds
none, and secret params show only as `(sensitive value changed)`.

One vocabulary of actions everywhere (create, update, replace, delete, adopt, move): the
tables below are keyed by the action's name, so an action this module has not heard of still
renders (as `?`, "will be <action>d")."""

from __future__ import annotations

import html
import json
import time
from collections.abc import Callable

from flowplan.engine.changes import Change, Plan
from flowplan.kinds import kind_named
from flowplan.kinds.base import Kind
from flowplan.kinds.connection import ConnectionKind
from flowplan.model import Attrs

GITHUB_COMMENT_LIMIT = 65_536

SYMBOLS = {
    "create": "+",
    "adopt": "<=",
    "update": "~",
    "replace": "-/+",
    "delete": "-",
    "move": "->",
    "no-op": " ",
}
COLORS = {
    "create": "green",
    "adopt": "cyan",
    "update": "yellow",
    "replace": "magenta",
    "delete": "red",
    "move": "blue",
}
VERBS = {
    "create": "will be created",
    "adopt": "will be adopted (brought under management)",
    "update": "will be updated in place",
    "replace": "must be replaced",
    "delete": "will be deleted",
    "move": "will be moved",
}
STATE_ONLY = "protect will change (state only; nothing is sent)"

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


def is_state_only(change: Change) -> bool:
    """An update whose only change is `protect`: flowplan records it; Flow Service has no such
    field, so nothing is sent."""
    return (
        str(change.action) == "update"
        and bool(change.fields)
        and all(f.field == "protect" for f in change.fields)
        and not change.sends_secrets
    )


def summary_line(plan: Plan) -> str:
    """`Plan: N to create, N to update, N to delete, N to adopt.`; a replace and a move are
    counted in their own words when there is one, and a state-only update says so."""
    if not plan.has_changes:
        return "No changes. The sandbox matches the manifest."
    s = plan.summary()
    state_only = sum(1 for c in plan.actionable if is_state_only(c))
    update = f"{s.get('update', 0)} to update"
    if state_only:
        update += f" ({state_only} of them in the state only)"
    words = [f"{s.get('create', 0)} to create", update]
    if s.get("replace"):
        words.append(f"{s['replace']} to replace")
    words += [f"{s.get('delete', 0)} to delete", f"{s.get('adopt', 0)} to adopt"]
    if s.get("move"):
        words.append(f"{s['move']} to move")
    return "Plan: " + ", ".join(words) + "."


def where_line(plan: Plan) -> str:
    """Which org, sandbox and environment the plan is for (the text plan's first line)."""
    where = f"org {plan.org}, sandbox {plan.sandbox}"
    if plan.environment:
        where += f", environment {plan.environment}"
    return f"Plan for {where} (manifest {plan.manifest_path})."


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


Item = tuple[str, str, tuple[str, str] | None]


def _items(change: Change) -> list[Item]:
    """The body of one change as (sign, text, (before, after) of a changed field): `#` a note,
    `+`/`-` an attribute added or removed, `~` a field changed, `!` a secret."""
    items: list[Item] = []
    if change.reason:
        items.append(("#", change.reason, None))
    if change.drift is not None:
        who = change.drift.updated_by or "someone"
        items.append(
            ("#", f"changed outside flowplan by {who} at {_when(change.drift.updated_at)}", None)
        )
        for f in change.drift.fields:
            text = f"  {f.field}: {_value(f.before)} -> {_value(f.after)} (remote)"
            items.append(("#", text, None))
    action = str(change.action)
    if action in ("create", "replace") and change.after:
        items += [("+", f"{k} = {v}", None) for k, v in _kind(change).display(change.after)]
    elif action == "delete" and change.before:
        items += [("-", f"{k} = {v}", None) for k, v in _kind(change).display(change.before)]
    else:
        for f in change.fields:
            note = " (state only)" if f.field == "protect" else ""
            before, after = f"{f.field}: {_value(f.before)}", f"{f.field}: {_value(f.after)}{note}"
            items.append(("~", f"{before} -> {_value(f.after)}{note}", (before, after)))
    label = _kind(change).secret_label
    for name, status in sorted(change.sensitive.items()):
        if status == "changed":
            items.append(("!", f"{label(name)} = (sensitive value changed)", None))
        elif status == "set":
            items.append(("+", f"{label(name)} = (sensitive value)", None))
        elif status == "removed":
            items.append(("-", f"{label(name)} = (sensitive value)", None))
    return items


def change_lines(change: Change) -> list[str]:
    """The body of one change for the text plan, without colour."""
    return [f"    {'~' if sign == '!' else sign} {text}" for sign, text, _ in _items(change)]


def diff_lines(change: Change) -> list[str]:
    """The body of one change for a markdown ```diff block: the sign in the first column, so
    that GitHub colours it; a changed field is a `-` line and a `+` line."""
    lines: list[str] = []
    for sign, text, pair in _items(change):
        if pair is not None:
            lines += [f"- {pair[0]}", f"+ {pair[1]}"]
        else:
            lines.append(f"{sign} {text}")
    return lines


def header(change: Change) -> str:
    where = f" [id={change.id}]" if change.id else ""
    action = str(change.action)
    verb = STATE_ONLY if is_state_only(change) else VERBS.get(action, f"will be {action}d")
    return f"{SYMBOLS.get(action, '?')} {change.address}{where} {verb}"


def render_text(plan: Plan, style: Style = _plain) -> str:
    out: list[str] = [where_line(plan), ""]
    for change in plan.actionable:
        color = COLORS.get(str(change.action), "")
        out.append(style(header(change), color))
        out += change_lines(change)
        out.append("")
    out.append(style(summary_line(plan), "bold"))
    return "\n".join(out) + "\n"


def render_json(plan: Plan) -> str:
    return json.dumps(plan.to_dict(), indent=2) + "\n"


def _code(text: str) -> str:
    return "`" + text.replace("`", "'") + "`"


def markdown_heading(plan: Plan) -> str:
    """`### flowplan: `envs/prod.yaml` in sandbox `prod` (environment `prod`)`."""
    text = f"### flowplan: {_code(plan.manifest_path)} in sandbox {_code(plan.sandbox)}"
    if plan.environment:
        text += f" (environment {_code(plan.environment)})"
    return text


def render_markdown(plan: Plan, limit: int = GITHUB_COMMENT_LIMIT) -> str:
    """Summary first, a table, details folded; cut to fit one GitHub comment."""
    head = [markdown_heading(plan), "", f"**{summary_line(plan)}**", ""]
    if not plan.has_changes:
        return "\n".join(head)
    table = ["| | address | action | id |", "|---|---|---|---|"]
    details: list[str] = []
    for change in plan.actionable:
        symbol, where = SYMBOLS.get(str(change.action), "?"), change.id or ""
        action = "update (state only)" if is_state_only(change) else str(change.action)
        table.append(f"| `{symbol}` | `{change.address}` | {action} | {where} |")
        body = "\n".join(diff_lines(change)).replace("```", "'''")
        summary = html.escape(header(change))
        details.append(
            f"<details><summary><code>{summary}</code></summary>\n\n```diff\n{body}\n```\n"
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
