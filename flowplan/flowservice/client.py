"""The Flow Service, Data Prep and IMS client: every HTTP call flowplan makes goes through here.

Generic over resource kinds: a collection is the path segment ("connections",
"sourceConnections", "targetConnections", "flows", "runs", "flowSpecs", "connectionSpecs" on
Flow Service; "mappingSets" on Data Prep, `service="conversion"`).

- Retries, time bounds and retry notices: http.py. Listings: paging.py.
- Only documented success statuses count as success, and answers are read defensively
  (answers.py): anything else is an ApiError with a clear message; for a create,
  OutcomeUnknownError, since something may have been created.
- Errors are the small hierarchy of flowplan.errors, with the API's code and request id.
- Nothing here logs or raises a token, a client secret or a connection's auth params.
"""

from __future__ import annotations

import builtins
import json
import logging
import re
import threading
from collections.abc import Collection, Sequence
from dataclasses import dataclass
from typing import Any, Literal
from urllib.parse import urlencode, urlsplit

from flowplan.errors import AuthError, ConfigError, NotFoundError
from flowplan.flowservice import answers, paging
from flowplan.flowservice.answers import Answer, Where, check_status, json_object, text_field
from flowplan.flowservice.http import Call, Transport
from flowplan.flowservice.settings import Settings

__all__ = [
    "Created",
    "Fetched",
    "FlowServiceClient",
    "Service",
    "is_plain_filter_value",
]

log = logging.getLogger("flowplan.http")

Service = Literal["flow", "conversion"]  # Flow Service, Data Prep (mapping sets)

_PLAIN_VALUE = re.compile(r"^[\w.:()/@+-]+(?: [\w.:()/@+-]+)*$")


def is_plain_filter_value(value: str) -> bool:
    """True when `value` reads back unchanged from a `property=field==value` filter.

    Commas mean "or", double quotes are quoting, and edge spaces may be trimmed, so a value
    with any of those (or other punctuation whose handling Adobe does not document) must be
    matched by listing and comparing on our side instead."""
    return bool(_PLAIN_VALUE.match(value))


@dataclass(frozen=True)
class Created:
    """What a POST answered."""

    id: str
    etag: str | None  # Data Prep answers no etag
    body: dict[str, Any]  # the parsed answer


@dataclass(frozen=True)
class Fetched:
    body: dict[str, Any]  # the resource itself (unwrapped from Flow Service's `items`)
    etag: str | None


# The success statuses each operation documents (flow-service.openapi.yaml; Data Prep's guide).
_CREATED = {"flow": frozenset({201}), "conversion": frozenset({200})}
_DELETED = {"flow": frozenset({204}), "conversion": frozenset({200, 204})}
_OK = frozenset({200})


