"""Listing as Flow Service does it: `property=` filters, `orderby`, `limit` (at most 100), and
keyset paging by `continuationToken`.

The next link holds ONLY the token (`/flows?continuationToken=…`), as the real service's may; a
client must re-send its original query (`property`, `limit`, `orderby`) with it. The token binds
that query: a page request whose query differs from the first page's is answered 400, so a
client that drops its filters on page two is caught instead of silently listing everything.
"""

from __future__ import annotations

import base64
import binascii
import bisect
import hashlib
import json
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from flowplan.emulator.problems import bad_request

MAX_LIMIT = 100
DEFAULT_LIMIT = 20  # GUESS: undocumented; aepp asks for 20
MAX_CACHED_LISTINGS = 64  # a long-running emulator must not grow without bound
SORTABLE = {"name", "createdAt", "updatedAt", "id", "description", "state", "flowId"}

Record = Mapping[str, Any]
Predicate = Callable[[Record], bool]


@dataclass(frozen=True, slots=True)
class ListQuery:
    """The query parameters of one list request."""

    filters: tuple[str, ...] = ()
    limit: str | None = None
    token: str | None = None
    orderby: str | None = None
    count: str | None = None

    @classmethod
    def from_params(cls, params: Mapping[str, list[str]]) -> ListQuery:
        def one(name: str) -> str | None:
            values = params.get(name)
            return values[0] if values else None

        return cls(
            tuple(params.get("property", [])),
            one("limit"),
            one("continuationToken"),
            one("orderby"),
            one("count"),
        )

    def fingerprint(self, kind: str) -> str:
        """What the continuation token binds: the kind and the query, not its token."""
        text = json.dumps([kind, sorted(self.filters), self.limit, self.orderby])
        return hashlib.sha256(text.encode()).hexdigest()[:16]


def _values(record: Any, path: str) -> list[Any]:
    """The values at a dotted path; `a[]` or a list on the way matches any element."""
    current = [record]
    for part in path.split("."):
        part = part.removesuffix("[]")
        found: list[Any] = []
        for value in current:
            items = value if isinstance(value, list) else [value]
            found += [i[part] for i in items if isinstance(i, Mapping) and part in i]
        current = found
    return [v for value in current for v in (value if isinstance(value, list) else [value])]


def lookup(record: Record, path: str) -> Any:
    values = _values(record, path)
    return values[0] if values else None


def parse_filter(expression: str, kind: str = "connections") -> Predicate:
    """`property=` grammar: path==a,b (OR) and >, <, >=, <= on one value."""
    if "~" in expression:
        raise bad_request("1440", f"The operator '~' is not implemented: {expression}", kind)
    for op in ("==", ">=", "<=", "!=", ">", "<"):
        path, sep, raw = expression.partition(op)
        if sep:
            break
    else:
        raise bad_request("1453", f"Invalid query value {expression} provided", kind)
    if op == "!=" or not path:
        raise bad_request("1450", f"Invalid operator in {expression}", kind)
    values = [v.strip().strip('"') for v in raw.split(",")]
    if op == "==":
        wanted = set(values)
        return lambda r: any(_text(v) in wanted for v in _values(r, path))
    if len(values) != 1:
        raise bad_request("1443", f"The operator '{op}' takes a single value: {expression}", kind)
    if path == "id":
        raise bad_request("1448", f"The operator '{op}' cannot be used on id", kind)
    return _comparison(path, op, values[0])


def _text(value: Any) -> str:
    return str(value).lower() if isinstance(value, bool) else str(value)


def _comparison(path: str, op: str, bound: str) -> Predicate:
    def compare(record: Record) -> bool:
        value = lookup(record, path)
        if value is None:
            return False
        try:
            left, right = float(value), float(bound)
        except (TypeError, ValueError):
            left, right = str(value), bound  # type: ignore[assignment]
        return {">": left > right, "<": left < right, ">=": left >= right, "<=": left <= right}[op]

    return compare


@dataclass(frozen=True, slots=True)
class Order:
    fields: tuple[str, ...]
    descending: bool

    def key(self, record: Record) -> tuple[Any, ...]:
        return (*(_sortable(lookup(record, f)) for f in self.fields), record["id"])


def _sortable(value: Any) -> Any:
    return "" if value is None else value


def parse_orderby(orderby: str | None, kind: str = "connections") -> Order:
    """Default: most recently created or updated first (SWD). Keyset-paged, so no item is
    skipped or repeated by a page boundary when others are added or deleted meanwhile."""
    if not orderby:
        return Order(("updatedAt",), True)
    fields = []
    descending = None
    for part in orderby.split(","):
        part = part.strip()
        sign = "+"
        if part[:1] in "+-":
            sign, part = part[0], part[1:]
        elif part[:1] and not part[0].isalpha():
            raise bad_request("1432", f"Invalid orderby prefix in '{orderby}'", kind)
        if part not in SORTABLE:
            raise bad_request(
                "1433", f"Invalid orderby field '{part}'; example are +name, -name, name", kind
            )
        fields.append(part)
        descending = sign == "-" if descending is None else descending
    return Order(tuple(fields), bool(descending))


