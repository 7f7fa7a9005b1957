"""The shipped production configuration, started without Docker: `canbao init-secrets` writes
the env file from deploy/.env.example, the compose file's commands run with it (the migration
job's `canbao migrate`, then `canbao serve <service>` for the four services) with
CANBAO_ENVIRONMENT=production and only what Docker would change replaced: the database and
broker addresses, and the identity provider's discovery address (a stand-in for Keycloak on
loopback serving the discovery document and JWKS over HTTP, its tokens shaped as Keycloak's:
realm roles in `realm_access.roles`). The bank channel's secret comes from a file
(`file:` reference), as deploy/.env.example shows. Then one request path through all four:
register and enroll -> determined -> bill -> signed bank notification accepted -> counted as
paid in the township."""

from __future__ import annotations

import asyncio
import base64
import datetime as dt
import json
import os
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx
import jwt
import pytest
import yaml
from cryptography.hazmat.primitives.asymmetric import rsa
from jwt.algorithms import RSAAlgorithm

from devtools.infra import create_database, free_port
from devtools.testing.infra import TestInfra
from services.payments.channels.standard_webhooks import signed_headers
from shared.idnumber import check_character
from shared.settings import SERVICES

ROOT = Path(__file__).resolve().parent.parent
COMPOSE = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
TOWNSHIP, VILLAGE = "370481001000", "370481001001"
KID = "stand-in-keycloak-1"


def _env_file(path: Path) -> dict[str, str]:
    out = {}
    for line in path.read_text().splitlines():
        if line and not line.startswith("#") and "=" in line:
            key, _, value = line.partition("=")
            out[key] = value
    return out


