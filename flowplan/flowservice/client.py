"""The Flow Service and IMS client: every HTTP call flowplan makes goes through here.

- Retries (urllib3 Retry): 429, 500, 502, 503, 504 and connection errors for GET, PATCH (If-Match
  makes a repeat safe) and DELETE, with capped exponential backoff, jitter and Retry-After.
  A POST is retried only when the answer proves nothing was created (429, 503) or the
  connection was never made; otherwise the caller gets OutcomeUnknownError and must look the
  connection up by name before creating it again.
- Errors become the small hierarchy of flowplan.errors, with the API's code and request id.
- Nothing here logs or raises a token, a client secret or a connection's auth params.
"""

from __future__ import annotations

import logging
import re
import threading
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode, urlsplit

import requests
from requests.adapters import HTTPAdapter
from urllib3.util.retry import Retry

from flowplan import __version__
from flowplan.errors import (
    ApiError,
    AuthError,
    ConflictError,
    NetworkError,
    NotFoundError,
    OutcomeUnknownError,
    RateLimitedError,
    RejectedError,
    ServerError,
)
from flowplan.flowservice.settings import Settings
from flowplan.model import Attributes, RemoteConnection, SpecRef

log = logging.getLogger("flowplan.http")

PAGE_SIZE = 100
RETRY_AFTER_CAP = 60
# 500 too: "you may be reaching the API limit" (Adobe's troubleshooting guide); a repeat is safe
# for GET, for PATCH (If-Match) and for DELETE (a second one finds 404, which counts as done).
RETRY_STATUSES = (429, 500, 502, 503, 504)
POST_SAFE_STATUSES = (429, 503)  # the request was refused before anything was created


_PLAIN_VALUE = re.compile(r"^[\w.:()/@+-]+(?: [\w.:()/@+-]+)*$")


def is_plain_filter_value(value: str) -> bool:
    """True when `value` reads back unchanged from a `property=field==value` filter.

    Commas mean "or", double quotes are quoting, and edge spaces may be trimmed, so a value
    with any of those (or other punctuation whose handling Adobe does not document) must be
    matched by listing and comparing on our side instead."""
    return bool(_PLAIN_VALUE.match(value))


class _FlowRetry(Retry):
    """urllib3 Retry, but a POST is retried on status only when nothing can have been created."""

    def is_retry(self, method: str, status_code: int, has_retry_after: bool = False) -> bool:
        if method.upper() == "POST":
            return bool(self.total) and status_code in POST_SAFE_STATUSES
        return super().is_retry(method, status_code, has_retry_after)


def _retry(settings: Settings) -> Retry:
    return _FlowRetry(
        total=settings.retries,
        connect=settings.retries,
        read=settings.retries,
        status=settings.retries,
        other=0,
        allowed_methods=frozenset({"GET", "PATCH", "DELETE"}),
        status_forcelist=RETRY_STATUSES,
        backoff_factor=settings.backoff,
        backoff_max=8.0,
        backoff_jitter=settings.backoff,
        respect_retry_after_header=True,
        retry_after_max=RETRY_AFTER_CAP,
        raise_on_status=False,
    )


@dataclass(frozen=True)
class CreatedConnection:
    id: str
    etag: str


