"""Staff sign-in against a real OpenID Connect provider (panva/oidc-provider, run with Node on
loopback by this module): the whole browser flow through the provider's own login and consent
pages into the dashboard and out again, its access tokens used as Bearer tokens, tokens of
another issuer or audience and expired ones refused, a rotated signing key picked up from its
JWKS, and a cookie-authenticated upload from a foreign Origin refused."""

from __future__ import annotations

import asyncio
import json
import os
import re
import secrets
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from html import unescape
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urljoin, urlsplit

import httpx
import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import rsa
from fastapi import FastAPI
from jwt.algorithms import RSAAlgorithm

from devtools.testing.infra import TestInfra
from shared.security_settings import get_security_settings

PROVIDER_DIR = Path(__file__).parent / "oidc_provider"
REPORTING = "http://127.0.0.1:8004"
REGISTRATION = "http://127.0.0.1:8001"
CLIENT_ID, CLIENT_SECRET = "canbao", "test-client-secret-" + "x" * 24
PROGRESS = {"county_code": "370481", "plan_year": "2025"}
ACCOUNTS = {
    "officer": {"name": "李医保", "role": "medical_insurance_officer", "region": "370481"},
    "nobody": {"name": "无角色"},
}


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _node_ready() -> str:
    node = shutil.which("node")
    if node is None:
        pytest.skip("node is not installed: the OpenID provider of this test runs on Node.js")
    if not (PROVIDER_DIR / "node_modules" / "oidc-provider").is_dir():
        npm = shutil.which("npm")
        if npm is None:
            pytest.skip("npm is not installed: cannot install the test's OpenID provider")
        subprocess.run([npm, "ci", "--no-audit", "--no-fund", "--silent"], cwd=PROVIDER_DIR,
                       check=True, timeout=300)
    return node


def _rsa_key(kid: str) -> tuple[rsa.RSAPrivateKey, dict[str, Any]]:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    jwk = json.loads(RSAAlgorithm.to_jwk(key))
    jwk.update(kid=kid, alg="RS256", use="sig")
    return key, jwk


@dataclass
class Provider:
    """The provider process; `restart(keys)` serves a new key set (the first key signs)."""

    node: str
    directory: Path
    port: int = field(default_factory=_free_port)
    process: subprocess.Popen[bytes] | None = None

    @property
    def issuer(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self, jwks: list[dict[str, Any]]) -> None:
        config = self.directory / "provider.json"
        config.write_text(json.dumps({
            "port": self.port, "issuer": self.issuer, "audience": "canbao",
            "jwks": {"keys": jwks}, "accounts": ACCOUNTS,
            "client": {
                "client_id": CLIENT_ID, "client_secret": CLIENT_SECRET,
                "redirect_uris": [f"{REPORTING}/auth/callback"],
                "post_logout_redirect_uris": [f"{REPORTING}/auth/signed-out"],
                "grant_types": ["authorization_code"], "response_types": ["code"],
                "token_endpoint_auth_method": "client_secret_basic"},
        }))
        log = (self.directory / "provider.log").open("ab")
        self.process = subprocess.Popen([self.node, str(PROVIDER_DIR / "provider.mjs"),
                                         str(config)], stdout=log, stderr=log)
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            try:
                if httpx.get(f"{self.issuer}/.well-known/openid-configuration",
                             timeout=1).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            if self.process.poll() is not None:
                break
            time.sleep(0.1)
        raise RuntimeError((self.directory / "provider.log").read_text()[-2000:])

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            self.process.wait(10)

    def restart(self, jwks: list[dict[str, Any]]) -> None:
        self.stop()
        self.start(jwks)


@pytest.fixture(scope="module")
def provider(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Provider, Any]]:
    node = _node_ready()
    key, jwk = _rsa_key("k1")
    running = Provider(node, tmp_path_factory.mktemp("oidc"))
    running.start([jwk])
    try:
        yield running, (key, jwk)
    finally:
        running.stop()


@asynccontextmanager
async def _client(app: FastAPI, base_url: str) -> AsyncIterator[httpx.AsyncClient]:
    async with app.router.lifespan_context(app):
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app),
                                     base_url=base_url) as client:
            yield client


