"""The address of the client that sent a request, for login throttling (django-axes) and the
consent records of the card page.

Without a reverse proxy (`BEHIND_PROXY` off) it is the socket peer, `REMOTE_ADDR`; a client
cannot change it. Behind `PROXY_COUNT` trusted proxies each one appends the address it received
the request from to `X-Forwarded-For`, so the client is the entry `PROXY_COUNT` places from the
right; whatever stands further left was written by the client and is never trusted. A missing,
short or malformed header falls back to `REMOTE_ADDR` (the nearest proxy)."""

import ipaddress

from django.conf import settings


def _address(raw: str) -> str | None:
    raw = raw.strip()
    if raw.startswith("[") and "]" in raw:  # "[2001:db8::1]:443"
        raw = raw[1 : raw.index("]")]
    elif raw.count(":") == 1:  # "203.0.113.7:51234"
        raw = raw.split(":", 1)[0]
    try:
        return str(ipaddress.ip_address(raw))
    except ValueError:
        return None


def client_ip(request) -> str | None:
    """The real client address of `request` under the proxy settings (see the module doc)."""
    peer = request.META.get("REMOTE_ADDR") or None
    if not getattr(settings, "BEHIND_PROXY", False):
        return peer
    count = max(int(getattr(settings, "PROXY_COUNT", 1)), 1)
    hops = [h for h in request.META.get("HTTP_X_FORWARDED_FOR", "").split(",") if h.strip()]
    if len(hops) < count:
        return peer
    return _address(hops[-count]) or peer
