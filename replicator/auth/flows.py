"""How a provider's connections obtain access tokens, declared as data.

A provider's ``auth()`` returns one of these; :class:`~replicator.auth.TokenManager`
carries it out. Only the refresh-token grant is needed so far (Exact Online); the
client-credentials grant joins when a provider needs it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal


@dataclass(frozen=True, slots=True)
class OAuth2Refresh:
    """OAuth2 with a long-lived, rotating refresh token.

    Attributes:
        token_path: the token endpoint, relative to the connection's base URL.
        client_auth: where the client id and secret go: the form body or HTTP Basic.
        refresh_margin: refresh this many seconds before the access token expires.
        min_refresh_interval: never refresh sooner than this after the last refresh
            (Exact refuses a refresh within 570 s of the previous one).
        default_lifetime: the lifetime assumed when the response gives none.
    """

    token_path: str
    client_auth: Literal["body", "basic"] = "body"
    refresh_margin: float = 30.0
    min_refresh_interval: float = 0.0
    default_lifetime: float = 600.0


AuthFlow = OAuth2Refresh
