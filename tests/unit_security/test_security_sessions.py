"""Browser sessions and cross-site writes: the signed session cookie, the Origin check on every
cookie-authenticated write, the sign-in redirect for pages, provider claim layouts, and keys
picked up from a JWKS URL (served here by a real HTTP server on loopback)."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import httpx
import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ed25519, rsa
from fastapi import Depends, FastAPI
from jwt.algorithms import OKPAlgorithm, RSAAlgorithm

from shared.access import allow
from shared.auth import (
    TOKEN_COOKIE,
    AccessControl,
    JwksKeys,
    Principal,
    PrincipalDep,
    Unauthorized,
    Verifier,
    enforce_access,
    install_access_control,
    mint_token,
)
from shared.errors import Forbidden, install_error_handlers
from shared.principals import ClaimNames, principal_from_claims
from shared.web_session import SESSION_COOKIE, SessionSigner, check_origin, origin_of

OFFICER = Principal(subject="u-1", kind="staff", role="medical_insurance_officer",
                    region="370481")


# --- the session cookie --------------------------------------------------------------------

def test_session_round_trip_and_tampering() -> None:
    signer = SessionSigner(b"k" * 32)
    value = signer.session_value(OFFICER)
    back = signer.principal(value)
    assert back is not None
    assert (back.subject, back.role, back.region) == ("u-1", "medical_insurance_officer",
                                                      "370481")
    version, body, mac = value.split(".")
    claims = json.loads(jwt.utils.base64url_decode(body))
    claims["role"], claims["region"] = "administrator", "000000"
    forged_body = jwt.utils.base64url_encode(json.dumps(claims).encode()).decode()
    assert signer.principal(f"{version}.{forged_body}.{mac}") is None
    assert SessionSigner(b"x" * 32).principal(value) is None  # another secret
    assert signer.principal(None) is None and signer.principal("junk") is None
    # signed for another purpose (the sign-in flow's state): not a session
    assert signer.principal(signer.sign("signin", {"sub": "u"}, 60)) is None
    assert signer.unsign("session", signer.sign("session", {"a": 1}, -1)) is None  # expired


def test_a_session_signed_after_its_subjects_revocation_in_the_same_second_is_valid(
        monkeypatch: pytest.MonkeyPatch) -> None:
    """Revoking a subject's sessions ends those issued up to that moment, not the one its
    owner signs in with 0.2 s later, in the same second (session times were whole seconds)."""
    from shared.session_revocation import SessionRevocations

    signer = SessionSigner(b"k" * 32)
    revocations = SessionRevocations("postgresql://unused")
    clock = [1_700_000_000.5]
    monkeypatch.setattr(time, "time", lambda: clock[0])
    before = signer.principal(signer.session_value(OFFICER))
    revocations._subjects[OFFICER.subject] = 1_700_000_000.6  # what a refresh loads
    clock[0] = 1_700_000_000.8
    after = signer.principal(signer.session_value(OFFICER))
    assert before is not None and after is not None
    assert revocations.is_revoked(before) and not revocations.is_revoked(after)


# --- the Origin check ------------------------------------------------------------------------

OWN = "https://canbao.example.gov.cn"


@pytest.mark.parametrize("method", ["GET", "HEAD", "OPTIONS"])
def test_reads_need_no_origin(method: str) -> None:
    check_origin(method, None, None, frozenset(), OWN)


@pytest.mark.parametrize("origin, referer", [
    (OWN, None), (OWN + ":443", None), ("HTTPS://CANBAO.example.gov.cn", None),
    (None, OWN + "/dashboard?x=1"),
])
def test_own_origin_passes(origin: str | None, referer: str | None) -> None:
    check_origin("POST", origin, referer, frozenset(), OWN)


@pytest.mark.parametrize("origin, referer", [
    ("https://evil.example", None), ("null", None), (None, None),
    (None, "https://evil.example/x"), ("http://canbao.example.gov.cn", None),
    ("https://canbao.example.gov.cn.evil.example", None), ("https://evil.example", OWN + "/"),
])
@pytest.mark.parametrize("method", ["POST", "PUT", "PATCH", "DELETE"])
def test_foreign_or_missing_origin_refused(method: str, origin: str | None,
                                           referer: str | None) -> None:
    with pytest.raises(Forbidden) as caught:
        check_origin(method, origin, referer, frozenset(), OWN)
    assert caught.value.code == "forbidden_origin"


def test_configured_origins_replace_the_requests_own() -> None:
    allowed = frozenset({origin_of("https://portal.example.gov.cn")})
    check_origin("POST", "https://portal.example.gov.cn", None, allowed, OWN)
    with pytest.raises(Forbidden):
        check_origin("POST", OWN, None, allowed, OWN)


# --- through FastAPI -------------------------------------------------------------------------

@pytest.fixture(scope="module")
def signing() -> tuple[bytes, Verifier]:
    key = ed25519.Ed25519PrivateKey.generate()
    private = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                serialization.NoEncryption())
    public = key.public_key().public_bytes(serialization.Encoding.PEM,
                                           serialization.PublicFormat.SubjectPublicKeyInfo)
    return private, Verifier({"k1": public}, issuer="canbao", audience="canbao")


SIGNER = SessionSigner(b"s" * 32)


def cookie_app(verifier: Verifier) -> FastAPI:
    app = FastAPI(dependencies=[Depends(enforce_access)])
    install_error_handlers(app)
    install_access_control(app, AccessControl(
        verifier=verifier, sessions=SIGNER,
        rules={("GET", "/page"): allow("medical_insurance_officer"),
               ("POST", "/v1/upload"): allow("medical_insurance_officer"),
               ("DELETE", "/v1/things/{id}"): allow("medical_insurance_officer")}))

    @app.get("/page")
    async def page(principal: PrincipalDep) -> dict[str, str]:
        return {"who": principal.subject}

    @app.post("/v1/upload")
    async def upload(principal: PrincipalDep) -> dict[str, str]:
        return {"stored_for": principal.subject}

    @app.delete("/v1/things/{id}")
    async def delete(id: str) -> dict[str, str]:  # noqa: A002
        return {"deleted": id}

    return app


async def test_cookie_writes_checked_for_origin_bearer_not(signing) -> None:  # noqa: ANN001
    private, verifier = signing
    token = mint_token(private, "k1", sub="u-1", role="medical_insurance_officer",
                       region="370481", issuer="canbao", audience="canbao")
    own = "http://canbao.test"
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=cookie_app(verifier)),
                                 base_url=own) as client:
        for cookies in ({SESSION_COOKIE: SIGNER.session_value(OFFICER)}, {TOKEN_COOKIE: token}):
            client.cookies.clear()
            client.cookies.update(cookies)
            assert (await client.get("/page")).json() == {"who": "u-1"}
            for method, path in (("POST", "/v1/upload"), ("DELETE", "/v1/things/7")):
                for headers in ({"origin": "https://evil.example"}, {}):
                    r = await client.request(method, path, headers=headers)
                    assert r.status_code == 403, (cookies.keys(), method, headers)
                    assert r.json()["error"]["code"] == "forbidden_origin"
                r = await client.request(method, path, headers={"origin": own})
                assert r.status_code == 200
            r = await client.post("/v1/upload", headers={"referer": own + "/dashboard"})
            assert r.status_code == 200
        client.cookies.clear()
        r = await client.post("/v1/upload", headers={"origin": "https://evil.example",
                                                     "authorization": f"Bearer {token}"})
        assert r.status_code == 200 and r.json() == {"stored_for": "u-1"}


async def test_pages_send_browsers_to_sign_in_apis_answer_401(signing) -> None:  # noqa: ANN001
    _, verifier = signing
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=cookie_app(verifier)),
                                 base_url="http://canbao.test") as client:
        r = await client.get("/page", params={"a": "1"}, headers={"accept": "text/html"})
        assert r.status_code == 303 and r.headers["location"] == "/auth/login?next=%2Fpage%3Fa%3D1"
        r = await client.get("/page", headers={"accept": "application/json"})
        assert r.status_code == 401 and r.json()["error"]["code"] == "unauthenticated"
        # a forged or stale session: 401 for programs, sign-in (and the cookie dropped) for pages
        client.cookies.set(SESSION_COOKIE, SessionSigner(b"z" * 32).session_value(OFFICER))
        r = await client.get("/page")
        assert r.status_code == 401
        r = await client.get("/page", headers={"accept": "text/html"})
        assert r.status_code == 303 and 'canbao_session=""' in r.headers["set-cookie"]


# --- provider claim layouts ------------------------------------------------------------------

KEYCLOAK = ClaimNames(role="realm_access.roles")


def test_keycloak_roles_list() -> None:
    claims: dict[str, Any] = {"sub": "kc-1", "exp": 1, "region": "370481001000",
                              "scope": "openid profile",
                              "realm_access": {"roles": ["offline_access", "township_staff",
                                                         "default-roles-canbao"]}}
    p = principal_from_claims(claims, KEYCLOAK)
    assert (p.kind, p.role, p.region) == ("staff", "township_staff", "370481001000")
    with pytest.raises(ValueError, match="more than one"):
        principal_from_claims({**claims, "realm_access": {
            "roles": ["township_staff", "administrator"]}}, KEYCLOAK)
    # a service account: no canbao role, its scopes make it a system caller
    system = principal_from_claims({"sub": "svc", "exp": 1, "scope": "payments:bills",
                                    "realm_access": {"roles": ["offline_access"]}}, KEYCLOAK)
    assert system.is_system and system.scopes == {"payments:bills"}
    namespaced = ClaimNames(role="https://canbao.gov.cn/role", region="attrs.region")
    p = principal_from_claims({"sub": "x", "https://canbao.gov.cn/role": "supervisor",
                               "attrs": {"region": ["370481"]}}, namespaced)
    assert (p.role, p.region) == ("supervisor", "370481")


# --- keys from a JWKS URL --------------------------------------------------------------------

class _Jwks:
    def __init__(self) -> None:
        self.keys: list[dict[str, Any]] = []
        self.requests = 0


@pytest.fixture
def jwks_server() -> Iterator[tuple[str, _Jwks]]:
    served = _Jwks()

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # noqa: N802
            served.requests += 1
            body = json.dumps({"keys": served.keys}).encode()
            self.send_response(200)
            self.send_header("content-type", "application/json")
            self.send_header("content-length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/jwks", served
    finally:
        server.shutdown()


def _jwk(key: Any, kid: str, **extra: str) -> dict[str, Any]:
    algorithm = OKPAlgorithm if isinstance(key, ed25519.Ed25519PrivateKey) else RSAAlgorithm
    jwk = json.loads(algorithm.to_jwk(key.public_key()))
    jwk.update(kid=kid, **extra)
    return jwk


def _token(key: Any, kid: str, algorithm: str, **claims: Any) -> str:
    base = {"iss": "idp", "aud": "canbao", "sub": "u", "exp": int(time.time()) + 300,
            "role": "supervisor", "region": "370481"}
    return jwt.encode({**base, **claims}, key, algorithm=algorithm, headers={"kid": kid})


def test_rotation_picked_up_and_unknown_kids_do_not_hammer(jwks_server) -> None:  # noqa: ANN001
    url, served = jwks_server
    old = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    new = ed25519.Ed25519PrivateKey.generate()
    served.keys = [_jwk(old, "old", alg="RS256", use="sig"),
                   _jwk(old, "enc", alg="RSA-OAEP", use="enc")]
    keys = JwksKeys(url, algorithms=["RS256", "EdDSA"], cooldown=0)
    verifier = Verifier(issuer="idp", audience="canbao", jwks=keys)
    assert verifier.verify(_token(old, "old", "RS256")).role == "supervisor"
    assert keys.key_ids == {"old"} and served.requests == 1
    # the provider rotates: a token under the new key makes us fetch the set again
    served.keys = [_jwk(new, "new"), _jwk(old, "old", alg="RS256")]
    assert verifier.verify(_token(new, "new", "EdDSA", sub="v")).subject == "v"
    assert served.requests == 2 and keys.key_ids == {"new", "old"}
    # the encryption key, and the signing key under another algorithm, are refused
    with pytest.raises(Unauthorized, match="known key"):
        verifier.verify(_token(old, "enc", "RS256"))
    with pytest.raises(Unauthorized, match="RS256"):
        verifier.verify(_token(old, "old", "PS256"))

    # with a cooldown, made-up key ids cost no fetch
    calm = Verifier(issuer="idp", audience="canbao",
                    jwks=JwksKeys(url, algorithms=["RS256", "EdDSA"], cooldown=3600))
    calm.verify(_token(new, "new", "EdDSA"))
    before = served.requests
    for i in range(20):
        with pytest.raises(Unauthorized, match="known key"):
            calm.verify(_token(new, f"made-up-{i}", "EdDSA"))
    assert served.requests == before


def test_algorithm_allow_list(jwks_server) -> None:  # noqa: ANN001
    url, served = jwks_server
    key = ed25519.Ed25519PrivateKey.generate()
    served.keys = [_jwk(key, "ed")]
    only_rsa = Verifier(issuer="idp", audience="canbao",
                        jwks=JwksKeys(url, algorithms=["RS256"], cooldown=0),
                        algorithms=["RS256"])
    with pytest.raises(Unauthorized):
        only_rsa.verify(_token(key, "ed", "EdDSA"))


def test_production_needs_real_identity_settings() -> None:
    from shared.security_settings import SecuritySettings

    base: dict[str, Any] = {"oidc_issuer": "https://idp.example.gov.cn/realms/canbao",
                            "auth_enabled": True}
    problems = SecuritySettings(**base).problems_for("production")
    assert any("CANBAO_OIDC_CLIENT_ID" in p for p in problems)
    assert any("CANBAO_SESSION_SECRET" in p for p in problems)
    placeholder = SecuritySettings(**base, oidc_client_id="canbao-web",
                                   session_secret="replace-with-another-long-random-secret")
    assert placeholder.problems_for("production") == [
        "CANBAO_SESSION_SECRET is still the example's placeholder"]
    good = SecuritySettings(**base, oidc_client_id="canbao-web", session_secret="q" * 40)
    assert good.problems_for("production") == []
    assert good.jwt_issuer == base["oidc_issuer"]  # the provider's issuer is the expected iss
    assert SecuritySettings(public_origins=["not a url"]).problems_for("development")
