"""The only module that touches sockets: one aiohttp session per process.

It adds the headers every request needs (JSON, gzip, the bearer token), refuses
to send anything to an origin the caller did not allow (so a hostile next-link
never receives a token), reads the whole body (aiohttp gunzips it), and turns
aiohttp's many exceptions into :mod:`replicator.errors`. It does not retry or
wait: the engine decides that, through its scheduler.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping

import aiohttp

from replicator.errors import (
    ClientError,
    RateLimited,
    RetryableError,
    TransportError,
    Unauthorized,
    UnsafeURL,
    Where,
)
from replicator.types import Request, Response, origin_of

USER_AGENT = "replicator/0.1 (+https://github.com/replicator)"


class Transport:
    """A pooled HTTP client.

    Args:
        pool_size: connections kept open (size it from the rate you want times the
            latency you expect: aiohttp's default of 100 caps throughput at
            100 / latency).
        timeout: seconds for one whole request, body included.
    """

    __slots__ = ("_session", "pool_size", "requests", "timeout")

    def __init__(self, *, pool_size: int = 64, timeout: float = 60.0) -> None:
        self.pool_size = pool_size
        self.timeout = timeout
        self._session: aiohttp.ClientSession | None = None
        self.requests = 0

    async def open(self) -> None:
        connector = aiohttp.TCPConnector(limit=self.pool_size, limit_per_host=0,
                                         ttl_dns_cache=300, enable_cleanup_closed=True)
        self._session = aiohttp.ClientSession(
            connector=connector,
            timeout=aiohttp.ClientTimeout(total=self.timeout, sock_connect=min(self.timeout, 15.0)),
            headers={"User-Agent": USER_AGENT, "Accept": "application/json",
                     "Accept-Encoding": "gzip, deflate"},
            auto_decompress=True,
            raise_for_status=False,
            trust_env=False,
        )

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None

    async def __aenter__(self) -> Transport:
        await self.open()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    async def send(self, request: Request, *, allowed_origin: str, token: str | None = None,
                   where: Where | None = None) -> Response:
        """Send ``request`` and return the complete response, whatever its status.

        Raises:
            UnsafeURL: the request's origin is not ``allowed_origin``; nothing was sent.
            RetryableError: timeout, connection reset, truncated or corrupt body.
        """
        where = where or Where()
        origin = origin_of(request.url)
        if origin != allowed_origin:
            raise UnsafeURL(f"refusing to send a request to {origin}: the connection's origin is "
                            f"{allowed_origin}", where)
        if self._session is None:
            raise TransportError("transport is not open", where)
        headers: dict[str, str] = dict(request.headers)
        if token is not None:
            headers["Authorization"] = f"Bearer {token}"
        self.requests += 1
        try:
            async with self._session.request(request.method, request.url, headers=headers,
                                             json=request.json, data=request.form,
                                             allow_redirects=False) as resp:
                body = await resp.read()
                return Response(resp.status, resp.headers, body, str(resp.url))
        except aiohttp.ClientPayloadError as exc:
            raise RetryableError(f"truncated or corrupt body: {exc}", where) from exc
        except (aiohttp.ServerDisconnectedError, aiohttp.ClientOSError,
                aiohttp.ClientConnectionError) as exc:
            raise RetryableError(f"connection failed: {type(exc).__name__}: {exc}", where) from exc
        except TimeoutError as exc:
            raise RetryableError(f"timed out after {self.timeout:g}s", where) from exc
        except aiohttp.ClientError as exc:
            raise RetryableError(f"HTTP client error: {type(exc).__name__}: {exc}", where) from exc

    def __repr__(self) -> str:
        state = "open" if self._session is not None else "closed"
        return f"Transport({state}, pool_size={self.pool_size}, requests={self.requests})"


def check_status(response: Response, where: Where, *, retry_at: float | None = None) -> None:
    """Raise the error a non-2xx status means."""
    status = response.status
    if status < 300:
        return
    if status < 400:
        # The transport never follows redirects: a page that moved (maybe to another
        # host) is an error to look at, not a place to send a token.
        location = response.headers.get("Location", "") or "(no Location)"
        raise ClientError(f"{status} redirect to {location} refused: redirects are not followed",
                          where, status=status)
    detail = error_detail(response)
    if status == 429:
        raise RateLimited(f"429 rate limited{': ' + detail if detail else ''}", where, retry_at=retry_at)
    if status == 401:
        raise Unauthorized(f"401 unauthorized: {detail}", where, status=status)
    if status >= 500 or status == 408:
        raise RetryableError(f"{status} server error: {detail}", where, status=status)
    raise ClientError(f"{status} refused: {detail}", where, status=status)


def error_detail(response: Response, limit: int = 300) -> str:
    """A short, printable description of an error body (JSON message if it has one)."""
    body = response.body
    if not body:
        return response.headers.get("WWW-Authenticate", "") if response.status == 401 else ""
    if response.content_type in ("text/html", "application/xhtml+xml"):
        return f"HTML page ({len(body)} bytes) where JSON was expected"
    try:
        import orjson

        value = orjson.loads(body)
    except Exception:
        return body[:limit].decode(errors="replace")
    message = _find_message(value)
    if isinstance(value, Mapping):
        # Structured error bodies say more than their message: Horus's
        # {ErrorType, Details, Message}, HORISEN's codes, OAuth's error names.
        # (A numeric "code" is usually the HTTP status again: left out.)
        kind = next((str(value[k]) for k in ("ErrorType", "errorType", "code", "error")
                     if isinstance(value.get(k), str) and value.get(k)), None)
        details = next((value[k] for k in ("Details", "details", "errors") if value.get(k)), None)
        if kind and kind != message:
            message = f"{kind}: {message}" if message else kind
        if details is not None:
            text = details if isinstance(details, str) else orjson.dumps(details).decode()
            message = f"{message} (details: {text})" if message else text
    return (message or body[:limit].decode(errors="replace"))[:limit]


def _find_message(value: object) -> str | None:
    # Exact: {"error": {"message": {"value": "..."}}}; OAuth: {"error_description"};
    # Horus: {"Message": "..."}; generic: {"message": "..."}.
    if isinstance(value, Mapping):
        for key in ("value", "error_description", "Message", "message", "error"):
            if key in value:
                inner = value[key]
                if isinstance(inner, str):
                    return inner
                found = _find_message(inner)
                if found:
                    return found
    return None


async def aclose_quietly(transport: Transport) -> None:
    """Close on shutdown paths where a second error would hide the first."""
    try:
        await asyncio.shield(transport.close())
    except Exception:
        pass