@pytest.fixture(scope="module")
async def apps(provider, infra: TestInfra) -> AsyncIterator[dict[str, Any]]:  # noqa: ANN001
    running, _ = provider
    patch = pytest.MonkeyPatch()
    for name, value in {
        "CANBAO_AUTH_ENABLED": "true", "CANBAO_OIDC_ISSUER": running.issuer,
        "CANBAO_OIDC_CLIENT_ID": CLIENT_ID, "CANBAO_OIDC_CLIENT_SECRET": CLIENT_SECRET,
        "CANBAO_OIDC_SCOPES": "openid profile canbao", "CANBAO_JWT_AUDIENCE": "canbao",
        "CANBAO_JWT_JWKS_COOLDOWN_SECONDS": "0",
        "CANBAO_SESSION_SECRET": secrets.token_urlsafe(32),
        "CANBAO_SESSION_REVOCATION_REFRESH_SECONDS": "0.2",
    }.items():
        patch.setenv(name, value)
    patch.delenv("CANBAO_JWT_PUBLIC_KEYS_DIR", raising=False)
    get_security_settings.cache_clear()
    from services.registration.app import create_app as registration_app
    from services.reporting.app import create_app as reporting_app

    settings = infra.settings(consumers_enabled=False, relay_enabled=False)
    reporting, registration = reporting_app(settings), registration_app(settings)
    try:
        async with _client(reporting, REPORTING) as rep, \
                _client(registration, REGISTRATION) as reg:
            yield {"reporting": rep, "registration": reg, "reporting_app": reporting,
                   "settings": settings}
    finally:
        patch.undo()
        get_security_settings.cache_clear()


_FORM = re.compile(r"<form\b[^>]*>.*?</form>", re.S | re.I)
_ATTR = re.compile(r'(\w[\w-]*)="([^"]*)"')


def _form(page: str) -> tuple[str, dict[str, str]]:
    """The first form of a provider page: its action and hidden fields."""
    found = _FORM.search(page)
    assert found, page[:500]
    form = found.group(0)
    action = unescape(dict(_ATTR.findall(form[:form.index(">")]))["action"])
    fields = {}
    for tag in re.findall(r"<input\b[^>]*>", form, re.I):
        attrs = dict(_ATTR.findall(tag))
        if attrs.get("type") == "hidden":
            fields[attrs["name"]] = unescape(attrs.get("value", ""))
    return action, fields


async def _through_provider(browser: httpx.AsyncClient, url: str, issuer: str,
                            login: str) -> tuple[str, list[str]]:
    """Follow the provider's redirects and submit its login and consent forms (and its
    sign-out confirmation) as a person would; return where it sends the browser back to,
    and the forms' prompts seen on the way."""
    prompts: list[str] = []
    for _ in range(20):
        if not url.startswith(issuer):
            return url, prompts
        answer = await browser.get(url)
        if answer.status_code == 200 and "<form" in answer.text:
            action, data = _form(answer.text)
            prompts.append(data.get("prompt") or action.rsplit("/", 1)[-1])
            if data.get("prompt") == "login":
                data.update(login=login, password="any")
            if "logout" in action or "session/end" in action:
                data["logout"] = "yes"
            answer = await browser.post(urljoin(url, action), data=data)
        assert answer.is_redirect, (answer.status_code, answer.text[:500])
        url = urljoin(url, answer.headers["location"])
    raise AssertionError("the provider kept redirecting")


async def _sign_in(apps: dict[str, Any], browser: httpx.AsyncClient, issuer: str,
                   login: str = "officer") -> httpx.Response:
    """The browser flow from an HTML page to the callback; returns the callback's answer."""
    app = apps["reporting"]
    page = await app.get("/dashboard", params={"county_code": "370481"},
                         headers={"accept": "text/html"})
    assert page.status_code == 303
    assert page.headers["location"] == "/auth/login?next=%2Fdashboard%3Fcounty_code%3D370481"
    start = await app.get(page.headers["location"])
    assert start.status_code == 302
    authorize = start.headers["location"]
    assert authorize.startswith(issuer + "/auth?")
    query = parse_qs(urlsplit(authorize).query)
    assert query["code_challenge_method"] == ["S256"] and len(query["code_challenge"][0]) == 43
    assert query["state"][0] and query["nonce"][0] and query["client_id"] == [CLIENT_ID]
    assert query["redirect_uri"] == [f"{REPORTING}/auth/callback"]
    back, prompts = await _through_provider(browser, authorize, issuer, login)
    assert back.startswith(f"{REPORTING}/auth/callback?")
    return await app.get(back.removeprefix(REPORTING))