def page_size(limit: str | None, kind: str = "connections") -> int:
    if limit is None:
        return DEFAULT_LIMIT
    try:
        size = int(limit)
    except ValueError:
        raise bad_request("1453", f"Invalid query value limit={limit} provided", kind) from None
    if size < 1:
        raise bad_request("1453", f"Invalid query value limit={limit} provided", kind)
    return min(size, MAX_LIMIT)


def encode_token(position: list[Any], fingerprint: str) -> str:
    raw = json.dumps({"k": position, "q": fingerprint}).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")  # no "=": aepp splits on it


def decode_token(token: str, fingerprint: str, kind: str) -> list[Any]:
    try:
        value = json.loads(base64.urlsafe_b64decode((token + "=" * (-len(token) % 4)).encode()))
    except (ValueError, binascii.Error):
        value = None
    if not isinstance(value, dict) or not isinstance(value.get("k"), list):
        raise bad_request("1453", f"Invalid query value continuationToken={token}", kind)
    if value.get("q") != fingerprint:
        # GUESS: code and wording; the real service binds its token to the query it was made
        # for, and the contract requires refusing a page asked with another query.
        raise bad_request(
            "1453",
            "The continuationToken does not belong to this query: send the first page's "
            "property, limit and orderby parameters again with it.",
            kind,
        )
    return list(value["k"])


@dataclass
class Lister:
    """Lists one kind's records (kind = the path segment, e.g. `flows`)."""

    kind: str
    cache: dict[tuple[Any, ...], tuple[int, list[tuple[Any, ...]], list[str]]] = field(
        default_factory=dict
    )

    def page(
        self,
        scope: tuple[str, str],
        records: Mapping[str, dict[str, Any]],
        version: int | None,
        query: ListQuery,
        public: Callable[[dict[str, Any]], dict[str, Any]],
    ) -> dict[str, Any]:
        """One page; `version` keys the order cache (None: do not cache)."""
        predicates = [parse_filter(f, self.kind) for f in query.filters]
        order = parse_orderby(query.orderby, self.kind)
        if _truthy(query.count):
            if query.limit is not None:
                raise bad_request(
                    "1401", "The limit and count parameters cannot be given together", self.kind
                )
            return {"count": sum(1 for r in records.values() if all(p(r) for p in predicates))}
        size = page_size(query.limit, self.kind)
        fingerprint = query.fingerprint(self.kind)
        position = tuple(decode_token(query.token, fingerprint, self.kind)) if query.token else None
        keys, ids = self._ordered(scope, records, version, query.filters, order, predicates)
        if order.descending:
            end = bisect.bisect_left(keys, position) if position is not None else len(keys)
            start = max(end - size, 0)
            page_ids, more = list(reversed(ids[start:end])), start > 0
        else:
            start = bisect.bisect_right(keys, position) if position is not None else 0
            page_ids, more = ids[start : start + size], start + size < len(ids)
        page = [records[i] for i in page_ids]
        links: dict[str, Any] = {}
        if more:
            token = encode_token(list(order.key(page[-1])), fingerprint)
            links["next"] = {"href": f"/{self.kind}?continuationToken={token}"}
        return {"items": [public(r) for r in page], "_links": links}

    def _ordered(
        self,
        scope: tuple[str, str],
        records: Mapping[str, dict[str, Any]],
        version: int | None,
        filters: tuple[str, ...],
        order: Order,
        predicates: list[Predicate],
    ) -> tuple[list[tuple[Any, ...]], list[str]]:
        """The matching records' sort keys and ids, ascending; kept until the next write, so
        paging through N records costs O(N log N) once, not O(N) per page."""
        cache_key = (*scope, filters, order.fields)
        cached = self.cache.get(cache_key)
        if version is not None and cached is not None and cached[0] == version:
            return cached[1], cached[2]
        named = _by_ids(records, filters)
        candidates = records.values() if named is None else named
        entries = sorted(
            (order.key(r), r["id"]) for r in candidates if all(p(r) for p in predicates)
        )
        keys, ids = [k for k, _ in entries], [i for _, i in entries]
        if named is not None or version is None:  # an id== answer is cheap: not worth keeping
            return keys, ids
        if len(self.cache) >= MAX_CACHED_LISTINGS:
            self.cache.clear()
        self.cache[cache_key] = (version, keys, ids)
        return keys, ids


def _by_ids(
    records: Mapping[str, dict[str, Any]], filters: Iterable[str]
) -> list[dict[str, Any]] | None:
    """Records an `id==a,b` filter names, looked up directly as a service's index would; None
    when no filter names ids. The filter itself is still applied to the result."""
    for expression in filters:
        if expression.startswith("id=="):
            ids = (v.strip().strip('"') for v in expression[len("id==") :].split(","))
            return [records[i] for i in dict.fromkeys(ids) if i in records]
    return None


def _truthy(value: str | None) -> bool:
    return value is not None and value.lower() == "true"
