"""Each service's API documentation works offline: /docs (Swagger UI) and /redoc load only
assets the service serves itself from the installed package, and the OpenAPI document
declares the security schemes, required on every operation that is not public."""

from __future__ import annotations

import importlib
import re

import pytest
from fastapi.testclient import TestClient

from shared.security_settings import get_security_settings
from shared.settings import SERVICES

PUBLIC = ("/healthz", "/readyz", "/v1/webhooks/")


@pytest.fixture
def apps(monkeypatch: pytest.MonkeyPatch) -> dict[str, TestClient]:
    monkeypatch.setenv("CANBAO_RATE_LIMIT_ENABLED", "false")
    monkeypatch.setenv("CANBAO_OIDC_ISSUER", "http://localhost:8080/realms/canbao")
    monkeypatch.setenv("CANBAO_OIDC_CLIENT_ID", "canbao-web")
    get_security_settings.cache_clear()
    try:
        yield {name: TestClient(importlib.import_module(f"services.{name}.app").create_app())
               for name in SERVICES}
    finally:
        get_security_settings.cache_clear()


@pytest.mark.parametrize("name", SERVICES)
def test_docs_load_without_the_internet(apps: dict[str, TestClient], name: str) -> None:
    client = apps[name]
    for page in ("/docs", "/redoc"):
        html = client.get(page)
        assert html.status_code == 200, html.text
        sources = re.findall(r'(?:src|href)="([^"]+)"', html.text)
        assert sources, page
        outside = [s for s in sources if not s.startswith("/")]
        assert not outside, f"{page} loads {outside}"
        assert "fonts.googleapis" not in html.text and "cdn" not in html.text.lower()
        for source in sources:
            asset = client.get(source)
            assert asset.status_code == 200 and len(asset.content) > 1000, source
    assert client.get("/docs/assets/../../etc/passwd").status_code == 404
    assert client.get("/docs/assets/other.js").status_code == 404
    assert client.get("/docs/oauth2-redirect").status_code == 200


@pytest.mark.parametrize("name", SERVICES)
def test_openapi_declares_security_on_every_protected_operation(
        apps: dict[str, TestClient], name: str) -> None:
    document = apps[name].get("/openapi.json").json()
    schemes = document["components"]["securitySchemes"]
    assert schemes["bearerAuth"] == {**schemes["bearerAuth"], "type": "http",
                                     "scheme": "bearer", "bearerFormat": "JWT"}
    assert schemes["oidc"]["openIdConnectUrl"] == \
        "http://localhost:8080/realms/canbao/.well-known/openid-configuration"
    assert schemes["sessionCookie"]["name"] == "canbao_session"
    assert "docs/API.md" in document["info"]["description"]
    unprotected = []
    for path, item in document["paths"].items():
        for method, operation in item.items():
            public = path.startswith(PUBLIC)
            if public:
                assert operation["security"] == [], (method, path)
            elif {"bearerAuth": []} not in operation.get("security", []):
                unprotected.append(f"{method.upper()} {path}")
    assert not unprotected


@pytest.mark.parametrize("name", SERVICES)
def test_every_operation_is_described_in_chinese_and_english(
        apps: dict[str, TestClient], name: str) -> None:
    """Summaries "中文 / English" on every operation, and a description; a summary written for
    a route that no longer exists fails too."""
    from shared.api_docs import SHARED_SUMMARIES

    document = apps[name].get("/openapi.json").json()
    table = importlib.import_module(f"services.{name}.api_summaries").SUMMARIES
    missing, seen = [], set()
    for path, item in document["paths"].items():
        for method, operation in item.items():
            seen.add((method.upper(), path))
            summary = operation.get("summary", "")
            if not (re.search(r"[\u4e00-\u9fff]", summary) and re.search(r"[A-Za-z]", summary)
                    and " / " in summary and operation.get("description")):
                missing.append(f"{method.upper()} {path}")
    assert not missing, f"add to services/{name}/api_summaries.py: {missing}"
    stale = set(table) - seen
    assert not stale, f"no such route: {sorted(stale)}"
    assert set(SHARED_SUMMARIES) <= seen


@pytest.mark.parametrize("name", SERVICES)
def test_every_json_request_and_answer_has_an_example_that_validates(
        apps: dict[str, TestClient], name: str) -> None:
    import jsonschema_rs  # schemathesis' validator, in the test extra

    document = apps[name].get("/openapi.json").json()
    missing, invalid = [], []
    for path, item in document["paths"].items():
        for method, operation in item.items():
            contents = [("request", operation.get("requestBody", {}).get("content", {}))]
            contents += [(status, answer.get("content", {}))
                         for status, answer in operation["responses"].items()
                         if status.startswith("2")]
            for where, content in contents:
                media = content.get("application/json")
                if not media or not media.get("schema"):
                    continue
                where = f"{method.upper()} {path} {where}"
                if "example" not in media:
                    missing.append(where)
                    continue
                schema = {**media["schema"], "components": document["components"]}
                errors = list(jsonschema_rs.validator_for(schema).iter_errors(media["example"]))
                if errors:
                    invalid.append(f"{where}: {str(errors[0])[:160]}")
    assert not missing, f"without an example: {missing}"
    assert not invalid, "examples that break their schema:\n" + "\n".join(invalid)


# Routes whose success answer is still an untyped object (eligibility's plans and
# determinations). A route typed since must leave the list.
UNTYPED = {
    "eligibility": {"GET /v1/determinations/{person_id}/{plan_year}", "GET /v1/plans",
                    "GET /v1/plans/{region_code}/{plan_year}", "POST /v1/simulations"},
}


@pytest.mark.parametrize("name", SERVICES)
def test_every_route_declares_what_it_answers(apps: dict[str, TestClient], name: str) -> None:
    """A JSON answer with its fields (a model), or a declared file or page, or no body."""
    document = apps[name].get("/openapi.json").json()

    def resolve(schema: dict | None) -> dict:
        while schema and "$ref" in schema:
            schema = document["components"]["schemas"][schema["$ref"].rsplit("/", 1)[-1]]
        return schema or {}

    untyped = set()
    for path, item in document["paths"].items():
        for method, operation in item.items():
            status, answer = next(((s, a) for s, a in operation["responses"].items()
                                   if s.startswith("2")), (None, None))
            if status == "204" or (answer is not None and not answer.get("content")
                                   and method == "delete"):
                continue
            content = (answer or {}).get("content", {})
            schema = resolve(content.get("application/json", {}).get("schema"))
            files = [m for m in content if m != "application/json"]
            # one of several models (`A | B`): typed when every one of them is
            union = schema.get("anyOf") or schema.get("oneOf") or []
            models = bool(union) and all(resolve(s).get("properties") for s in union)
            if not (schema.get("properties") or schema.get("type") == "array" or files
                    or models):
                untyped.add(f"{method.upper()} {path}")
    known = UNTYPED.get(name, set())
    assert not untyped - known, f"routes without a response model: {sorted(untyped - known)}"
    assert not known - untyped, f"typed now, take off UNTYPED: {sorted(known - untyped)}"
