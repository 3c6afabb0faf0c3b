"""HaloPSA authentication and instances: the token endpoint found through
``/api/authinfo``, and the name of the instance a connection covers.

Halo publishes where its authorisation server lives::

    GET {instance}/api/authinfo  ->  {"auth_url": "https://acme.halopsa.com/auth",
                                       "tenant_id": "..."}   (tenant_id: hosted only)

and the token is ``POST {auth_url}/token[?tenant={tenant_id}]``. Some instances
put the token at the root (``auth_url`` is the instance itself), so no path is
hard-coded. The client secret only ever goes to the connection's own origin: an
``auth_url`` elsewhere is refused before anything is sent there.
"""

from __future__ import annotations

from urllib.parse import quote, urljoin, urlsplit

import msgspec

from replicator.auth.flows import Send
from replicator.errors import AuthError, ClientError, DecodeError, RetryableError, UnsafeURL, Where
from replicator.http import error_detail
from replicator.types import Request, origin_of


class AuthInfo(msgspec.Struct):
    """The answer of ``/api/authinfo`` (only the fields the token call needs)."""

    auth_url: str
    tenant_id: str | None = None


_AUTHINFO = msgspec.json.Decoder(AuthInfo)


async def find_token_url(send: Send, base_url: str) -> str:
    """The token endpoint of the instance at ``base_url``, as ``/api/authinfo`` gives it.

    Raises:
        RetryableError: 5xx, 408 or 429 from authinfo (try again later).
        ClientError: another 4xx (a wrong base URL, usually).
        DecodeError: authinfo's body is not the JSON expected (maintenance pages...).
        UnsafeURL: ``auth_url`` is on another origin; nothing was sent there.
    """
    url = f"{base_url}/api/authinfo"
    where = Where(url=url)
    response = await send(Request.get(url))
    status = response.status
    if status >= 500 or status in (408, 429):
        raise RetryableError(f"authinfo answered {status}: {error_detail(response)}", where, status=status)
    if status != 200:
        raise ClientError(f"authinfo answered {status}: {error_detail(response)} (is base_url the "
                          "Halo instance, e.g. https://acme.halopsa.com?)", where, status=status)
    kind = response.content_type
    if (kind and "json" not in kind) or response.body[:1] == b"<":
        raise DecodeError(f"authinfo: expected JSON, got {kind or 'no content type'} "
                          f"({len(response.body)} bytes): {response.body[:120].decode(errors='replace')!r}", where)
    try:
        info = _AUTHINFO.decode(response.body)
    except msgspec.DecodeError as exc:
        raise DecodeError(f"authinfo: malformed answer: {exc}", where) from exc
    if not info.auth_url.strip():
        raise AuthError("authinfo gave an empty auth_url", where)
    token_url = urljoin(base_url + "/", info.auth_url.strip()).rstrip("/") + "/token"
    if info.tenant_id:
        token_url += f"?tenant={quote(info.tenant_id, safe='')}"
    own = origin_of(base_url)
    if origin_of(token_url) != own:
        raise UnsafeURL(f"authinfo points the token endpoint to {origin_of(token_url)}, outside the "
                        f"connection's origin {own}; refused (the client secret was not sent)", where)
    return token_url


def instance_base(base_url: str) -> str:
    """The instance URL from what a user may paste: Halo's settings page shows the
    resource server as ``https://acme.halopsa.com/api``; the ``/api`` is dropped."""
    url = base_url.strip().rstrip("/")
    return url.removesuffix("/api").rstrip("/")


def instance_id(base_url: str) -> str:
    """The tenant id of a connection: the instance's host (and port and path, when the
    instance is served under one), e.g. ``acme.halopsa.com`` or ``halo.example.com/psa``.

    Each Halo customer is a separate instance, so a connection covers exactly one
    tenant and its URL is what names it; it stays stable as long as the URL does.
    """
    parts = urlsplit(instance_base(base_url))
    host = (parts.hostname or "").lower()
    port = parts.port
    if port is not None and (parts.scheme, port) not in (("http", 80), ("https", 443)):
        host = f"{host}:{port}"
    return host + parts.path.rstrip("/")


def instance_name(base_url: str) -> str:
    """A short display name: the last path segment, else the host's first label (``acme``)."""
    parts = urlsplit(instance_base(base_url))
    path = parts.path.strip("/")
    if path:
        return path.rsplit("/", 1)[-1]
    return (parts.hostname or "").split(".", 1)[0]