async def _provider_token(browser: httpx.AsyncClient, issuer: str) -> str:
    """An access token as an API client gets it: its own code flow with PKCE."""
    verifier = secrets.token_urlsafe(32)
    import base64
    import hashlib
    challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()) \
        .decode().rstrip("=")
    authorize = httpx.URL(f"{issuer}/auth", params={
        "response_type": "code", "client_id": CLIENT_ID, "scope": "openid canbao",
        "redirect_uri": f"{REPORTING}/auth/callback", "state": "s", "nonce": "n",
        "code_challenge": challenge, "code_challenge_method": "S256"})
    back, _ = await _through_provider(browser, str(authorize), issuer, "officer")
    code = parse_qs(urlsplit(back).query)["code"][0]
    answer = await browser.post(f"{issuer}/token", auth=(CLIENT_ID, CLIENT_SECRET), data={
        "grant_type": "authorization_code", "code": code, "code_verifier": verifier,
        "redirect_uri": f"{REPORTING}/auth/callback"})
    assert answer.status_code == 200, answer.text
    return str(answer.json()["access_token"])


def _set_cookie(answer: httpx.Response, name: str) -> str:
    return next(h for h in answer.headers.get_list("set-cookie") if h.startswith(name + "="))


async def _seed_target(settings: Any) -> None:
    """A township target and one enrolled person of 370481 in a past year of its own,
    through reporting's own projection: the dashboard has figures to draw whatever ran (or did
    not run) before this test."""
    from services.reporting.projections.handlers import router
    from services.reporting.tests import factories as f
    from shared.db import make_engine, make_sessionmaker

    engine = make_engine(settings)
    try:
        async with make_sessionmaker(engine)() as session, session.begin():
            pid, village = f.new_id(), "370481001001"
            for event in (f.target("370481001000", 2001, 40), f.person(pid, village=village),
                          f.enrollment(pid, 2001, village=village)):
                await router(session, event)
    finally:
        await engine.dispose()


async def test_browser_sign_in_dashboard_and_sign_out(provider, apps) -> None:  # noqa: ANN001
    running, _ = provider
    app = apps["reporting"]
    await _seed_target(apps["settings"])
    async with httpx.AsyncClient(follow_redirects=False) as browser:
        callback = await _sign_in(apps, browser, running.issuer)
        assert callback.status_code == 303, callback.text
        assert callback.headers["location"] == "/dashboard?county_code=370481"
        cookie = _set_cookie(callback, "canbao_session").lower()
        assert "httponly" in cookie and "samesite=lax" in cookie and "path=/" in cookie
        assert "secure" not in cookie  # plain http on loopback (development) only
        assert app.cookies.get("canbao_session")

        page = await app.get("/dashboard", params={"county_code": "370481"},
                             headers={"accept": "text/html"})
        assert page.status_code == 200 and "text/html" in page.headers["content-type"]
        api = await app.get("/v1/progress", params=PROGRESS)
        assert api.status_code == 200
        # the session holds the provider's role and region: another county stays closed
        other = await app.get("/v1/progress", params={**PROGRESS, "county_code": "370482"})
        assert (other.status_code, other.json()["error"]["code"]) == (403, "forbidden_region")

        # a copy of the cookie, as a stolen one would be, works at another service until...
        stolen = app.cookies["canbao_session"]
        other_service = apps["registration"]
        copy = await other_service.get("/v1/audit", headers={"cookie": f"canbao_session={stolen}"})
        assert copy.status_code != 401
        out = await app.get("/auth/logout")
        assert out.status_code == 303
        end = out.headers["location"]
        assert end.startswith(running.issuer + "/session/end?")
        assert parse_qs(urlsplit(end).query)["post_logout_redirect_uri"] == [
            f"{REPORTING}/auth/signed-out"]
        assert 'canbao_session=""' in _set_cookie(out, "canbao_session") or \
            "max-age=0" in _set_cookie(out, "canbao_session").lower()
        assert app.cookies.get("canbao_session") is None
        back, _ = await _through_provider(browser, end, running.issuer, "officer")
        assert back == f"{REPORTING}/auth/signed-out"
        done = await app.get("/auth/signed-out")
        assert done.status_code == 200 and "已退出登录" in done.text
        again = await app.get("/dashboard", params={"county_code": "370481"},
                              headers={"accept": "text/html"})
        assert again.status_code == 303 and again.headers["location"].startswith("/auth/login")
        api = await app.get("/v1/progress", params=PROGRESS)
        assert api.status_code == 401 and api.json()["error"]["code"] == "unauthenticated"
        # ...the sign-out, which ends it on the server: the other service (another process
        # in production) refuses the copy once it has reloaded the revocations
        assert await _refused_soon(other_service, stolen)


