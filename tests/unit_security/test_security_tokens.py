"""Token verification: what a caller with a good, stale, foreign or forged token experiences."""

from __future__ import annotations

import base64
import json
import os
import stat
import time

import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ed25519, rsa

from shared.auth import Unauthorized, Verifier, ensure_dev_keypair, mint_token, token_command
from shared.security_settings import SecuritySettings

ISS, AUD = "canbao", "canbao"


def _pem_pair(key: ed25519.Ed25519PrivateKey | rsa.RSAPrivateKey) -> tuple[bytes, bytes]:
    private = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                serialization.NoEncryption())
    public = key.public_key().public_bytes(serialization.Encoding.PEM,
                                           serialization.PublicFormat.SubjectPublicKeyInfo)
    return private, public


@pytest.fixture(scope="module")
def keys() -> dict[str, tuple[bytes, bytes]]:
    return {
        "ed-1": _pem_pair(ed25519.Ed25519PrivateKey.generate()),
        "ed-2": _pem_pair(ed25519.Ed25519PrivateKey.generate()),
        "rsa-1": _pem_pair(rsa.generate_private_key(public_exponent=65537, key_size=2048)),
        "stranger": _pem_pair(ed25519.Ed25519PrivateKey.generate()),
    }


@pytest.fixture
def verifier(keys: dict[str, tuple[bytes, bytes]]) -> Verifier:
    trusted = {kid: pair[1] for kid, pair in keys.items() if kid != "stranger"}
    return Verifier(trusted, issuer=ISS, audience=AUD, leeway_seconds=5)


def staff(keys: dict[str, tuple[bytes, bytes]], kid: str = "ed-1", **overrides: object) -> str:
    args: dict[str, object] = {"sub": "u-1", "role": "township_staff", "region": "370481001000",
                               "issuer": ISS, "audience": AUD}
    args.update(overrides)
    return mint_token(keys[kid][0], kid, **args)  # type: ignore[arg-type]


def raw_token(keys: dict[str, tuple[bytes, bytes]], kid: str, claims: dict[str, object],
              algorithm: str = "EdDSA") -> str:
    key = serialization.load_pem_private_key(keys[kid][0], None)
    return jwt.encode(claims, key, algorithm=algorithm, headers={"kid": kid})  # type: ignore[arg-type]


def now() -> int:
    return int(time.time())


def test_valid_staff_and_system_tokens(verifier: Verifier, keys) -> None:
    p = verifier.verify(staff(keys))
    assert (p.subject, p.kind, p.role, p.region) == ("u-1", "staff", "township_staff",
                                                     "370481001000")
    officer = verifier.verify(staff(keys, "ed-2", role="department_officer", region="370481",
                                    department="civil_affairs"))
    assert officer.department == "civil_affairs"
    channel = verifier.verify(mint_token(keys["rsa-1"][0], "rsa-1", sub="wechatpay",
                                         scopes=["payments:bills", "payments:notify"],
                                         issuer=ISS, audience=AUD))
    assert channel.is_system and channel.scopes == {"payments:bills", "payments:notify"}
    assert verifier.authenticate(f"Bearer {staff(keys)}").subject == "u-1"


def test_expired_token_refused_even_from_cache(keys) -> None:
    v = Verifier({"ed-1": keys["ed-1"][1]}, issuer=ISS, audience=AUD, leeway_seconds=0)
    expired = raw_token(keys, "ed-1", {"iss": ISS, "aud": AUD, "sub": "u", "exp": now() - 10,
                                       "role": "administrator", "region": "370481"})
    with pytest.raises(Unauthorized, match="expired"):
        v.verify(expired)
    soon = raw_token(keys, "ed-1", {"iss": ISS, "aud": AUD, "sub": "u", "exp": now() + 1,
                                    "role": "administrator", "region": "370481"})
    assert v.verify(soon).role == "administrator"
    time.sleep(1.1)
    with pytest.raises(Unauthorized, match="expired"):
        v.verify(soon)


def test_leeway_accepts_small_clock_skew(verifier: Verifier, keys) -> None:
    token = raw_token(keys, "ed-1", {"iss": ISS, "aud": AUD, "sub": "u", "exp": now() - 2,
                                     "role": "supervisor", "region": "370481"})
    assert verifier.verify(token).role == "supervisor"


