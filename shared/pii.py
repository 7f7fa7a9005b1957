"""Personal data at rest: identity numbers (and phone numbers in events) are stored encrypted
and looked up by a keyed hash, so the database never holds them in the clear and the hash
cannot be reversed by enumerating the 10^17 possible numbers without the key.

Two suites, chosen per key by `CANBAO_PII_SUITE` (shared/settings.py):

    aes   AES-256-GCM, keyed hash HMAC-SHA256
    sm4   SM4-GCM (GB/T 32907), keyed hash HMAC-SM3 (GB/T 32905), key derivation with SM3:
          what a commercial-cryptography assessment (商用密码应用安全性评估) of a government
          system expects

Keys have versions. Every ciphertext and every keyed hash starts with the version and suite
of its key, `v<version>.<suite>:` (`v2.sm4:3f9a...`), so that a reader knows which key opens
it. Writes use the current key; reads accept every configured one (`CANBAO_PII_PREVIOUS_KEYS`);
a lookup by ID number tries the hash of every configured version, so people are found while
`canbao pii rotate` moves the stored values from one key (and suite) to the next.

Values written before keys had versions have no prefix: they are version 1 under AES (the
derivation is unchanged), readable while a version-1 `aes` key is configured.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import os
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import TYPE_CHECKING, Protocol

from cryptography.exceptions import InvalidTag, UnsupportedAlgorithm
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives import hmac as crypto_hmac
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from shared.idnumber import normalize_id_text

if TYPE_CHECKING:
    from shared.settings import Settings

SUITES = ("aes", "sm4")
SUITE_NAMES = {"aes": "AES-256-GCM + HMAC-SHA256", "sm4": "SM4-GCM + HMAC-SM3"}
LEGACY = "v1.aes"  # what a value without a prefix is
_AAD = b"canbao-pii"
_NONCE = 12
_TAG = 16


class PiiKeyError(ValueError):
    """A stored value names a key version this process does not hold, or does not open."""


class _Suite(Protocol):
    def seal(self, nonce: bytes, plaintext: bytes, aad: bytes) -> bytes: ...
    def open(self, nonce: bytes, sealed: bytes, aad: bytes) -> bytes: ...
    def mac(self, data: bytes) -> str: ...


class _Aes:
    """AES-256-GCM; keys derived from the secret with HMAC-SHA256 (as before versions)."""

    def __init__(self, secret: bytes) -> None:
        self._aead = AESGCM(hmac.new(secret, b"canbao/encryption/v1", hashlib.sha256).digest())
        self._hash_key = hmac.new(secret, b"canbao/lookup-hash/v1", hashlib.sha256).digest()

    def seal(self, nonce: bytes, plaintext: bytes, aad: bytes) -> bytes:
        return self._aead.encrypt(nonce, plaintext, aad)

    def open(self, nonce: bytes, sealed: bytes, aad: bytes) -> bytes:
        return self._aead.decrypt(nonce, sealed, aad)

    def mac(self, data: bytes) -> str:
        return hmac.new(self._hash_key, data, hashlib.sha256).hexdigest()


def _hmac_sm3(key: bytes, data: bytes) -> bytes:
    h = crypto_hmac.HMAC(key, hashes.SM3())
    h.update(data)
    return h.finalize()


class _Sm4:
    """SM4-GCM (128-bit key, 96-bit nonce, 128-bit tag) and HMAC-SM3; keys derived from the
    secret with HMAC-SM3, so no algorithm outside the national suite touches the data."""

    def __init__(self, secret: bytes) -> None:
        self._key = _hmac_sm3(secret, b"canbao/sm4-gcm/encryption")[:16]
        self._hash_key = _hmac_sm3(secret, b"canbao/hmac-sm3/lookup-hash")

    def seal(self, nonce: bytes, plaintext: bytes, aad: bytes) -> bytes:
        enc = Cipher(algorithms.SM4(self._key), modes.GCM(nonce)).encryptor()
        enc.authenticate_additional_data(aad)
        return enc.update(plaintext) + enc.finalize() + enc.tag

    def open(self, nonce: bytes, sealed: bytes, aad: bytes) -> bytes:
        if len(sealed) < _TAG:
            raise InvalidTag()
        dec = Cipher(algorithms.SM4(self._key), modes.GCM(nonce, sealed[-_TAG:])).decryptor()
        dec.authenticate_additional_data(aad)
        return dec.update(sealed[:-_TAG]) + dec.finalize()

    def mac(self, data: bytes) -> str:
        return _hmac_sm3(self._hash_key, data).hex()


def sm4_available() -> str | None:
    """None when SM4-GCM and HMAC-SM3 work with the installed `cryptography` and OpenSSL,
    else why not."""
    try:
        _Sm4(b"probe").open(b"\0" * _NONCE, _Sm4(b"probe").seal(b"\0" * _NONCE, b"x", b""), b"")
    except (UnsupportedAlgorithm, AttributeError, ValueError, InvalidTag) as exc:
        return f"SM4-GCM / HMAC-SM3 are not available here ({type(exc).__name__}: {exc})"
    return None


@dataclass(frozen=True)
class PiiKey:
    version: int
    suite: str
    secret: str

    @property
    def label(self) -> str:
        return f"v{self.version}.{self.suite}"


def label_of(token: str) -> str:
    """The `v<version>.<suite>` a stored ciphertext or hash was made with."""
    head, sep, _ = token.partition(":")
    return head if sep else LEGACY


class PiiVault:
    """Encrypts, decrypts and hashes personal data with a ring of versioned keys.

    `PiiVault("secret")` is a ring of one key, version 1, AES (tests, tools)."""

    def __init__(self, keys: str | Sequence[PiiKey], current: int | None = None) -> None:
        if isinstance(keys, str):
            keys = (PiiKey(1, "aes", keys),)
        if not keys:
            raise ValueError("a PII vault needs at least one key")
        self.keys: tuple[PiiKey, ...] = tuple(keys)
        by_version = {k.version: k for k in keys}
        if len(by_version) != len(keys):
            raise ValueError("two PII keys have the same version")
        self.current = by_version[current if current is not None else keys[0].version]
        self._suites: dict[str, _Suite] = {}
        for key in keys:
            if key.suite not in SUITES:
                raise ValueError(f"unknown PII suite {key.suite!r}: choose among {SUITES}")
            if key.suite == "sm4" and (why := sm4_available()):
                raise ValueError(why)
            self._suites[key.label] = (_Aes if key.suite == "aes" else _Sm4)(key.secret.encode())
        self.prefix = self.current.label + ":"
        # the current version first: most lookups find people there
        self._labels = [self.current.label, *(k.label for k in keys if k is not self.current)]

    @property
    def labels(self) -> list[str]:
        """Every configured `v<version>.<suite>`, the current one first."""
        return list(self._labels)

    def is_current(self, token: str | None) -> bool:
        """True when `token` (a ciphertext or a hash) was made with the current key."""
        return token is None or token.startswith(self.prefix)

    # --- keyed hashes ---------------------------------------------------------------------

    def lookup_hash(self, id_number: str) -> str:
        """The keyed hash an ID number is stored under now (current key)."""
        normal = normalize_id_text(id_number).encode()
        return self.prefix + self._suites[self.current.label].mac(normal)

    def lookup_hashes(self, id_number: str) -> list[str]:
        """Every hash the ID number may be stored under: one per configured key version (the
        current first), and the unprefixed form of values written before versions existed.
        A lookup matches any of them (`WHERE id_number_hash = ANY(:hashes)`)."""
        normal = normalize_id_text(id_number).encode()
        out = [f"{label}:{self._suites[label].mac(normal)}" for label in self._labels]
        if LEGACY in self._suites:
            out.append(self._suites[LEGACY].mac(normal))
        return out

    def hash_index(self, id_numbers: Iterable[str]) -> dict[str, str]:
        """Hash -> ID number, with every hash each number may be stored under."""
        return {h: i for i in id_numbers for h in self.lookup_hashes(i)}

    # --- encryption -------------------------------------------------------------------------

    def encrypt(self, plaintext: str) -> str:
        nonce = os.urandom(_NONCE)
        label = self.current.label
        sealed = self._suites[label].seal(nonce, plaintext.encode(), _AAD + b"|" + label.encode())
        return f"{label}:" + base64.b64encode(nonce + sealed).decode()

    def decrypt(self, token: str) -> str:
        head, sep, body = token.partition(":")
        label, aad = (head, _AAD + b"|" + head.encode()) if sep else (LEGACY, _AAD)
        if not sep:
            body = head
        suite = self._suites.get(label)
        if suite is None:
            raise PiiKeyError(f"personal data sealed with key {label}, which is not configured "
                              "(CANBAO_PII_KEY / CANBAO_PII_PREVIOUS_KEYS)")
        try:
            raw = base64.b64decode(body, validate=True)
            return suite.open(raw[:_NONCE], raw[_NONCE:], aad).decode()
        except (InvalidTag, ValueError) as exc:
            raise PiiKeyError(f"personal data under key {label} does not open with the "
                              "configured key of that version") from exc


@lru_cache(maxsize=8)
def _vault(keys: tuple[PiiKey, ...], current: int) -> PiiVault:
    return PiiVault(keys, current)


def vault_for(source: Settings | str) -> PiiVault:
    """The vault for these settings (every configured key version; the current one writes),
    or, given a bare secret, a vault of that one key as version 1 AES."""
    if isinstance(source, str):
        return _vault((PiiKey(1, "aes", source),), 1)
    return _vault(tuple(PiiKey(v, s, k) for v, s, k in source.pii_keyring()),
                  source.pii_key_version)
