"""check_status: what a non-2xx status means, for every provider alike."""

from __future__ import annotations

import re

import pytest

from replicator.errors import ClientError, Where
from replicator.http.transport import check_status
from replicator.types import Response


@pytest.mark.parametrize(("headers", "shown"), [({"Location": "https://evil.example/login"},
                                                  "https://evil.example/login"), ({}, "(no Location)")])
def test_a_redirect_is_a_client_error_naming_where_it_pointed(headers: dict[str, str], shown: str) -> None:
    with pytest.raises(ClientError, match=re.escape(f"302 redirect to {shown} refused")):
        check_status(Response(302, headers, b"", "https://api.example/x"), Where())


def test_2xx_passes() -> None:
    check_status(Response(204, {}, b"", "https://api.example/x"), Where())
