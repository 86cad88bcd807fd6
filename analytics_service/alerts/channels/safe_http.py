"""Outbound rules for every channel that reaches a destination a trader typed in.

A destination (a webhook URL, an SMTP host) is resolved and every address it resolves to
must be public: loopback, private, shared (carrier-grade NAT), link-local, multicast,
reserved, unspecified and cloud-metadata addresses are refused, also when they hide inside
an IPv6 address (IPv4-mapped, 6to4, Teredo, NAT64). The check runs when the channel is
saved and again before each delivery, and the connection goes to the address that was
checked: the request is sent to the IP while the ``Host`` header and the TLS server name
(SNI, and so certificate verification) stay those of the URL, so a DNS answer that changes
between the check and the connection (rebinding) cannot redirect it. Only https; redirects
are never followed; connect and read timeouts; at most ``alerts_http_max_response_bytes``
of a response are read.

``alerts_allow_loopback`` (off by default, refused in production) lets tests and local
setups deliver to loopback addresses, and over plain http to those only.
"""

from __future__ import annotations

import asyncio
import ipaddress
import json
import socket
import ssl
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import httpx

from analytics_service.alerts.channels.errors import DeliveryError
from shared.config import Settings

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
Resolver = Callable[[str, int], list[str]]
"""Resolves (host, port) to IP address strings; blocking (it is run in a thread)."""

METADATA_ADDRESSES = frozenset(
    ipaddress.ip_address(a)
    for a in (
        "169.254.169.254",  # AWS, GCP, Azure, OpenStack, DigitalOcean, Oracle ... IMDS
        "169.254.169.253",  # AWS VPC DNS
        "169.254.170.2",  # AWS ECS task metadata
        "169.254.0.23",  # Tencent Cloud
        "100.100.100.200",  # Alibaba Cloud
        "192.0.0.192",  # Oracle Cloud (classic)
        "168.63.129.16",  # Azure WireServer (a public-looking address)
        "fd00:ec2::254",  # AWS IMDS over IPv6
        "fd00:ec2::253",  # AWS VPC DNS over IPv6
    )
)

_PRIVATE = tuple(
    ipaddress.ip_network(n) for n in ("10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16", "fc00::/7")
)
_SHARED = ipaddress.ip_network("100.64.0.0/10")
_NAT64 = (ipaddress.ip_network("64:ff9b::/96"), ipaddress.ip_network("64:ff9b:1::/48"))