@pytest.mark.parametrize("claims, message", [
    ({"aud": "somebody-else"}, "audience"),
    ({"iss": "evil"}, "issuer"),
    ({"exp": None}, "exp"),
    ({"sub": None}, "sub"),
    ({"exp": "tomorrow"}, "number"),
    ({"nbf": 10**10}, "not valid yet"),
    ({"exp": 10**10}, "longer than allowed"),
    ({"role": "emperor"}, "unknown role"),
    ({"region": "37048"}, "region"),
    ({"role": "department_officer"}, "department"),
    ({"role": None, "region": None}, "role"),
])
def test_bad_claims_refused(verifier: Verifier, keys, claims, message) -> None:
    base: dict[str, object] = {"iss": ISS, "aud": AUD, "sub": "u", "exp": now() + 600,
                               "role": "township_staff", "region": "370481001000"}
    base.update(claims)
    token = raw_token(keys, "ed-1", {k: v for k, v in base.items() if v is not None})
    with pytest.raises(Unauthorized, match=message):
        verifier.verify(token)


def test_audience_list_containing_ours_accepted(verifier: Verifier, keys) -> None:
    token = raw_token(keys, "ed-1", {"iss": ISS, "aud": ["other", AUD], "sub": "u",
                                     "exp": now() + 60, "scope": "reporting:read"})
    assert verifier.verify(token).scopes == {"reporting:read"}


def test_unknown_key_and_wrong_kid_refused(verifier: Verifier, keys) -> None:
    with pytest.raises(Unauthorized, match="known key"):
        verifier.verify(staff(keys, "stranger"))
    # Signed by a stranger but claiming a trusted kid: the signature does not match.
    forged = raw_token(keys, "stranger", {"iss": ISS, "aud": AUD, "sub": "u", "exp": now() + 60,
                                          "role": "administrator", "region": "370000"})
    header, payload, signature = forged.split(".")
    relabelled = _b64(json.dumps({"alg": "EdDSA", "kid": "ed-1", "typ": "JWT"}))
    with pytest.raises(Unauthorized, match="signature"):
        verifier.verify(f"{relabelled}.{payload}.{signature}")


def _b64(text: str) -> str:
    return base64.urlsafe_b64encode(text.encode()).decode().rstrip("=")


def test_tampered_payload_refused(verifier: Verifier, keys) -> None:
    header, payload, signature = staff(keys).split(".")
    claims = json.loads(base64.urlsafe_b64decode(payload + "=="))
    claims["role"], claims["region"] = "administrator", "370000"
    with pytest.raises(Unauthorized, match="signature"):
        verifier.verify(f"{header}.{_b64(json.dumps(claims))}.{signature}")


def test_none_and_hmac_algorithms_refused(verifier: Verifier, keys) -> None:
    claims = {"iss": ISS, "aud": AUD, "sub": "u", "exp": now() + 60, "role": "administrator",
              "region": "370000"}
    unsigned = f"{_b64(json.dumps({'alg': 'none', 'kid': 'ed-1'}))}.{_b64(json.dumps(claims))}."
    with pytest.raises(Unauthorized):
        verifier.verify(unsigned)
    unsigned_with_junk = unsigned + "AAAA"
    with pytest.raises(Unauthorized, match="EdDSA"):
        verifier.verify(unsigned_with_junk)
    # HS256 keyed with the public key's PEM: the classic algorithm-confusion forgery.
    hs = jwt.encode(claims, "secret-known-to-attacker-0123456789abcdef", algorithm="HS256",
                    headers={"kid": "rsa-1"})
    with pytest.raises(Unauthorized, match="RS256"):
        verifier.verify(hs)
    # An RSA key never accepts EdDSA and an Ed25519 key never accepts RS256.
    rs_on_ed = raw_token(keys, "rsa-1", claims, algorithm="RS256")
    h, p, s = rs_on_ed.split(".")
    with pytest.raises(Unauthorized, match="EdDSA"):
        verifier.verify(f"{_b64(json.dumps({'alg': 'RS256', 'kid': 'ed-1'}))}.{p}.{s}")


