"""An OpenID provider's discovery document (`<issuer>/.well-known/openid-configuration`):
its endpoints and JWKS URL, fetched once and kept.

`discovery_url` may differ from the issuer's own address: in docker-compose the services reach
Keycloak as http://keycloak:8080 while browsers (and the tokens' `iss`) use the public name.
"""

from __future__ import annotations

import threading
from typing import Any

import httpx

WELL_KNOWN = "/.well-known/openid-configuration"


class ProviderUnavailable(RuntimeError):
    """The discovery document could not be fetched or is not the issuer's."""


class OidcProvider:
    def __init__(self, issuer: str, discovery_url: str | None = None, *,
                 timeout: float = 5.0) -> None:
        self.issuer = issuer
        self.discovery_url = discovery_url or issuer.rstrip("/") + WELL_KNOWN
        self.timeout = timeout
        self._metadata: dict[str, Any] | None = None
        self._lock = threading.Lock()

    def metadata(self) -> dict[str, Any]:
        """The discovery document (blocking on the first call; call it in a thread from async
        code). ProviderUnavailable when it cannot be had or names another issuer."""
        if self._metadata is not None:
            return self._metadata
        with self._lock:
            if self._metadata is None:
                try:
                    answer = httpx.get(self.discovery_url, timeout=self.timeout,
                                       follow_redirects=False)
                    answer.raise_for_status()
                    data = answer.json()
                except (httpx.HTTPError, ValueError) as exc:
                    raise ProviderUnavailable(
                        f"OpenID discovery at {self.discovery_url} failed: {exc}") from exc
                if not isinstance(data, dict) or data.get("issuer") != self.issuer:
                    raise ProviderUnavailable(
                        f"{self.discovery_url} describes issuer {data.get('issuer')!r}, "
                        f"not {self.issuer!r}" if isinstance(data, dict) else
                        f"{self.discovery_url} is not a discovery document")
                for name in ("authorization_endpoint", "token_endpoint", "jwks_uri"):
                    if not isinstance(data.get(name), str):
                        raise ProviderUnavailable(f"the discovery document lacks {name}")
                self._metadata = data
        return self._metadata

    def jwks_uri(self) -> str:
        return str(self.metadata()["jwks_uri"])

    def endpoint(self, name: str) -> str | None:
        value = self.metadata().get(name)
        return value if isinstance(value, str) else None