class FlowServiceClient:
    """Flow Service operations for one org and sandbox. Safe to share between threads."""

    def __init__(self, settings: Settings, parallelism: int = 8) -> None:
        self.settings = settings
        self._adapter = HTTPAdapter(
            max_retries=_retry(settings), pool_connections=2, pool_maxsize=max(parallelism, 4)
        )
        self._local = threading.local()
        self._token_lock = threading.Lock()
        self._token: str | None = settings.access_token
        self._token_from_ims = settings.access_token is None
        self._count_lock = threading.Lock()
        self.request_count = 0

    # --- plumbing -----------------------------------------------------------------------------

    def _session(self) -> requests.Session:
        session: requests.Session | None = getattr(self._local, "session", None)
        if session is None:
            session = requests.Session()
            session.trust_env = False  # no proxy or netrc surprises; TLS verification stays on
            session.mount("https://", self._adapter)
            session.mount("http://", self._adapter)
            session.headers["User-Agent"] = f"flowplan/{__version__}"
            self._local.session = session
        return session

    def close(self) -> None:
        self._adapter.close()

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
        path = urlsplit(s.ims_endpoint).path
        response = self._send("POST", s.ims_endpoint, path, data=form, retry_post=True)
        if response.status_code != 200:
            try:
                code = str(response.json().get("error", ""))
            except ValueError:
                code = ""
            raise AuthError(
                "IMS refused the client credentials; check AEP_CLIENT_ID, AEP_CLIENT_SECRET "
                "and AEP_SCOPES",
                status=response.status_code,
                code=code or None,
                method="POST",
                path=path,
            )
        token = _json(response).get("access_token")
        if not isinstance(token, str) or not token:
            raise AuthError("IMS answered without an access token", method="POST", path=path)
        return token

    def _send(
        self, method: str, url: str, path: str, retry_post: bool = False, **kwargs: Any
    ) -> requests.Response:
        start = time.monotonic()
        with self._count_lock:
            self.request_count += 1
        try:
            response = self._session().request(
                method,
                url,
                timeout=(self.settings.connect_timeout, self.settings.read_timeout),
                allow_redirects=False,
                **kwargs,
            )
        except requests.exceptions.ConnectionError as exc:
            if method == "POST" and not retry_post and not _never_connected(exc):
                raise OutcomeUnknownError(
                    "the connection dropped before an answer came; the create may or may not "
                    "have happened",
                    method=method,
                    path=path,
                ) from None
            raise NetworkError(_network_reason(exc), method=method, path=path) from None
        except requests.exceptions.Timeout:
            if method == "POST" and not retry_post:
                raise OutcomeUnknownError(
                    f"no answer within {self.settings.read_timeout:g} s; the create may or may "
                    "not have happened",
                    method=method,
                    path=path,
                ) from None
            raise NetworkError(
                f"no answer within {self.settings.read_timeout:g} s", method=method, path=path
            ) from None
        except requests.exceptions.RequestException as exc:
            raise NetworkError(exc.__class__.__name__, method=method, path=path) from None
        log.debug(
            "%s %s -> %s in %.0f ms",
            method,
            path,
            response.status_code,
            (time.monotonic() - start) * 1000,
        )
        return response

    def _request(
        self,
        method: str,
        path: str,
        *,
        params: Sequence[tuple[str, str]] = (),
        body: Any = None,
        headers: dict[str, str] | None = None,
    ) -> requests.Response:
        url = self.settings.endpoint + path + (f"?{urlencode(params)}" if params else "")
        shown = path
        for attempt in (1, 2):
            all_headers = {
                "Authorization": f"Bearer {self._access_token(renew=attempt == 2)}",
                "x-api-key": self.settings.api_key,
                "x-gw-ims-org-id": self.settings.org_id,
                "x-sandbox-name": self.settings.sandbox,
                "Accept": "application/json",
                **(headers or {}),
            }
            kwargs: dict[str, Any] = {"headers": all_headers}
            if body is not None:
                kwargs["json"] = body  # requests sets Content-Type: application/json
            response = self._send(method, url, shown, **kwargs)
            if response.status_code == 401 and attempt == 1 and self._token_from_ims:
                log.debug("401 from %s %s: renewing the IMS token once", method, shown)
                continue
            break
        if response.status_code >= 400:
            raise _error_for(response, method, shown)
        return response

    # --- operations ---------------------------------------------------------------------------

    def list_connections(self, filters: Sequence[str] = ()) -> list[RemoteConnection]:
        """Every connection matching all `property=` filters, following every page."""
        return list(self._iter_pages("/connections", filters))

    def _iter_pages(self, path: str, filters: Sequence[str]) -> Iterator[RemoteConnection]:
        params: list[tuple[str, str]] = [("limit", str(PAGE_SIZE)), ("orderby", "createdAt")]
        params += [("property", f) for f in filters]
        next_path: str | None = path
        next_params: Sequence[tuple[str, str]] = params
        while next_path is not None:
            response = self._request("GET", next_path, params=next_params)
            data = _json(response)
            for item in data.get("items") or []:
                yield parse_connection(item)
            href = ((data.get("_links") or {}).get("next") or {}).get("href")
            next_path, next_params = (href, ()) if isinstance(href, str) and href else (None, ())

    def get_connection(self, conn_id: str) -> RemoteConnection:
        response = self._request("GET", f"/connections/{conn_id}")
        items = _json(response).get("items") or []
        if not items:
            raise NotFoundError(f"connection {conn_id} not found", status=404)
        return parse_connection(items[0])

    def create_connection(self, body: dict[str, Any]) -> CreatedConnection:
        data = _json(self._request("POST", "/connections", body=body))
        return CreatedConnection(str(data["id"]), str(data["etag"]))

    def patch_connection(self, conn_id: str, etag: str, ops: list[dict[str, Any]]) -> str:
        response = self._request(
            "PATCH", f"/connections/{conn_id}", body=ops, headers={"If-Match": etag}
        )
        return str(_json(response)["etag"])

    def delete_connection(self, conn_id: str) -> None:
        self._request("DELETE", f"/connections/{conn_id}")

    def get_connection_spec(self, spec_id: str) -> dict[str, Any]:
        items = _json(self._request("GET", f"/connectionSpecs/{spec_id}")).get("items") or []
        if not items or not isinstance(items[0], dict):
            raise NotFoundError(f"connection spec {spec_id} not found", status=404)
        spec: dict[str, Any] = items[0]
        return spec


