"""The public keys bearer tokens are verified with, and the one algorithm each accepts.

Two sources, used together: keys configured by hand (PEM, by key id: the development key in
`.canbao/keys` is loaded this way) and the provider's JWKS URL, fetched with PyJWT's
`PyJWKClient`, kept for a while and fetched again when a token names a key id it does not hold
(a rotation), at most once per cooldown. Each key fixes its algorithm (its JWK `alg`, else what
its type implies: RSA -> RS256, Ed25519 -> EdDSA, P-256 -> ES256); RSA keys need 2048 bits.
Verification itself is shared/tokens.py.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterable, Mapping
from typing import Any

import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa

log = logging.getLogger(__name__)

DEFAULT_ALGORITHMS = ("EdDSA", "RS256", "PS256", "ES256")

PublicKey = ed25519.Ed25519PublicKey | rsa.RSAPublicKey | ec.EllipticCurvePublicKey
KeyEntry = tuple[Any, str]  # (key object PyJWT accepts, the one algorithm it signs with)


def _algorithm_for(key: Any) -> str:
    if isinstance(key, ed25519.Ed25519PublicKey):
        return "EdDSA"
    if isinstance(key, rsa.RSAPublicKey):
        if key.key_size < 2048:
            raise ValueError("RSA keys must have at least 2048 bits")
        return "RS256"
    if isinstance(key, ec.EllipticCurvePublicKey):
        return {"secp256r1": "ES256", "secp384r1": "ES384"}.get(key.curve.name, "")
    raise ValueError(f"unsupported public key type {type(key).__name__}: use Ed25519, RSA or EC")


def load_public_key(value: bytes | str | PublicKey) -> KeyEntry:
    """A PEM public key (or key object) and the one algorithm it verifies."""
    key: Any = value
    if isinstance(value, str | bytes):
        key = serialization.load_pem_public_key(value.encode() if isinstance(value, str) else value)
    return key, _algorithm_for(key)


def keys_from_jwks(data: Mapping[str, Any], allowed: Iterable[str]) -> dict[str, KeyEntry]:
    """The signing keys of a JWK set (a JSON object with "keys") whose algorithm is allowed;
    encryption keys, keys without a kid and keys PyJWT cannot use are skipped."""
    allowed = frozenset(allowed)
    keys: dict[str, KeyEntry] = {}
    for jwk in data.get("keys", []) if isinstance(data, Mapping) else []:
        if not isinstance(jwk, Mapping) or not isinstance(jwk.get("kid"), str):
            continue
        if jwk.get("use", "sig") != "sig":
            continue
        try:
            parsed = jwt.PyJWK(dict(jwk))
            algorithm = jwk.get("alg") or _algorithm_for(parsed.key)
            if algorithm == "RS256" or algorithm.startswith("PS"):
                _algorithm_for(parsed.key)  # RSA key size
        except (jwt.PyJWKError, jwt.InvalidKeyError, ValueError, TypeError):
            log.warning("JWKS key %s skipped: not usable", jwk.get("kid"))
            continue
        if algorithm in allowed:
            keys[jwk["kid"]] = (parsed.key, algorithm)
    return keys


class JwksKeys:
    """The provider's key set, fetched with PyJWKClient: kept `lifespan` seconds, fetched again
    for an unknown key id (rotation) at most once per `cooldown` seconds. `url` may be a
    callable (the discovery document's `jwks_uri`, resolved when first needed)."""

    def __init__(self, url: str | Callable[[], str], *, algorithms: Iterable[str],
                 lifespan: float = 300, cooldown: float = 30, timeout: float = 5) -> None:
        self._url = url
        self.algorithms = frozenset(algorithms)
        self.lifespan = lifespan
        self.cooldown = cooldown
        self.timeout = timeout
        self._keys: dict[str, KeyEntry] = {}
        self._fetched_at = float("-inf")  # last attempt, successful or not
        self._loaded_at = float("-inf")   # last successful fetch
        self._lock = threading.Lock()
        self.fetches = 0

    @property
    def url(self) -> str:
        return self._url() if callable(self._url) else self._url

    def would_fetch(self, kid: str | None) -> bool:
        """True when `get(kid)` would go to the network (callers in an event loop then call
        it in a thread)."""
        now = time.monotonic()
        if now - self._loaded_at > self.lifespan and now - self._fetched_at >= self.cooldown:
            return True
        return kid not in self._keys and now - self._fetched_at >= self.cooldown

    def get(self, kid: str) -> KeyEntry | None:
        if self.would_fetch(kid):
            self.refresh()
        return self._keys.get(kid)

    def refresh(self) -> None:
        seen = self.fetches
        with self._lock:
            if self.fetches != seen:
                return  # another thread fetched while this one waited
            self._fetched_at = time.monotonic()
            self.fetches += 1
            try:
                client = jwt.PyJWKClient(self.url, cache_jwk_set=False, timeout=self.timeout)
                data = client.fetch_data()
            except Exception as exc:  # provider down: keep the keys we have
                log.warning("JWKS fetch failed (%s): keeping %d known keys", exc,
                            len(self._keys))
                return
            self._keys = keys_from_jwks(data, self.algorithms)
            self._loaded_at = self._fetched_at

    @property
    def key_ids(self) -> frozenset[str]:
        return frozenset(self._keys)
