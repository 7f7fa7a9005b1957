"""Oversized bodies are refused with 413 and bursts beyond a client's budget with 429."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest
from fastapi import FastAPI, Request, UploadFile

from shared.limits import BodySizeLimitMiddleware, RateLimit, RateLimitMiddleware
from shared.security_settings import SecuritySettings

LIMIT = 1000


def body_app() -> FastAPI:
    app = FastAPI()
    app.state.handled = 0

    @app.post("/v1/echo")
    async def echo(request: Request) -> dict[str, int]:
        request.app.state.handled += 1
        return {"received": len(await request.body())}

    @app.post("/v1/upload")
    async def upload(file: UploadFile) -> dict[str, int]:
        return {"received": len(await file.read())}

    @app.post("/v1/statements/wechatpay")
    async def statement(request: Request) -> dict[str, int]:
        return {"received": len(await request.body())}

    app.add_middleware(BodySizeLimitMiddleware, max_body_bytes=LIMIT, max_upload_bytes=5 * LIMIT,
                       overrides={"/v1/statements/": 20 * LIMIT})
    return app


def client_for(app: FastAPI, ip: str = "10.0.0.1") -> httpx.AsyncClient:
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app, client=(ip, 5000)),
                             base_url="http://t")


async def chunks(total: int, size: int = 100) -> AsyncIterator[bytes]:
    for _ in range(total // size):
        yield b"x" * size


async def test_body_within_limit_passes() -> None:
    async with client_for(body_app()) as client:
        r = await client.post("/v1/echo", content=b"x" * LIMIT)
        assert r.status_code == 200 and r.json() == {"received": LIMIT}
        r = await client.post("/v1/echo", content=chunks(LIMIT))
        assert r.status_code == 200 and r.json() == {"received": LIMIT}


async def test_content_length_over_limit_refused_before_the_app_runs() -> None:
    app = body_app()
    async with client_for(app) as client:
        r = await client.post("/v1/echo", content=b"x" * (LIMIT + 1))
    assert r.status_code == 413
    assert r.json()["error"]["code"] == "request_too_large"
    assert r.json()["error"]["limit_bytes"] == LIMIT
    assert app.state.handled == 0


async def test_chunked_body_over_limit_refused_while_streaming() -> None:
    app = body_app()
    async with client_for(app) as client:
        r = await client.post("/v1/echo", content=chunks(5 * LIMIT))
        assert r.status_code == 413
        assert r.json()["error"]["code"] == "request_too_large"
        # The next request on the same app is unaffected.
        r = await client.post("/v1/echo", content=b"ok")
        assert r.status_code == 200


async def test_uploads_and_prefix_overrides_get_their_own_limits() -> None:
    async with client_for(body_app()) as client:
        r = await client.post("/v1/upload", files={"file": ("a.csv", b"y" * (3 * LIMIT))})
        assert r.status_code == 200 and r.json() == {"received": 3 * LIMIT}
        r = await client.post("/v1/upload", files={"file": ("a.csv", b"y" * (6 * LIMIT))})
        assert r.status_code == 413
        # A chunked multipart upload (no Content-Length) is counted as it streams in.
        part = (b'--b\r\nContent-Disposition: form-data; name="file"; filename="a.csv"\r\n\r\n'
                + b"y" * (6 * LIMIT) + b"\r\n--b--\r\n")

        async def streamed() -> AsyncIterator[bytes]:
            for i in range(0, len(part), 100):
                yield part[i:i + 100]

        r = await client.post("/v1/upload", content=streamed(),
                              headers={"content-type": "multipart/form-data; boundary=b"})
        assert (r.status_code, r.json()["error"]["code"]) == (413, "request_too_large")
        r = await client.post("/v1/statements/wechatpay", content=chunks(10 * LIMIT))
        assert r.status_code == 200
        r = await client.post("/v1/statements/wechatpay", content=chunks(30 * LIMIT))
        assert r.status_code == 413


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def rate_app(clock: FakeClock) -> FastAPI:
    app = FastAPI()

    @app.get("/v1/bills")
    async def bills() -> dict[str, str]:
        return {"ok": "yes"}

    @app.get("/v1/persons")
    async def persons() -> dict[str, str]:
        return {"ok": "yes"}

    @app.get("/healthz")
    async def healthz() -> dict[str, str]:
        return {"ok": "yes"}

    app.add_middleware(RateLimitMiddleware, limits={"/v1/bills": RateLimit(rate=2, burst=4)},
                       default=RateLimit(rate=1, burst=5), clock=clock)
    return app


async def test_rate_limit_429_then_recovery() -> None:
    clock = FakeClock()
    app = rate_app(clock)
    async with client_for(app) as client:
        statuses = [(await client.get("/v1/bills")).status_code for _ in range(6)]
        assert statuses == [200, 200, 200, 200, 429, 429]
        r = await client.get("/v1/bills")
        assert r.status_code == 429
        assert r.headers["retry-after"] == "1"
        assert r.json()["error"]["code"] == "rate_limited"
        # Other prefixes have their own bucket; operations paths are never limited.
        assert (await client.get("/v1/persons")).status_code == 200
        assert [(await client.get("/healthz")).status_code for _ in range(20)] == [200] * 20
        clock.now += 0.5  # 2/s: one token back
        assert (await client.get("/v1/bills")).status_code == 200
        assert (await client.get("/v1/bills")).status_code == 429
        clock.now += 10  # refills up to the burst, not beyond
        statuses = [(await client.get("/v1/bills")).status_code for _ in range(5)]
        assert statuses == [200, 200, 200, 200, 429]


async def test_clients_are_limited_separately() -> None:
    clock = FakeClock()
    app = rate_app(clock)
    async with client_for(app, "10.0.0.1") as a, client_for(app, "10.0.0.2") as b:
        for _ in range(4):
            assert (await a.get("/v1/bills")).status_code == 200
        assert (await a.get("/v1/bills")).status_code == 429
        assert (await b.get("/v1/bills")).status_code == 200
        # Behind one address (a tax hall's NAT), each token holder has its own bucket.
        for token in ("Bearer aaa.bbb.ccc", "Bearer ddd.eee.fff"):
            headers = {"authorization": token}
            assert [(await a.get("/v1/bills", headers=headers)).status_code
                    for _ in range(5)] == [200, 200, 200, 200, 429]


def test_bucket_table_is_bounded() -> None:
    clock = FakeClock()
    limiter = RateLimitMiddleware(lambda *a: None, limits={"/": RateLimit(1, 1)},  # type: ignore[arg-type]
                                  max_clients=100, clock=clock)
    for i in range(1000):
        limiter.take("/", RateLimit(1, 1), f"client-{i}".encode())
    assert len(limiter._buckets) == 100


def test_rate_limits_from_settings(monkeypatch: pytest.MonkeyPatch) -> None:
    assert SecuritySettings().rate_limits == {"/v1/bills": RateLimit(rate=200, burst=400)}
    monkeypatch.setenv("CANBAO_RATE_LIMITS", '{"/v1/persons": {"rate": 5, "burst": 10}}')
    monkeypatch.setenv("CANBAO_RATE_LIMIT_DEFAULT", '{"rate": 50, "burst": 100}')
    monkeypatch.setenv("CANBAO_BODY_LIMITS", '{"/v1/statements/": 209715200}')
    s = SecuritySettings()
    assert s.rate_limits == {"/v1/persons": RateLimit(rate=5, burst=10)}
    assert s.rate_limit_default == RateLimit(rate=50, burst=100)
    assert s.body_limits == {"/v1/statements/": 209715200}
    with pytest.raises(ValueError):
        RateLimit(rate=0, burst=1)


async def test_install_limits_from_settings() -> None:
    app = FastAPI()

    @app.post("/v1/bills")
    async def bills(request: Request) -> dict[str, int]:
        return {"received": len(await request.body())}

    from shared.limits import install_limits

    install_limits(app, SecuritySettings(max_body_bytes=2048,
                                         rate_limits={"/v1/bills": RateLimit(rate=1, burst=2)}))
    async with client_for(app) as client:
        assert (await client.post("/v1/bills", content=b"x" * 4096)).status_code == 413
        assert (await client.post("/v1/bills", content=b"x")).status_code == 200
        # The size refusal above already took a token: the rate limiter is outside.
        assert (await client.post("/v1/bills", content=b"x")).status_code == 429