class StandInProvider:
    """Discovery document and JWKS of an issuer, on loopback; signs Keycloak-shaped tokens."""

    def __init__(self, issuer: str) -> None:
        self.issuer = issuer
        self.key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        jwk = json.loads(RSAAlgorithm.to_jwk(self.key.public_key()))
        jwk.update(kid=KID, alg="RS256", use="sig")
        self.port = free_port()
        base = f"http://127.0.0.1:{self.port}"
        documents = {
            "/.well-known/openid-configuration": {
                "issuer": issuer, "jwks_uri": f"{base}/certs",
                "authorization_endpoint": f"{issuer}/protocol/openid-connect/auth",
                "token_endpoint": f"{base}/token"},
            "/certs": {"keys": [jwk]},
        }

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:  # noqa: N802
                body = documents.get(self.path)
                data = json.dumps(body).encode()
                self.send_response(200 if body else 404)
                self.send_header("content-type", "application/json")
                self.send_header("content-length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        self.discovery_url = f"{base}/.well-known/openid-configuration"

    def bearer(self, sub: str, role: str | None = None, region: str | None = None,
               scope: str | None = None) -> dict[str, str]:
        now = int(time.time())
        claims: dict[str, Any] = {"iss": self.issuer, "aud": ["canbao", "account"], "sub": sub,
                                  "iat": now, "exp": now + 600, "typ": "Bearer",
                                  "azp": "canbao-web"}
        if role:
            claims["realm_access"] = {"roles": [role, "offline_access", "default-roles-canbao"]}
        if region:
            claims["region"] = region
        if scope:
            claims["scope"] = scope
        token = jwt.encode(claims, self.key, algorithm="RS256", headers={"kid": KID})
        return {"authorization": f"Bearer {token}"}

    def stop(self) -> None:
        self.server.shutdown()


def _id_number() -> str:
    day = dt.date(1980, 1, 1) + dt.timedelta(days=int.from_bytes(os.urandom(2), "big") % 365)
    sequence = int.from_bytes(os.urandom(2), "big") % 1000
    first17 = "370481" + day.strftime("%Y%m%d") + f"{sequence:03d}"
    return first17 + check_character(first17)


async def eventually(probe: Callable[[], Awaitable[Any]], timeout: float = 45) -> Any:
    deadline = asyncio.get_running_loop().time() + timeout
    last: Any = None
    while asyncio.get_running_loop().time() < deadline:
        last = await probe()
        if last:
            return last
        await asyncio.sleep(0.3)
    raise AssertionError(f"not reached in {timeout}s; last answer: {last!r}")


@pytest.fixture(scope="module")
def workdir(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    yield tmp_path_factory.mktemp("production")


@pytest.fixture(scope="module")
async def stack(infra: TestInfra, workdir: Path) -> AsyncIterator[dict[str, Any]]:
    canbao = [sys.executable, "-m", "services.cli"]
    env_path = workdir / ".env"
    subprocess.run([*canbao, "init-secrets", "--example", str(ROOT / "deploy/.env.example"),
                    "--output", str(env_path)], check=True, cwd=ROOT, capture_output=True)
    shipped = _env_file(env_path)
    assert shipped["CANBAO_ENVIRONMENT"] == "production"
    provider = StandInProvider(shipped["CANBAO_OIDC_ISSUER"])
    secret = "whsec_" + base64.b64encode(os.urandom(32)).decode()
    (workdir / "bank_ccb.whsec").write_text(secret + "\n")
    database = await create_database(infra.database_url, f"prod_{uuid.uuid4().hex[:8]}")
    # what Docker changes: addresses (and tansu, the test broker, has no idempotent producer)
    env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HOME": str(workdir),
           **{k: v for k, v in shipped.items() if k.startswith("CANBAO_")},
           "CANBAO_DATABASE_URL": database,
           "CANBAO_KAFKA_BOOTSTRAP_SERVERS": infra.bootstrap_servers,
           "CANBAO_KAFKA_IDEMPOTENT_PRODUCER": infra.env()["CANBAO_KAFKA_IDEMPOTENT_PRODUCER"],
           "CANBAO_TOPIC_PARTITIONS": "3",
           "CANBAO_OIDC_DISCOVERY_URL": provider.discovery_url,
           # a channel as deploy/.env.example shows it: the secret in a file
           "CANBAO_PAYMENTS_WEBHOOK_SECRETS": json.dumps(
               {"bank_ccb": [f"file:{workdir / 'bank_ccb.whsec'}"]}),
           "CANBAO_PAYMENTS_WEBHOOK_REGIONS": '{"bank_ccb": "370481"}'}
    migrate = subprocess.run([*canbao, *COMPOSE["services"]["migrate"]["command"][1:]],
                             env=env, cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert migrate.returncode == 0, migrate.stderr[-3000:]
    processes: dict[str, tuple[subprocess.Popen[bytes], int, Path]] = {}
    try:
        for name in SERVICES:
            service = COMPOSE["services"][name]
            port = free_port()
            log = workdir / f"{name}.log"
            service_env = {**env, **{k: v for k, v in service["environment"].items()
                                     if k != "FORWARDED_ALLOW_IPS"},
                           "CANBAO_PORT": str(port),
                           "CANBAO_PUBLIC_ORIGINS": json.dumps([f"http://127.0.0.1:{port}"])}
            processes[name] = (subprocess.Popen(
                [*canbao, *service["command"][1:]], env=service_env, cwd=ROOT,
                stdout=log.open("ab"), stderr=subprocess.STDOUT), port, log)
        async with httpx.AsyncClient(timeout=3) as http:
            for process, port, log in processes.values():
                async def ready(port: int = port, process: Any = process,
                                log: Path = log) -> bool:
                    assert process.poll() is None, log.read_text()[-3000:]
                    try:
                        return (await http.get(f"http://127.0.0.1:{port}/readyz")).status_code \
                            == 200
                    except httpx.HTTPError:
                        return False

                await eventually(ready, timeout=90)
        yield {"urls": {n: f"http://127.0.0.1:{p}" for n, (_, p, _) in processes.items()},
               "provider": provider, "secret": secret, "logs": workdir}
    finally:
        for process, _, _ in processes.values():
            process.terminate()
        for process, _, _ in processes.values():
            try:
                process.wait(30)
            except subprocess.TimeoutExpired:
                process.kill()
        provider.stop()


async def test_the_shipped_configuration_serves_a_request_path(stack: dict[str, Any]) -> None:
    url, provider = stack["urls"], stack["provider"]
    clerk = provider.bearer("clerk-1", "township_staff", TOWNSHIP)
    supervisor = provider.bearer("supervisor-1", "supervisor", "370481")
    channel = provider.bearer("service-account-bank", scope="payments:bills")
    id_number = _id_number()
    async with httpx.AsyncClient(timeout=10) as http:
        assert (await http.post(f"{url['registration']}/v1/persons", json={})).status_code == 401
        person = await http.post(f"{url['registration']}/v1/persons", json={
            "id_number": id_number, "name": "王小明", "township_code": TOWNSHIP,
            "village_code": VILLAGE}, headers=clerk)
        assert person.status_code == 201, person.text
        person_id = person.json()["person_id"]
        enrolled = await http.post(f"{url['registration']}/v1/enrollments",
                                   json={"person_id": person_id, "plan_year": 2025},
                                   headers=clerk)
        assert enrolled.status_code == 201, enrolled.text

        async def bill() -> dict[str, Any] | None:
            r = await http.post(f"{url['payments']}/v1/bills/lookup",
                                json={"id_number": id_number, "plan_year": 2025,
                                      "on": "2024-12-01"}, headers=channel)
            return r.json() if r.status_code == 200 and r.json().get("amount_fen") else None

        due = await eventually(bill)
        body = json.dumps({"type": "payment.succeeded", "data": {
            "order_no": due["order_no"], "channel_txn_id": f"CCB{uuid.uuid4().hex[:12]}",
            "amount_fen": due["amount_fen"], "paid_at": "2024-12-01T02:00:00+00:00"}}).encode()
        headers = signed_headers(stack["secret"], f"msg_{uuid.uuid4().hex}",
                                 int(time.time()), body)
        accepted = await http.post(f"{url['payments']}/v1/webhooks/bank_ccb", content=body,
                                   headers={**headers, "content-type": "application/json"})
        assert accepted.status_code in (200, 204), accepted.text
        forged = signed_headers("whsec_" + base64.b64encode(b"x" * 32).decode(),
                                f"msg_{uuid.uuid4().hex}", int(time.time()), body)
        refused = await http.post(f"{url['payments']}/v1/webhooks/bank_ccb", content=body,
                                  headers={**forged, "content-type": "application/json"})
        assert refused.status_code >= 400

        async def counted() -> dict[str, Any] | None:
            r = await http.get(f"{url['reporting']}/v1/progress",
                               params={"county_code": "370481", "plan_year": 2025},
                               headers=supervisor)
            if r.status_code != 200:
                return None
            rows = [row for row in r.json()["rows"] if row["code"] == TOWNSHIP]
            return rows[0] if rows and rows[0]["paid"] >= 1 else None

        assert (await eventually(counted))["registered"] >= 1
