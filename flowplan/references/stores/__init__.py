"""Secret-store drivers: `${aws-sm:…}`, `${aws-ssm:…}` (boto3, the `aws` extra) and
`${vault:…}` (hvac, the `vault` extra).

Each driver is imported only when a manifest uses its kind, and builds its client once per run
(clients are thread-safe for these reads). A driver raises StoreError with a message that names
what went wrong but never a value: the caller prefixes it with the reference.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Mapping
from typing import Any

from flowplan.references.template import Ref


class StoreError(Exception):
    """A secret could not be read; the message holds no secret."""


Fetcher = Callable[[Ref], str]


class SecretStores:
    """Reads secret-store references, with one lazily built driver per store."""

    def __init__(self, env: Mapping[str, str]) -> None:
        self.env = env
        self._lock = threading.Lock()
        self._drivers: dict[str, Any] = {}

    def fetch(self, ref: Ref) -> str:
        family = "vault" if ref.kind == "vault" else "aws"
        driver = self._driver(family)
        value: str = driver.fetch(ref)
        return value

    def _driver(self, family: str) -> Any:
        with self._lock:
            if family not in self._drivers:
                self._drivers[family] = _DRIVERS[family](self.env)
            return self._drivers[family]


def _aws(env: Mapping[str, str]) -> Any:
    from flowplan.references.stores.aws import AwsDriver

    return AwsDriver(env)


def _vault(env: Mapping[str, str]) -> Any:
    from flowplan.references.stores.vault import VaultDriver

    return VaultDriver(env)


_DRIVERS: dict[str, Callable[[Mapping[str, str]], Any]] = {"aws": _aws, "vault": _vault}


def missing_extra(extra: str, package: str) -> StoreError:
    return StoreError(f"reading it needs the {package} package: pip install 'flowplan[{extra}]'")
