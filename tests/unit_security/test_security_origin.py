"""The request's own origin, as the access check reads it from the ASGI scope (the Origin check
of cookie-authenticated writes compares against it): the same as Starlette's `request.url`
gives, for a Host header, for no Host header on default and other ports."""

from __future__ import annotations

from typing import Any

import pytest
from starlette.datastructures import Headers
from starlette.requests import Request

from shared.route_access import _own_origin


@pytest.mark.parametrize("scheme,server,host", [
    ("http", ("10.0.0.1", 80), b"canbao.example.cn"),
    ("https", ("10.0.0.1", 443), b"canbao.example.cn:8443"),
    ("http", ("10.0.0.1", 80), None),
    ("https", ("10.0.0.1", 443), None),
    ("http", ("10.0.0.1", 8000), None),
    ("https", ("10.0.0.1", 80), None),
])
def test_own_origin_is_what_starlette_makes_of_the_url(scheme: str, server: tuple[str, int],
                                                       host: bytes | None) -> None:
    scope: dict[str, Any] = {"type": "http", "scheme": scheme, "server": server, "path": "/v1/x",
                             "query_string": b"", "root_path": "", "method": "POST",
                             "headers": [(b"host", host)] if host else []}
    url = Request(scope).url
    assert _own_origin(scope, Headers(scope=scope)) == f"{url.scheme}://{url.netloc}"