class FlowServiceClient:
    """Flow Service and Data Prep operations for one org and sandbox. Safe to share between
    threads; HTTP connections are pooled (sized to `parallelism`) and reused across them."""

    def __init__(self, settings: Settings, parallelism: int = 8) -> None:
        self.settings = settings
        self._transport = Transport(settings, parallelism)
        self._token_lock = threading.Lock()
        self._token: str | None = settings.access_token
        self._token_from_ims = settings.access_token is None
        self._bases = {
            "flow": _origin_and_path(settings.endpoint),
            "conversion": _origin_and_path(settings.conversion_endpoint),
        }
        self._fixed_headers = {
            "x-api-key": settings.api_key,
            "x-gw-ims-org-id": settings.org_id,
            "x-sandbox-name": settings.sandbox,
            "Accept": "application/json",
        }

    @property
    def request_count(self) -> int:
        """HTTP requests sent, retries included (benchmarks count them)."""
        return self._transport.request_count

    def close(self) -> None:
        self._transport.close()

    # --- generic operations -------------------------------------------------------------------

    def list(
        self,
        collection: str,
        filters: Sequence[str] = (),
        *,
        service: Service = "flow",
        params: Sequence[tuple[str, str]] = (),
    ) -> builtins.list[dict[str, Any]]:
        """Every item matching all `property=` filters, every page followed, de-duplicated."""
        path = f"/{collection}"
        where = Where("GET", path)

        def fetch(query: paging.Params) -> dict[str, Any]:
            return json_object(self._call("GET", path, service, _OK, params=query), where)

        if service == "flow":
            query = paging.flow_query(filters, params)
            pages = paging.flow_pages(fetch, query, self.settings, where)
        else:
            if filters:
                raise ValueError("Data Prep takes no property= filters; pass params instead")
            pages = paging.prep_pages(fetch, params, self.settings, where)
        unique: dict[str, dict[str, Any]] = {}
        for item in pages:
            unique.setdefault(item["id"], item)
        return list(unique.values())

    def get(
        self,
        collection: str,
        resource_id: str,
        *,
        service: Service = "flow",
        params: Sequence[tuple[str, str]] = (),
    ) -> Fetched:
        """The resource; NotFoundError when it does not exist (404, or an empty `items`)."""
        path = f"/{collection}/{resource_id}"
        where = Where("GET", path)
        response = self._call("GET", path, service, _OK, params=params)
        data = json_object(response, where)
        if service == "flow":
            items = answers.object_list(data, "items", where)
            if not items:
                raise NotFoundError(f"{collection} {resource_id} not found", status=404)
            data = items[0]
        etag = data.get("etag")
        if not isinstance(etag, str) or not etag:
            etag = response.headers.get("ETag") or None
        return Fetched(body=data, etag=etag)

    def create(
        self, collection: str, body: dict[str, Any], *, service: Service = "flow"
    ) -> Created:
        """POST; OutcomeUnknownError whenever the answer leaves in doubt whether it was made."""
        path = f"/{collection}"
        where = Where("POST", path, creates=True)
        response = self._call("POST", path, service, _CREATED[service], body=body, creates=True)
        data = json_object(response, where)
        resource_id = text_field(data, "id", where)
        etag: str | None = None
        if service == "flow":
            etag = text_field(data, "etag", where)
        else:
            version = data.get("version")
            if not isinstance(version, int) or isinstance(version, bool):
                raise where.error("the answer has no numeric `version`")
        return Created(id=resource_id, etag=etag, body=data)

    def patch(
        self, collection: str, resource_id: str, etag: str, ops: builtins.list[dict[str, Any]]
    ) -> str:
        """JSON Patch with If-Match; the new etag."""
        path = f"/{collection}/{resource_id}"
        response = self._call("PATCH", path, "flow", _OK, body=ops, headers={"If-Match": etag})
        where = Where("PATCH", path)
        data = json_object(response, where)
        if not isinstance(data.get("etag"), str) or not data["etag"]:
            raise where.error(
                "the update was answered without the new etag (it was probably applied); "
                "run plan again"
            )
        return str(data["etag"])

    def put(
        self,
        collection: str,
        resource_id: str,
        body: dict[str, Any],
        *,
        service: Service = "conversion",
    ) -> dict[str, Any]:
        """PUT (Data Prep: a new version of a mapping set; no If-Match); the parsed answer."""
        path = f"/{collection}/{resource_id}"
        response = self._call("PUT", path, service, _OK, body=body)
        return json_object(response, Where("PUT", path))

    def delete(self, collection: str, resource_id: str, *, service: Service = "flow") -> None:
        self._call("DELETE", f"/{collection}/{resource_id}", service, _DELETED[service])

    def action(self, collection: str, resource_id: str, op: str) -> str | None:
        """POST /{collection}/{id}/action?op=ENABLE|DISABLE; the new etag if one is answered.

        A state transition is idempotent, so unlike a create it is retried like a PATCH."""
        path = f"/{collection}/{resource_id}/action"
        response = self._call("POST", path, "flow", _OK, params=[("op", op)])
        if not response.content.strip():
            return None
        etag = json_object(response, Where("POST", path)).get("etag")
        return etag if isinstance(etag, str) and etag else None

    def get_connection_spec(self, spec_id: str) -> dict[str, Any]:
        return self._spec("connectionSpecs", spec_id, "connection spec")

    def get_flow_spec(self, spec_id: str) -> dict[str, Any]:
        return self._spec("flowSpecs", spec_id, "flow spec")

    def _spec(self, collection: str, spec_id: str, what: str) -> dict[str, Any]:
        try:
            return self.get(collection, spec_id).body
        except NotFoundError as exc:
            raise NotFoundError(
                f"{what} {spec_id} not found", status=exc.status, code=exc.code
            ) from None

    # --- plumbing -----------------------------------------------------------------------------

    def _call(
        self,
        method: str,
        path: str,
        service: Service,
        expected: Collection[int],
        *,
        params: Sequence[tuple[str, str]] = (),
        body: Any = None,
        headers: dict[str, str] | None = None,
        creates: bool = False,
    ) -> Answer:
        """One call with the four headers, the IMS token renewed once on 401, and the status
        checked against the documented ones."""
        origin, prefix = self._bases[service]
        # `=` and `,` left as they are (`property=id==a,b`, as Adobe's docs write it): legal in
        # a query, and 100 ids' worth of %2C cost ~2 ms of CPU per request in urllib3 (#18)
        target = prefix + path + (f"?{urlencode(list(params), safe='=,')}" if params else "")
        data = None if body is None else _json_body(body, method, path)
        for attempt in (1, 2):
            all_headers = {
                "Authorization": f"Bearer {self._access_token(renew=attempt == 2)}",
                **self._fixed_headers,
                **(headers or {}),
            }
            if data is not None:
                all_headers["Content-Type"] = "application/json"
            call = Call(method, origin, target, path, not creates, all_headers, data)
            response = self._transport.send(call)
            if response.status_code == 401 and attempt == 1 and self._token_from_ims:
                log.debug("401 from %s %s: renewing the IMS token once", method, path)
                continue
            break
        check_status(response, Where(method, path, creates), expected)
        return response

    def _access_token(self, renew: bool = False) -> str:
        with self._token_lock:
            if self._token is None or (renew and self._token_from_ims):
                self._token = self._fetch_token()
            return self._token

    def _fetch_token(self) -> str:
        s = self.settings
        form = {
            "grant_type": "client_credentials",
            "client_id": s.client_id or "",
            "client_secret": s.client_secret or "",
            "scope": s.scopes or "",
        }
        origin, target = _origin_and_path(s.ims_endpoint)
        path = urlsplit(s.ims_endpoint).path
        headers = {"Content-Type": "application/x-www-form-urlencoded"}
        # a token request creates nothing that matters: safe to repeat
        call = Call("POST", origin, target or "/", path, True, headers, urlencode(form).encode())
        response = self._transport.send(call)
        if 400 <= response.status_code < 500:
            raise AuthError(
                "IMS refused the client credentials; check AEP_CLIENT_ID, AEP_CLIENT_SECRET "
                "and AEP_SCOPES",
                status=response.status_code,
                code=_ims_error(response),
                method="POST",
                path=path,
            )
        check_status(response, Where("POST", path), _OK)
        token = json_object(response, Where("POST", path)).get("access_token")
        if not isinstance(token, str) or not token:
            raise AuthError("IMS answered without an access token", method="POST", path=path)
        return token


def _origin_and_path(url: str) -> tuple[str, str]:
    """`https://host:port` and the rest (path and any query) of an endpoint URL."""
    parts = urlsplit(url)
    rest = url[len(f"{parts.scheme}://{parts.netloc}") :]
    return f"{parts.scheme}://{parts.netloc}", rest


def _json_body(body: Any, method: str, path: str) -> bytes:
    try:
        return json.dumps(body, allow_nan=False).encode("utf-8")
    except ValueError:
        raise ConfigError(
            f"{method} {path}: the request body holds a number JSON cannot carry (NaN or infinity)"
        ) from None


def _ims_error(response: Answer) -> str | None:
    try:
        data = response.json()
    except ValueError:
        return None
    return str(data.get("error") or "") or None if isinstance(data, dict) else None
