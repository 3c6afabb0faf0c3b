"""How a provider's connections obtain access tokens, declared as data.

A provider's ``auth()`` returns one of these; :class:`~replicator.auth.TokenManager`
carries it out:

- :class:`OAuth2Refresh`: a person authorised the app once; a long-lived refresh
  token (rotating or not) buys access tokens (Exact Online, Horus, Accounteer).
- :class:`OAuth2ClientCredentials`: the app's own id and secret buy access tokens
  (HaloPSA, HORISEN); nothing needs to be stored between runs.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from typing import Literal

from replicator.types import Request, Response

Send = Callable[[Request], Awaitable[Response]]
"""Sends a request without an access token, to the connection's own origin only."""

TokenURL = Callable[[Send, str], Awaitable[str]]
"""Finds the token endpoint at run time: ``(send, base_url) -> token URL``."""


@dataclass(frozen=True, slots=True)
class OAuth2Refresh:
    """OAuth2 with a long-lived refresh token.

    Attributes:
        token_path: the token endpoint, relative to the connection's base URL.
        client_auth: where the client id and secret go: the form body or HTTP Basic.
        refresh_margin: refresh this many seconds before the access token expires.
        min_refresh_interval: never refresh sooner than this after the last refresh
            (Exact refuses a refresh within 570 s of the previous one).
        default_lifetime: the lifetime assumed when the response gives none.
        method: "POST" (form body, the standard) or "GET" (query parameters, as
            Accounteer's documentation shows its token call).
    """

    token_path: str
    client_auth: Literal["body", "basic"] = "body"
    refresh_margin: float = 30.0
    min_refresh_interval: float = 0.0
    default_lifetime: float = 600.0
    method: Literal["POST", "GET"] = "POST"


@dataclass(frozen=True, slots=True)
class OAuth2ClientCredentials:
    """OAuth2 client-credentials grant.

    Attributes:
        token_path: the token endpoint relative to the base URL, unless ``token_url``
            finds it at run time (HaloPSA publishes it at ``/api/authinfo``).
        token_url: coroutine that returns the token endpoint's absolute URL.
        scope: sent as ``scope`` when given (HaloPSA issues useless tokens without it).
        client_auth: where the client id and secret go.
        params: extra form fields.
    """

    token_path: str | None = None
    token_url: TokenURL | None = None
    scope: str | None = None
    client_auth: Literal["body", "basic"] = "body"
    refresh_margin: float = 60.0
    default_lifetime: float = 3600.0
    params: Mapping[str, str] = field(default_factory=dict)
    min_refresh_interval: float = 0.0


AuthFlow = OAuth2Refresh | OAuth2ClientCredentials
