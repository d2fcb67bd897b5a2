"""Where webhooks may go: public https endpoints, never the clinic's own network.

A subscription's URL is checked when it is saved and again before every
delivery, after resolving its host name: an address that is not globally
routable (loopback, private, link-local with the cloud metadata service
169.254.169.254, carrier-grade NAT, reserved, multicast) is refused, so a
webhook cannot be turned into a probe of the clinic's internal services.
Deliveries follow no redirects (a redirect could lead anywhere, with the
body and signature). Outside DEBUG only https is accepted.

`WEBHOOK_ALLOW_PRIVATE_TARGETS` lifts the address and https rules, for a
receiver on the clinic's own network that the clinic has chosen to trust
(and for tests with a receiver on loopback). A host name is resolved at delivery time and
the check applies to every address it resolves to; the connection then
resolves again, so a name that changes its answer within that instant (DNS
rebinding) is the remaining gap, small because no response body is read.
"""

from __future__ import annotations

import ipaddress
import socket
from urllib.parse import urlsplit

from django.conf import settings
from django.core.exceptions import ValidationError


def check_webhook_url(url: str) -> None:
    """Raise ValidationError (naming `url`) unless webhooks may be sent to `url` now."""
    parts = urlsplit(url)
    if parts.scheme not in ("https", "http") or not parts.hostname:
        raise ValidationError({"url": "Give the receiver's full https:// address."})
    if parts.username or parts.password:
        raise ValidationError({"url": "Put no user name or password in the address: webhooks are signed instead."})
    if settings.WEBHOOK_ALLOW_PRIVATE_TARGETS:
        return
    if parts.scheme != "https" and not settings.DEBUG:
        raise ValidationError({"url": "Webhooks go only to https:// addresses: they carry a signature and event ids."})
    try:
        port = parts.port or (443 if parts.scheme == "https" else 80)
    except ValueError:
        raise ValidationError({"url": "The address has an invalid port."}) from None
    try:
        found = socket.getaddrinfo(parts.hostname, port, type=socket.SOCK_STREAM)
    except (socket.gaierror, UnicodeError):
        raise ValidationError({"url": f"The host {parts.hostname} cannot be found."}) from None
    for *_, address in found:
        ip = ipaddress.ip_address(address[0])
        if not ip.is_global or ip.is_multicast:
            raise ValidationError(
                {"url": f"{parts.hostname} leads to {ip}, an address on a private or reserved network: refused."}
            )
