"""Connection settings from the environment (see the contract's Environment table)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from urllib.parse import urlsplit

from flowplan import redact
from flowplan.errors import ConfigError
from flowplan.loopback import is_loopback

DEFAULT_ENDPOINT = "https://platform.adobe.io/data/foundation/flowservice"
DEFAULT_IMS_ENDPOINT = "https://ims-na1.adobelogin.com/ims/token/v3"


@dataclass(frozen=True)
class Settings:
    endpoint: str
    ims_endpoint: str
    org_id: str
    sandbox: str
    api_key: str
    access_token: str | None
    client_id: str | None
    client_secret: str | None
    scopes: str | None
    connect_timeout: float = 5.0
    read_timeout: float = 30.0
    retries: int = 5
    backoff: float = 0.5
    # Data Prep (mapping sets); empty means: derived from `endpoint` (see conversion_default)
    conversion_endpoint: str = ""
    listing_timeout: float = 900.0  # the total time one listing may take, every page included
    max_pages: int = 10_000  # pages per listing: 1,000,000 resources at 100 a page

    def __post_init__(self) -> None:
        if not self.conversion_endpoint:
            object.__setattr__(self, "conversion_endpoint", conversion_default(self.endpoint))

    def __repr__(self) -> str:  # never show the token or the client secret
        return (
            f"Settings(endpoint={self.endpoint!r}, org_id={self.org_id!r}, "
            f"sandbox={self.sandbox!r})"
        )

    @classmethod
    def from_env(cls, env: Mapping[str, str], sandbox: str | None = None) -> Settings:
        """Read every setting; one ConfigError naming every missing variable."""

        def get(name: str) -> str | None:
            value = env.get(name, "").strip()
            return value or None

        missing: list[str] = []
        token, client_id, secret = (
            get("AEP_ACCESS_TOKEN"),
            get("AEP_CLIENT_ID"),
            get("AEP_CLIENT_SECRET"),
        )
        if token is None:
            if client_id is None:
                missing.append("AEP_CLIENT_ID (or AEP_ACCESS_TOKEN)")
            if secret is None:
                missing.append("AEP_CLIENT_SECRET (or AEP_ACCESS_TOKEN)")
        api_key = get("AEP_API_KEY") or client_id
        if api_key is None and "AEP_CLIENT_ID (or AEP_ACCESS_TOKEN)" not in missing:
            missing.append("AEP_API_KEY (or AEP_CLIENT_ID)")
        org = get("AEP_ORG_ID")
        if org is None:
            missing.append("AEP_ORG_ID")
        sandbox = sandbox or get("AEP_SANDBOX_NAME")
        if sandbox is None:
            missing.append("AEP_SANDBOX_NAME (or `sandbox:` in the manifest)")
        if missing:
            raise ConfigError("missing settings: set " + ", ".join(missing))
        endpoint = (get("FLOWPLAN_ENDPOINT") or DEFAULT_ENDPOINT).rstrip("/")
        ims = get("FLOWPLAN_IMS_ENDPOINT") or DEFAULT_IMS_ENDPOINT
        check_endpoint("FLOWPLAN_ENDPOINT", endpoint)
        check_endpoint("FLOWPLAN_IMS_ENDPOINT", ims)
        conversion = (get("FLOWPLAN_CONVERSION_ENDPOINT") or conversion_default(endpoint)).rstrip(
            "/"
        )
        check_endpoint("FLOWPLAN_CONVERSION_ENDPOINT", conversion)
        for credential in (token, secret):
            if credential:
                redact.register(credential)
        assert org is not None  # noqa: S101 - checked above
        assert sandbox is not None  # noqa: S101
        assert api_key is not None  # noqa: S101
        return cls(
            endpoint=endpoint,
            ims_endpoint=ims,
            org_id=org,
            sandbox=sandbox,
            api_key=api_key,
            access_token=token,
            client_id=client_id,
            client_secret=secret,
            scopes=get("AEP_SCOPES"),
            connect_timeout=_number(env, "FLOWPLAN_CONNECT_TIMEOUT", 5.0),
            read_timeout=_number(env, "FLOWPLAN_READ_TIMEOUT", 30.0),
            retries=int(_number(env, "FLOWPLAN_RETRIES", 5)),
            backoff=_number(env, "FLOWPLAN_BACKOFF", 0.5),
            conversion_endpoint=conversion,
        )


def conversion_default(endpoint: str) -> str:
    """Data Prep's base URL beside Flow Service's: `/flowservice` replaced by `/conversion`."""
    head, found, tail = endpoint.rpartition("/flowservice")
    return f"{head}/conversion{tail}" if found else endpoint


def _number(env: Mapping[str, str], name: str, default: float) -> float:
    raw = env.get(name, "").strip()
    if not raw:
        return default
    try:
        value = float(raw)
    except ValueError:
        raise ConfigError(f"{name}={raw!r} is not a number") from None
    if value < 0:
        raise ConfigError(f"{name} must not be negative")
    return value


def check_endpoint(name: str, url: str) -> None:
    """https everywhere, except plain http on loopback (the emulator)."""
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ConfigError(f"{name}={url!r} is not an http(s) URL")
    if parts.scheme == "http" and not is_loopback(parts.hostname):
        raise ConfigError(
            f"{name}={url!r}: plain http is only allowed on loopback; use https so the token "
            "and secrets are encrypted in transit"
        )
