"""Whether an address stays on this machine: plain http is allowed only there (the emulator,
a local Vault), so that tokens and secrets are never sent in clear over a network."""

from __future__ import annotations

import ipaddress
from urllib.parse import urlsplit


def is_loopback(host: str | None) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host or "").is_loopback
    except ValueError:
        return False


def is_safe_url(url: str) -> bool:
    """https anywhere, or http on loopback."""
    parts = urlsplit(url)
    return parts.scheme == "https" or (parts.scheme == "http" and is_loopback(parts.hostname))