@pytest.mark.parametrize("header", [
    None, "", "Basic dTpw", "Bearer", "Bearer not-a-jwt", "Bearer a.b", "Bearer a.b.c.d",
    "Bearer ...", "Bearer " + "A" * 9000,
])
def test_missing_or_malformed_credentials(verifier: Verifier, header: str | None) -> None:
    with pytest.raises(Unauthorized) as caught:
        verifier.authenticate(header)
    assert caught.value.status_code == 401 and caught.value.code == "unauthenticated"
    assert caught.value.headers["WWW-Authenticate"].startswith("Bearer ")


def test_verification_is_fast_and_cached(verifier: Verifier, keys) -> None:
    tokens = [staff(keys, sub=f"u-{i}") for i in range(300)]
    started = time.perf_counter()
    for token in tokens:
        verifier.verify(token)
    first = (time.perf_counter() - started) / len(tokens)
    started = time.perf_counter()
    for _ in range(10):
        for token in tokens:
            verifier.verify(token)
    cached = (time.perf_counter() - started) / (10 * len(tokens))
    print(f"\nEdDSA verify: {first * 1e6:.0f} µs first time, {cached * 1e6:.1f} µs cached")
    # Generous bounds: shared CI machines are slow; the point is the cache's order of magnitude.
    assert first < 0.005
    assert cached < first / 5


def test_cache_is_bounded(keys) -> None:
    v = Verifier({"ed-1": keys["ed-1"][1]}, issuer=ISS, audience=AUD, cache_size=10)
    for i in range(50):
        v.verify(staff(keys, sub=f"u-{i}"))
    assert len(v._cache) == 10


def test_settings_read_keys_from_env_and_folder(tmp_path, keys, monkeypatch) -> None:
    folder = tmp_path / "keys"
    private_path, public_path, kid = ensure_dev_keypair(folder)
    (tmp_path / "rsa.pem").write_bytes(keys["rsa-1"][1])
    monkeypatch.setenv("CANBAO_JWT_PUBLIC_KEYS_DIR", str(folder))
    monkeypatch.setenv("CANBAO_JWT_PUBLIC_KEYS", json.dumps(
        {"ed-2": keys["ed-2"][1].decode(), "rsa-1": str(tmp_path / "rsa.pem")}))
    monkeypatch.setenv("CANBAO_JWT_AUDIENCE", "canbao-test")
    monkeypatch.setenv("CANBAO_AUTH_ENABLED", "true")
    v = Verifier.from_settings(SecuritySettings())
    assert v.key_ids == {kid, "ed-2", "rsa-1"}
    token = mint_token(private_path.read_bytes(), kid, sub="u", role="finance_officer",
                       region="370481", issuer=ISS, audience="canbao-test")
    assert v.verify(token).role == "finance_officer"
    assert SecuritySettings().problems_for("production") == []
    monkeypatch.setenv("CANBAO_AUTH_ENABLED", "false")
    assert SecuritySettings().problems_for("production")
    assert SecuritySettings().problems_for("development") == []


def test_dev_keypair_created_once_with_private_key_0600(tmp_path) -> None:
    first = ensure_dev_keypair(tmp_path / "keys")
    assert ensure_dev_keypair(tmp_path / "keys") == first
    private_path, public_path, kid = first
    assert stat.S_IMODE(os.stat(private_path).st_mode) == 0o600
    assert public_path.name == f"{kid}.pub.pem"


def test_token_command_prints_a_verifiable_token(tmp_path, capsys) -> None:
    folder = tmp_path / "keys"
    assert token_command(["--role", "township_staff", "--region", "370481001000",
                          "--keys-dir", str(folder), "--ttl", "600"]) == 0
    token = capsys.readouterr().out.strip()
    _, public_path, kid = ensure_dev_keypair(folder)
    v = Verifier({kid: public_path.read_bytes()}, issuer=ISS, audience=AUD)
    p = v.verify(token)
    assert (p.role, p.region, p.subject) == ("township_staff", "370481001000",
                                             "township_staff@370481001000")
    assert token_command(["--scope", "payments:bills pii:read", "--sub", "tax-hall",
                          "--keys-dir", str(folder)]) == 0
    assert v.verify(capsys.readouterr().out.strip()).scopes == {"payments:bills", "pii:read"}
    assert token_command(["--role", "township_staff", "--region", "3704810",
                          "--keys-dir", str(folder)]) == 2
    with pytest.raises(SystemExit):
        token_command(["--role", "department_officer", "--region", "370481",
                       "--department", "ministry_of_magic", "--keys-dir", str(folder)])
