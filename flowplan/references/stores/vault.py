"""`${vault:MOUNT/PATH#KEY}`: one key of a HashiCorp Vault KV v2 secret (latest version), read
with hvac from VAULT_ADDR with VAULT_TOKEN (and VAULT_NAMESPACE when set).

The token is sent to VAULT_ADDR, so an `http://` address is refused unless it is on loopback.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from flowplan.loopback import is_safe_url
from flowplan.references.stores import StoreError, missing_extra
from flowplan.references.template import Ref

TIMEOUT_SECONDS = 30


class VaultDriver:
    def __init__(self, env: Mapping[str, str]) -> None:
        try:
            import hvac  # type: ignore[import-untyped]
        except ImportError:
            raise missing_extra("vault", "hvac") from None
        addr = env.get("VAULT_ADDR", "").strip()
        token = env.get("VAULT_TOKEN", "")
        self._problem: str | None = None
        if not addr:
            self._problem = "VAULT_ADDR is not set"
        elif not is_safe_url(addr):
            self._problem = (
                f"VAULT_ADDR {addr} is plain http on a non-loopback address; use https "
                "(the token would travel in clear)"
            )
        elif not token:
            self._problem = "VAULT_TOKEN is not set"
        self._client: Any = hvac.Client(
            url=addr or None,
            token=token or None,
            namespace=env.get("VAULT_NAMESPACE") or None,
            timeout=TIMEOUT_SECONDS,
        )

    def fetch(self, ref: Ref) -> str:
        if self._problem:
            raise StoreError(self._problem)
        import requests
        from hvac import exceptions

        where, _, key = ref.target.partition("#")
        mount, _, path = where.partition("/")
        try:
            answer = self._client.secrets.kv.v2.read_secret_version(
                path=path, mount_point=mount, raise_on_deleted_version=True
            )
        except exceptions.InvalidPath:
            raise StoreError("not found (no such secret or mount)") from None
        except exceptions.Forbidden:
            raise StoreError("permission denied: check VAULT_TOKEN and its policy") from None
        except exceptions.Unauthorized:
            raise StoreError("VAULT_TOKEN is invalid or expired") from None
        except exceptions.VaultError as exc:
            raise StoreError(f"Vault refused the read ({exc.__class__.__name__})") from None
        except requests.RequestException as exc:
            raise StoreError(f"cannot reach Vault ({exc.__class__.__name__})") from None
        data = ((answer or {}).get("data") or {}).get("data")
        if not isinstance(data, dict) or key not in data:
            raise StoreError(f"the secret has no key {key!r}")
        value = data[key]
        return value if isinstance(value, str) else json.dumps(value)