async def _refused_soon(service: httpx.AsyncClient, cookie: str, seconds: float = 5.0) -> bool:
    deadline = asyncio.get_running_loop().time() + seconds
    while asyncio.get_running_loop().time() < deadline:
        answer = await service.get("/v1/audit", headers={"cookie": f"canbao_session={cookie}"})
        if answer.status_code == 401:
            return answer.json()["error"]["code"] == "unauthenticated"
        await asyncio.sleep(0.1)
    return False


async def test_sessions_revoke_command_ends_every_session_of_a_subject(provider, apps) -> None:  # noqa: ANN001
    """`canbao sessions revoke --subject`, run as its own process against the deployment's
    database, ends a signed-in person's session at both services without a sign-out."""
    running, _ = provider
    rep, reg = apps["reporting"], apps["registration"]
    rep.cookies.clear()
    async with httpx.AsyncClient(follow_redirects=False) as browser:
        callback = await _sign_in(apps, browser, running.issuer)
        assert callback.status_code == 303
    cookie = rep.cookies["canbao_session"]
    rep.cookies.clear()
    signer = apps["reporting_app"].state.access_control.sessions
    subject = signer.principal(cookie).subject
    for service in (rep, reg):
        assert (await service.get("/v1/audit", headers={"cookie": f"canbao_session={cookie}"})
                ).status_code != 401
    env = {**os.environ, "CANBAO_DATABASE_URL": apps["settings"].database_url}
    done = await asyncio.to_thread(
        subprocess.run, [sys.executable, "-m", "services.cli", "sessions", "revoke",
                         "--subject", subject, "--reason", "test"],
        env=env, capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert subject in done.stdout
    for service in (rep, reg):
        assert await _refused_soon(service, cookie)


async def test_callback_refuses_forged_state_and_accounts_without_role(provider, apps) -> None:  # noqa: ANN001
    running, _ = provider
    app = apps["reporting"]
    app.cookies.clear()
    async with httpx.AsyncClient(follow_redirects=False) as browser:
        start = await app.get("/auth/login", params={"next": "//evil.example/x"})
        authorize = start.headers["location"]
        back, _ = await _through_provider(browser, authorize, running.issuer, "officer")
        query = parse_qs(urlsplit(back).query)
        forged = await app.get("/auth/callback", params={"code": query["code"][0],
                                                         "state": "not-the-state"})
        assert forged.status_code == 400 and "state" in forged.text
        assert app.cookies.get("canbao_session") is None
        # the flow cookie is still there: the real state goes through, and `next` pointing at
        # another site was replaced by the dashboard
        real = await app.get(back.removeprefix(REPORTING))
        assert real.status_code == 303 and real.headers["location"] == "/dashboard"
        app.cookies.clear()

    async with httpx.AsyncClient(follow_redirects=False) as browser:  # another person
        refused = await _sign_in(apps, browser, running.issuer, login="nobody")
    assert refused.status_code == 403 and "角色" in refused.text
    assert app.cookies.get("canbao_session") is None


async def test_provider_tokens_as_bearer_and_what_is_refused(provider, apps) -> None:  # noqa: ANN001
    running, (key, _) = provider
    app = apps["reporting"]
    app.cookies.clear()
    async with httpx.AsyncClient(follow_redirects=False) as browser:
        token = await _provider_token(browser, running.issuer)
    assert jwt.get_unverified_header(token)["kid"] == "k1"
    bearer = {"authorization": f"Bearer {token}"}
    ok = await app.get("/v1/progress", params=PROGRESS, headers=bearer)
    assert ok.status_code == 200, ok.text

    now = int(time.time())
    good = {"iss": running.issuer, "aud": "canbao", "sub": "officer", "iat": now,
            "exp": now + 300, "role": "medical_insurance_officer", "region": "370481"}
    cases = {"issuer": {"iss": "http://127.0.0.1:1/other"}, "audience": {"aud": "another-api"},
             "expired": {"exp": now - 120, "iat": now - 720}}
    signed = jwt.encode(good, key, algorithm="RS256", headers={"kid": "k1"})
    assert (await app.get("/v1/progress", params=PROGRESS,
                          headers={"authorization": f"Bearer {signed}"})).status_code == 200
    for word, change in cases.items():
        bad = jwt.encode({**good, **change}, key, algorithm="RS256", headers={"kid": "k1"})
        answer = await app.get("/v1/progress", params=PROGRESS,
                               headers={"authorization": f"Bearer {bad}", "accept-language": "en"})
        assert answer.status_code == 401, word
        assert answer.json()["error"]["code"] == "unauthenticated"
        assert word in answer.json()["error"]["message"], answer.json()


async def test_rotated_key_is_fetched_from_jwks(provider, apps) -> None:  # noqa: ANN001
    running, (_, old_jwk) = provider
    app = apps["reporting"]
    app.cookies.clear()
    jwks = apps["reporting_app"].state.access_control.verifier.jwks
    new_key, new_jwk = _rsa_key("k2")
    await asyncio.to_thread(running.restart, [new_jwk, old_jwk])
    fetches = jwks.fetches
    async with httpx.AsyncClient(follow_redirects=False) as browser:
        token = await _provider_token(browser, running.issuer)
    assert jwt.get_unverified_header(token)["kid"] == "k2"
    answer = await app.get("/v1/progress", params=PROGRESS,
                           headers={"authorization": f"Bearer {token}"})
    assert answer.status_code == 200, answer.text
    assert jwks.fetches == fetches + 1 and "k2" in jwks.key_ids
    # a key id the provider does not publish stays refused after the fetch
    stranger, _ = _rsa_key("k9")
    forged = jwt.encode({"iss": running.issuer, "aud": "canbao", "sub": "x",
                         "exp": int(time.time()) + 60, "role": "administrator",
                         "region": "000000"}, stranger, algorithm="RS256",
                        headers={"kid": "k9"})
    answer = await app.get("/v1/progress", params=PROGRESS,
                           headers={"authorization": f"Bearer {forged}"})
    assert answer.status_code == 401


async def test_foreign_origin_with_session_cookie_refused_on_upload(provider, apps) -> None:  # noqa: ANN001
    running, _ = provider
    rep, reg = apps["reporting"], apps["registration"]
    rep.cookies.clear()
    async with httpx.AsyncClient(follow_redirects=False) as browser:
        callback = await _sign_in(apps, browser, running.issuer)
        assert callback.status_code == 303
        token = await _provider_token(browser, running.issuer)
    # browsers send a host's cookies to each of its ports: the registration service on the
    # same host gets the session the reporting sign-in set
    reg.cookies.set("canbao_session", rep.cookies["canbao_session"])
    files = {"file": ("students.csv", b"id_number,name\n", "text/csv")}
    form = {"plan_year": "2025", "township_code": "370481001000"}
    for headers in ({"origin": "https://evil.example"},
                    {"referer": "https://evil.example/page"}, {}):
        answer = await reg.post("/v1/students/upload", files=files, data=form, headers=headers)
        assert answer.status_code == 403, headers
        assert answer.json()["error"]["code"] == "forbidden_origin"
    # the same upload from the service's own page passes the Origin check (and then fails on
    # the empty file, which is the upload's own answer)
    own = await reg.post("/v1/students/upload", files=files, data=form,
                         headers={"origin": REGISTRATION})
    assert own.status_code != 403 and own.json()["error"]["code"] != "forbidden_origin"
    # a Bearer token is not a cookie: no Origin check
    reg.cookies.clear()
    bearer = await reg.post("/v1/students/upload", files=files, data=form,
                            headers={"origin": "https://evil.example",
                                     "authorization": f"Bearer {token}"})
    assert bearer.status_code == own.status_code
