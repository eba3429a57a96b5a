"""The SSRF guard: a webhook may target only public addresses, unless configuration allows
private, loopback and link-local ones (MODELREG_WEBHOOKS__ALLOW_PRIVATE_TARGETS)."""

from __future__ import annotations

import asyncio
import ipaddress
import socket
from urllib.parse import urlsplit

from modelreg.events.exceptions import TargetRefused


def _refused_address(address: ipaddress.IPv4Address | ipaddress.IPv6Address) -> str | None:
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        address = address.ipv4_mapped
    if address.is_loopback:
        return "a loopback address"
    if address.is_link_local:
        return "a link-local address"
    if address.is_private:
        return "a private address"
    if address.is_unspecified or address.is_multicast or address.is_reserved:
        return "not a unicast public address"
    return None


def check_url_form(url: str) -> tuple[str, int]:
    """(host, port) of an http(s) URL; refused when it is anything else."""
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https"):
        raise TargetRefused(url, "the scheme must be http or https")
    if not parts.hostname:
        raise TargetRefused(url, "no host")
    if parts.username or parts.password:
        raise TargetRefused(url, "credentials in the URL")
    try:
        port = parts.port or (443 if parts.scheme == "https" else 80)
    except ValueError:
        raise TargetRefused(url, "an invalid port") from None
    return parts.hostname, port


async def check_target(url: str, *, allow_private: bool) -> None:
    """Refuse a URL whose host resolves to an address the guard forbids (every address it
    resolves to is checked: one bad one is enough)."""
    host, port = check_url_form(url)
    if allow_private:
        return
    try:
        infos = await asyncio.get_running_loop().getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except OSError:
        raise TargetRefused(url, f"the host {host!r} does not resolve") from None
    for info in infos:
        address = ipaddress.ip_address(str(info[4][0]).split("%", 1)[0])
        why = _refused_address(address)
        if why is not None:
            raise TargetRefused(url, f"{host} is {why} ({address})")
