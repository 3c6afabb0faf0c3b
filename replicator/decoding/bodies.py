"""Checks every provider makes on a body before decoding it."""

from __future__ import annotations

from replicator.errors import DecodeError, Where
from replicator.types import Response

JSON_TYPES = frozenset({"application/json", "text/json"})


def json_body(response: Response) -> bytes:
    """The body of ``response`` if it can be JSON.

    Raises:
        DecodeError: the server sent HTML (a maintenance page, even with status 200),
            XML or another content type; the message names it, with the first bytes.
    """
    body = response.body
    kind = response.content_type
    if (kind and kind not in JSON_TYPES and not kind.endswith("+json")) or body.lstrip()[:1] == b"<":
        what = "HTML" if b"<html" in body[:512].lower() else (kind or "non-JSON")
        raise DecodeError(
            f"expected JSON, got {what} ({len(body)} bytes, status {response.status}): "
            f"{body[:120].decode(errors='replace')!r}", Where(url=response.url))
    return body