class DestinationRefused(Exception):
    """A destination the outbound rules refuse; ``reason`` says why, without the URL."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class Unresolvable(DestinationRefused):
    """A host name the resolver could not answer for (maybe for now only)."""


def system_resolve(host: str, port: int) -> list[str]:
    """Every address the system resolver gives for ``host`` (blocking)."""
    infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    return list(dict.fromkeys(str(info[4][0]) for info in infos))


_resolver: Resolver = system_resolve


@contextmanager
def use_resolver(resolver: Resolver) -> Iterator[None]:
    """Resolve names with ``resolver`` inside the block (tests: a hosts-file of their own)."""
    global _resolver
    previous, _resolver = _resolver, resolver
    try:
        yield
    finally:
        _resolver = previous


def _embedded(ip: IPAddress) -> list[IPAddress]:
    """IPv4 addresses carried inside an IPv6 one (mapped, 6to4, Teredo, NAT64)."""
    if not isinstance(ip, ipaddress.IPv6Address):
        return []
    found: list[IPAddress] = []
    if ip.ipv4_mapped is not None:
        found.append(ip.ipv4_mapped)
    if ip.sixtofour is not None:
        found.append(ip.sixtofour)
    if ip.teredo is not None:
        found.extend(ip.teredo)
    if any(ip in net for net in _NAT64):
        found.append(ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF))
    return found


def address_refusal(ip: IPAddress, settings: Settings) -> str | None:
    """Why the outbound rules refuse ``ip``, or None when it may be reached."""
    for inner in _embedded(ip):
        reason = address_refusal(inner, settings)
        if reason is not None:
            return reason
    if ip in METADATA_ADDRESSES:
        return "a cloud metadata address"
    if ip.is_loopback:
        return None if settings.alerts_allow_loopback else "a loopback address"
    checks: tuple[tuple[bool, str], ...] = (
        (ip.is_unspecified, "an unspecified address"),
        (ip.is_link_local, "a link-local address"),
        (ip.is_multicast, "a multicast address"),
        (any(ip in net for net in _PRIVATE), "a private address"),
        (ip in _SHARED, "a shared (carrier-grade NAT) address"),
        (ip.is_reserved, "a reserved address"),
        (not ip.is_global, "a non-public address"),
    )
    for refused, reason in checks:
        if refused:
            return reason
    return None


def check_host(host: str, port: int, settings: Settings) -> list[IPAddress]:
    """Resolve ``host`` and return its addresses if every one is allowed (blocking).

    All must pass, not just one: a name answering with a public and a private address is
    refused, whichever one a later connection would have picked.
    """
    try:
        addresses = [ipaddress.ip_address(host.strip("[]"))]
    except ValueError:
        try:
            answers = _resolver(host, port)
        except (OSError, UnicodeError) as exc:
            raise Unresolvable(f"host {host!r} does not resolve") from exc
        addresses = [ipaddress.ip_address(a.split("%", 1)[0]) for a in answers]
    if not addresses:
        raise Unresolvable(f"host {host!r} does not resolve")
    for ip in addresses:
        reason = address_refusal(ip, settings)
        if reason is not None:
            raise DestinationRefused(f"host {host!r} resolves to {reason} ({ip})")
    return addresses


@dataclass(frozen=True)
class Destination:
    """A URL that passed the rules, with the address the connection must go to."""

    url: httpx.URL
    host: str  # ASCII (IDNA) host name: the Host header and the TLS server name
    address: IPAddress

    @property
    def pinned_url(self) -> httpx.URL:
        return self.url.copy_with(host=str(self.address))

    @property
    def host_header(self) -> str:
        default = 443 if self.url.scheme == "https" else 80
        port = self.url.port
        host = f"[{self.host}]" if ":" in self.host else self.host  # an IPv6 literal
        return host if port in (None, default) else f"{host}:{port}"


def parse_url(url: str, settings: Settings) -> httpx.URL:
    """The URL if its form is acceptable (scheme, host, no credentials); no DNS here."""
    try:
        parsed = httpx.URL(url)
    except (httpx.InvalidURL, TypeError) as exc:
        raise DestinationRefused("not a valid URL") from exc
    if parsed.scheme not in ("https", "http"):
        raise DestinationRefused("only https URLs are allowed")
    if parsed.scheme == "http" and not settings.alerts_allow_loopback:
        raise DestinationRefused("only https URLs are allowed")
    if not parsed.host:
        raise DestinationRefused("the URL has no host")
    if parsed.userinfo:
        raise DestinationRefused("credentials in the URL are not allowed")
    if parsed.fragment:
        raise DestinationRefused("a fragment in the URL is not allowed")
    return parsed


def check_url(url: str, settings: Settings) -> Destination:
    """Apply every outbound rule to ``url`` (resolves the host: blocking)."""
    parsed = parse_url(url, settings)
    host = parsed.raw_host.decode("ascii")
    port = parsed.port or (443 if parsed.scheme == "https" else 80)
    addresses = check_host(host, port, settings)
    if parsed.scheme == "http" and not all(ip.is_loopback for ip in addresses):
        # Plain http is tolerated for a local receiver only (alerts_allow_loopback).
        raise DestinationRefused("only https URLs are allowed")
    return Destination(url=parsed, host=host, address=addresses[0])


async def acheck_url(url: str, settings: Settings) -> Destination:
    """``check_url`` without blocking the event loop."""
    return await asyncio.to_thread(check_url, url, settings)


@dataclass(frozen=True)
class SafeResponse:
    """What was read of a response: at most ``alerts_http_max_response_bytes`` of its body."""

    status_code: int
    headers: httpx.Headers
    body: bytes
    truncated: bool


def make_client(settings: Settings, *, verify: ssl.SSLContext | bool = True) -> httpx.AsyncClient:
    """A client for channel deliveries: no redirects, no proxies from the environment.

    ``verify`` replaces the system trust store (a private CA, a test certificate)."""
    return httpx.AsyncClient(
        follow_redirects=False, trust_env=False, timeout=_timeout(settings), verify=verify
    )


def _timeout(settings: Settings) -> httpx.Timeout:
    return httpx.Timeout(
        settings.alerts_http_read_timeout_seconds,
        connect=settings.alerts_http_connect_timeout_seconds,
    )


async def post(
    url: str,
    *,
    content: bytes,
    headers: Mapping[str, str],
    settings: Settings,
    client: httpx.AsyncClient | None = None,
) -> SafeResponse:
    """POST ``content`` to ``url`` under the outbound rules; returns what was read.

    Any response comes back, whatever its status (``raise_for_status`` turns it into a
    ``DeliveryError``); a refused destination, a timeout or a broken connection raise one.
    """
    try:
        destination = await acheck_url(url, settings)
    except Unresolvable as exc:
        raise DeliveryError(exc.reason, retryable=True) from exc
    except DestinationRefused as exc:
        raise DeliveryError(f"destination refused: {exc.reason}", retryable=False) from exc
    if client is None:
        async with make_client(settings) as own:
            return await _post_pinned(own, destination, content, headers, settings)
    return await _post_pinned(client, destination, content, headers, settings)


JSON_HEADERS = {"Content-Type": "application/json", "Accept-Encoding": "identity"}


async def post_json(
    url: str,
    body: Any,
    *,
    settings: Settings,
    client: httpx.AsyncClient | None = None,
) -> SafeResponse:
    """``post`` of ``body`` as JSON (the chat services' APIs)."""
    return await post(
        url,
        content=json.dumps(body).encode(),
        headers=JSON_HEADERS,
        settings=settings,
        client=client,
    )


async def _post_pinned(
    client: httpx.AsyncClient,
    destination: Destination,
    content: bytes,
    headers: Mapping[str, str],
    settings: Settings,
) -> SafeResponse:
    all_headers = {
        **headers,
        "Host": destination.host_header,
        # One connection per delivery: a pooled connection to the same address, verified
        # for another name, is never reused for this one.
        "Connection": "close",
    }
    request = client.build_request(
        "POST",
        destination.pinned_url,
        content=content,
        headers=all_headers,
        timeout=_timeout(settings),
        extensions={"sni_hostname": destination.host},
    )
    limit = settings.alerts_http_max_response_bytes
    try:
        response = await client.send(request, stream=True, follow_redirects=False)
        try:
            body = bytearray()
            truncated = False
            async for chunk in response.aiter_raw():
                body.extend(chunk)
                if len(body) > limit:
                    del body[limit:]
                    truncated = True
                    break
        finally:
            await response.aclose()
    except httpx.TimeoutException as exc:
        raise DeliveryError("timed out", retryable=True) from exc
    except httpx.TransportError as exc:
        raise DeliveryError(f"connection failed ({type(exc).__name__})", retryable=True) from exc
    return SafeResponse(response.status_code, response.headers, bytes(body), truncated)


def retry_after_seconds(headers: httpx.Headers) -> float | None:
    """The ``Retry-After`` a receiver sent, in seconds (the delta-seconds form only)."""
    value = headers.get("retry-after")
    if value is None:
        return None
    try:
        seconds = float(value)
    except ValueError:
        return None
    return seconds if seconds >= 0 else None


def raise_for_status(response: SafeResponse, *, what: str, detail: str = "") -> None:
    """Turn a non-2xx response into a ``DeliveryError`` classified for retrying.

    5xx, 408 and 429 may succeed later; a redirect (never followed) and any other 4xx
    will not until the configuration changes.
    """
    status = response.status_code
    if 200 <= status < 300:
        return
    if 300 <= status < 400:
        raise DeliveryError(
            f"{what} answered a redirect (HTTP {status}), not followed", retryable=False
        )
    retryable = status >= 500 or status in (408, 429)
    raise DeliveryError(
        f"{what} answered HTTP {status}" + (f": {detail}" if detail else ""),
        retryable=retryable,
        retry_after=retry_after_seconds(response.headers) if retryable else None,
    )