def parse_connection(item: dict[str, Any]) -> RemoteConnection:
    auth = item.get("auth") or {}
    spec = item.get("connectionSpec") or {}
    return RemoteConnection(
        id=str(item["id"]),
        etag=str(item.get("etag", "")),
        attributes=Attributes(
            spec=SpecRef(str(spec.get("id", "")).lower(), str(spec.get("version", "1.0"))),
            name=str(item.get("name", "")),
            description=item.get("description"),
            auth_spec_name=str(auth.get("specName", "")),
            params=dict(auth.get("params") or {}),
        ),
        state=str(item.get("state", "")),
        updated_by=str(item.get("updatedBy", "")),
        updated_at=int(item.get("updatedAt") or 0),
        updated_client=str(item.get("updatedClient", "")),
    )


def _json(response: requests.Response) -> dict[str, Any]:
    try:
        data = response.json()
    except ValueError:
        raise ServerError(
            "the answer was not JSON", status=response.status_code, path=response.url
        ) from None
    if not isinstance(data, dict):
        raise ServerError("the answer was not a JSON object", status=response.status_code)
    return data


def _never_connected(exc: Exception) -> bool:
    """True when the request cannot have reached the server (refused, DNS, connect timeout)."""
    text = repr(exc)
    return any(
        marker in text
        for marker in ("NewConnectionError", "ConnectTimeout", "NameResolutionError", "refused")
    )


def _network_reason(exc: Exception) -> str:
    text = repr(exc)
    if "refused" in text:
        return "connection refused; is the endpoint right and reachable?"
    if "NameResolution" in text:
        return "the host name could not be resolved"
    if "Max retries" in text or "RemoteDisconnected" in text or "aborted" in text:
        return "the connection dropped repeatedly before an answer came"
    return "the network call failed"


_HINTS = {
    401: "the access token is invalid or expired; get a new one (or unset AEP_ACCESS_TOKEN to "
    "use AEP_CLIENT_ID/AEP_CLIENT_SECRET)",
    403: "the credentials are not allowed here; check AEP_API_KEY, AEP_ORG_ID and the "
    "product profile",
    404: "it does not exist in this sandbox (deleted, or in another sandbox?)",
    412: "the connection was changed by someone else since it was read; run plan again",
    429: "Flow Service is rate-limiting; try again later or lower --parallelism",
}


def _error_for(response: requests.Response, method: str, path: str) -> ApiError:
    status = response.status_code
    code, message, request_id = _problem(response)
    request_id = request_id or response.headers.get("x-request-id")
    hint = _HINTS.get(status)
    text = f"{message}; {hint}" if message and hint else message or hint or "request failed"
    kwargs: dict[str, Any] = {
        "status": status,
        "code": code,
        "request_id": request_id,
        "method": method,
        "path": path,
    }
    if method == "POST" and status in (500, 502, 504):
        return OutcomeUnknownError(f"{text}; the create may or may not have happened", **kwargs)
    if status in (401, 403):
        return AuthError(text, **kwargs)
    if status == 404:
        return NotFoundError(text, **kwargs)
    if status == 412:
        return ConflictError(text, **kwargs)
    if status == 429:
        return RateLimitedError(text, **kwargs)
    if status >= 500:
        return ServerError(f"{text or 'server error'}; try again later", **kwargs)
    return RejectedError(text, **kwargs)


def _problem(response: requests.Response) -> tuple[str | None, str, str | None]:
    """(code, message, request id) from the FLOW problem shape or the gateway's shape."""
    try:
        data = response.json()
    except ValueError:
        return None, "", None
    if not isinstance(data, dict):
        return None, "", None
    if "error_code" in data:
        return str(data["error_code"]), str(data.get("message", "")), None
    report = data.get("report") if isinstance(data.get("report"), dict) else {}
    assert isinstance(report, dict)  # noqa: S101 - narrowed above
    code = None
    kind = str(data.get("type", ""))
    if "FLOW-" in kind:
        code = kind.rsplit("FLOW-", 1)[1]
    message = (
        report.get("detailed-message")
        or data.get("errorMessage")
        or data.get("detail")
        or data.get("title")
        or data.get("message")
        or ""
    )
    return code, str(message)[:500], report.get("request-id")
