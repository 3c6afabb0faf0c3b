"""Onboarding a licence: the authorization-code exchange, at the callback's ``api_url``.

The engine only ever refreshes; turning the OAuth callback into the connection's
first refresh token is the onboarding application's job. This builds that one
request, after the same ``api_url`` check the provider applies, so the client
secret never goes to a host the deployment does not trust::

    request = code_exchange(callback["api_url"], callback["code"], client_id=...,
                            client_secret=..., redirect_uri=..., options=options)
    # send it (form-encoded POST) within the code's two minutes; keep
    # refresh_token, and api_url as the connection's base_url.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from replicator.types import Request
from replicator_horus.options import HorusOptions


def code_exchange(api_url: str, code: str, *, client_id: str, client_secret: str, redirect_uri: str,
                  options: Mapping[str, Any]) -> Request:
    """The token request for ``code``, POSTed to ``{api_url}/oauth2/access_token``.

    Raises:
        ConfigError: ``api_url`` is refused by the connection's options (see
            :meth:`HorusOptions.check_api_url`); nothing should be sent.
    """
    url = HorusOptions.parse(options).check_api_url(api_url)
    # "auth_code", not RFC 6749's "authorization_code": the seed's value.
    form = {"grant_type": "auth_code", "code": code, "client_id": client_id,
            "client_secret": client_secret, "redirect_uri": redirect_uri}
    return Request("POST", f"{url}/oauth2/access_token",
                   headers={"Content-Type": "application/x-www-form-urlencoded"}, form=form)
