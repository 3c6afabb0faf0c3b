"""Plain data that crosses layers: an HTTP request a provider wants sent, and the
response it gets back. Nothing here does I/O."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote, urlsplit

import orjson


@dataclass(frozen=True, slots=True)
class Request:
    """One HTTP request, fully described.

    Attributes:
        method: "GET" or "POST".
        url: absolute URL, query included.
        headers: extra headers (auth and compression headers are added by the transport).
        json: a JSON body (for POST-style list endpoints).
        form: a form-encoded body.
    """

    method: str
    url: str
    headers: Mapping[str, str] = field(default_factory=dict)
    json: Any = None
    form: Mapping[str, str] | None = None

    @classmethod
    def get(cls, url: str, params: Mapping[str, str] | None = None) -> Request:
        """A GET of ``url`` with ``params`` encoded the way OData servers expect
        (``$`` and ``,`` left readable, spaces as ``%20``)."""
        if params:
            query = "&".join(f"{quote(k, safe='$')}={quote(v, safe=_SAFE)}" for k, v in params.items())
            url = f"{url}{'&' if '?' in url else '?'}{query}"
        return cls("GET", url)

    @property
    def origin(self) -> str:
        return origin_of(self.url)

    def encode(self) -> str:
        """Text to store as a resume point: the URL of a plain GET, else JSON."""
        if self.method == "GET" and self.json is None and not self.headers and self.form is None:
            return self.url
        return orjson.dumps({"method": self.method, "url": self.url, "json": self.json,
                             "headers": dict(self.headers)}).decode()

    @classmethod
    def decode(cls, text: str) -> Request:
        """The inverse of :meth:`encode`."""
        if not text.startswith("{"):
            return cls("GET", text)
        data = orjson.loads(text)
        return cls(data["method"], data["url"], headers=data.get("headers") or {}, json=data.get("json"))


_SAFE = "$,'():"


def origin_of(url: str) -> str:
    """``scheme://host[:port]`` of ``url``, lower-cased, default ports dropped."""
    parts = urlsplit(url)
    scheme = parts.scheme.lower()
    host = (parts.hostname or "").lower()
    port = parts.port
    if port is None or (scheme, port) in (("http", 80), ("https", 443)):
        return f"{scheme}://{host}"
    return f"{scheme}://{host}:{port}"


@dataclass(frozen=True, slots=True)
class Response:
    """A complete HTTP response, body already decompressed."""

    status: int
    headers: Mapping[str, str]
    body: bytes
    url: str

    @property
    def content_type(self) -> str:
        return self.headers.get("Content-Type", "").split(";", 1)[0].strip().lower()
