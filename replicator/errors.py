"""The one exception tree of replicator.

Every error the framework raises on purpose derives from :class:`ReplicatorError`.
Foreign errors (aiohttp, msgspec, sqlite3) are translated at the layer that meets
them, with ``raise ... from exc``, so callers catch one family::

    ReplicatorError
    ├── ConfigError            the TOML file or the environment is wrong; nothing starts
    ├── PluginError            a provider plugin failed to import or is malformed
    ├── TransportError         HTTP did not give a usable answer
    │   ├── RetryableError     5xx, timeout, reset, truncated body: try again later
    │   │   └── RateLimited    429: wait until the window resets
    │   ├── ClientError        4xx other than 401/429: never retried blindly
    │   └── UnsafeURL          a URL whose origin does not belong to the connection
    ├── AuthError              the OAuth grant could not produce a token
    │   └── NeedsReauth        revoked or expired grant: a person must authorise again
    ├── PagingError            a page pointed somewhere it must not, or never ended
    ├── DecodeError            a page was not the JSON the resource expects
    └── StoreError             the replica store refused a write or a read

Messages name the tenant, resource and URL when they are known (see
:class:`Where`), and never contain a secret: URLs are stripped of their query
before they are put in a message only when the query may carry credentials, and
tokens are never interpolated at all.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Where:
    """Where an error happened; every field is optional."""

    connection: str | None = None
    tenant: str | None = None
    resource: str | None = None
    url: str | None = None

    def __str__(self) -> str:
        parts = [
            f"{name}={value}"
            for name, value in (
                ("connection", self.connection),
                ("tenant", self.tenant),
                ("resource", self.resource),
                ("url", self.url),
            )
            if value
        ]
        return ", ".join(parts)


class ReplicatorError(Exception):
    """Root of every error replicator raises on purpose."""

    def __init__(self, message: str, where: Where | None = None) -> None:
        self.message = message
        self.where = where or Where()
        text = f"{message} [{self.where}]" if str(self.where) else message
        super().__init__(text)

    def at(self, where: Where) -> ReplicatorError:
        """Return this error with missing location fields filled from ``where``."""
        merged = Where(
            connection=self.where.connection or where.connection,
            tenant=self.where.tenant or where.tenant,
            resource=self.where.resource or where.resource,
            url=self.where.url or where.url,
        )
        clone = type(self).__new__(type(self))
        clone.__dict__.update(self.__dict__)
        ReplicatorError.__init__(clone, self.message, merged)
        return clone


class ConfigError(ReplicatorError):
    """The configuration is invalid; the message names the key and what was expected."""


class PluginError(ReplicatorError):
    """A provider plugin could not be loaded or does not honour the contract."""


class TransportError(ReplicatorError):
    """An HTTP exchange did not produce a usable response."""

    def __init__(self, message: str, where: Where | None = None, status: int | None = None) -> None:
        self.status = status
        super().__init__(message, where)


class RetryableError(TransportError):
    """A transient failure: 5xx, timeout, connection reset or truncated body."""


class RateLimited(RetryableError):
    """The provider answered 429. ``retry_at`` is the epoch second it allows again."""

    def __init__(self, message: str, where: Where | None = None, retry_at: float | None = None) -> None:
        self.retry_at = retry_at
        super().__init__(message, where, status=429)


class ClientError(TransportError):
    """A 4xx answer (other than 401 and 429). Never retried blindly: Exact blocks a
    key for an hour after ten of them per endpoint."""


class Unauthorized(TransportError):
    """401 on an API call: the access token was refused."""


class UnsafeURL(TransportError):
    """A URL whose origin is not the connection's own; no credential is sent there."""


class AuthError(ReplicatorError):
    """The token endpoint did not give a usable token."""


class NeedsReauth(AuthError):
    """The grant is revoked, expired or its refresh token was already used."""


class PagingError(ReplicatorError):
    """A page pointed somewhere it must not (foreign host) or never ended."""


class DecodeError(ReplicatorError):
    """A page body was not the JSON the resource expects (HTML, XML, truncated...)."""


class StoreError(ReplicatorError):
    """The replica store failed."""
