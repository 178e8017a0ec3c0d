"""The client address a request comes from: what the lockout and the audit trail count by.

Default (``TRUSTED_PROXIES`` empty): the socket address, ``REMOTE_ADDR``, and no
header is believed, since any client can send ``X-Forwarded-For``.  Behind proxies,
``TRUSTED_PROXIES`` lists their addresses or networks; only when the socket peer is
one of them is ``X-Forwarded-For`` read, from the right, skipping trusted hops, and
the first untrusted hop is the client.  (django-ipware's own ``proxy_list`` trusts
trailing header entries without checking the socket peer, so a client reaching the
application directly could forge them; its parser is used for the header itself.)
"""

from __future__ import annotations

import ipaddress
from typing import Any

from django.conf import settings
from python_ipware.modern.parsers import parse_ip, split_proxy_chain

IpNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network
LOCAL_ADDRESS = "127.0.0.1"


def _trusted(address: Any, networks: list[IpNetwork]) -> bool:
    return any(address.version == net.version and address in net for net in networks)


def client_address(request: Any) -> str:
    """The client's address for ``request`` (a Django request or anything with ``META``)."""
    given = getattr(request, "evrelease_client_address", None)
    if given:  # a synthetic request built for a signature (services.esign)
        return str(given)
    meta = getattr(request, "META", {}) or {}
    remote = parse_ip(str(meta.get("REMOTE_ADDR") or ""))
    if remote is None:
        return LOCAL_ADDRESS
    networks: list[IpNetwork] = settings.TRUSTED_PROXY_NETWORKS  # parsed in settings
    if not networks or not _trusted(remote, networks):
        return str(remote)
    hops = split_proxy_chain(str(meta.get("HTTP_X_FORWARDED_FOR") or ""), strict=False) or []
    for hop in reversed(hops):
        if not _trusted(hop, networks):
            return str(hop)
    return str(hops[0]) if hops else str(remote)
