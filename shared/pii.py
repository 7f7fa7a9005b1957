"""Personal data at rest: identity numbers are stored encrypted (AES-256-GCM) and looked up
by a keyed hash (HMAC-SHA256), so the database never holds them in the clear and the hash
cannot be reversed by enumerating the 10^17 possible numbers without the key."""

from __future__ import annotations

import base64
import hashlib
import hmac
import os
from functools import lru_cache

from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from shared.idnumber import normalize_id_text


class PiiVault:
    def __init__(self, secret: str) -> None:
        root = secret.encode()
        self._hash_key = hmac.new(root, b"canbao/lookup-hash/v1", hashlib.sha256).digest()
        self._aead = AESGCM(hmac.new(root, b"canbao/encryption/v1", hashlib.sha256).digest())

    def lookup_hash(self, id_number: str) -> str:
        """Deterministic keyed hash (hex) used to find a person by ID number."""
        normal = normalize_id_text(id_number)
        return hmac.new(self._hash_key, normal.encode(), hashlib.sha256).hexdigest()

    def encrypt(self, plaintext: str) -> str:
        nonce = os.urandom(12)
        sealed = self._aead.encrypt(nonce, plaintext.encode(), b"canbao-pii")
        return base64.b64encode(nonce + sealed).decode()

    def decrypt(self, token: str) -> str:
        raw = base64.b64decode(token)
        return self._aead.decrypt(raw[:12], raw[12:], b"canbao-pii").decode()


@lru_cache(maxsize=4)
def vault_for(secret: str) -> PiiVault:
    return PiiVault(secret)
