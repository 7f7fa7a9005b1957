"""Schemathesis against each service's own OpenAPI document: whatever a client sends, valid or
not, no operation answers 5xx, and the answers it documents match their schemas.

The apps run in-process against the session's real Postgres, their relay and consumers off
(nothing goes through the broker; Schemathesis's ASGI transport runs their lifespan on its
own event loop), with access control on and an
administrator token for the whole country, so the handlers behind the access checks run too.
A household with an enrolled person and an upload error report are seeded first, and every
generated UUID is sometimes one of theirs, so that the routes about a person get past 404.

Each operation gets Schemathesis's three phases, as its pytest plugin builds them: the schema's
examples, the coverage phase (boundary and just-invalid values for every parameter) and
MAX_EXAMPLES fuzzed cases in positive and negative mode. Generation is derandomized: a run is
reproducible and takes well under a minute.

(The plugin's own `schemathesis.pytest.from_fixture` cannot be used: with pytest 9 it fails on
`request.node._nodeid`. The loop below does what it does, one operation at a time.)"""

from __future__ import annotations

import datetime as dt
import importlib
import os
import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import orjson
import pytest
import requests
import schemathesis
from hypothesis import HealthCheck, Phase, settings
from hypothesis import strategies as st
from hypothesis.errors import Unsatisfiable
from schemathesis.checks import not_a_server_error
from schemathesis.core.failures import Failure, FailureGroup
from schemathesis.core.transport import Response
from schemathesis.generation.feedback import FeedbackSources
from schemathesis.generation.hypothesis.builder import (
    HypothesisTestConfig,
    HypothesisTestMode,
    create_test,
)
from schemathesis.python import asgi as schemathesis_asgi
from schemathesis.specs.openapi.checks import response_schema_conformance
from schemathesis.specs.openapi.formats import unregister_string_format

from devtools.testing.apps import running_app
from devtools.testing.infra import TestInfra
from shared.auth import NATIONAL, ensure_dev_keypair, mint_token
from shared.idnumber import check_character
from shared.security_settings import get_security_settings

SERVICES = ("registration", "eligibility", "payments", "reporting")
MAX_EXAMPLES = 10
CHECKS = [not_a_server_error, response_schema_conformance]


def new_id_number() -> str:
    day = dt.date(1970, 1, 1) + dt.timedelta(days=int.from_bytes(os.urandom(2), "big") % 12_000)
    first17 = f"370481{day:%Y%m%d}{int.from_bytes(os.urandom(2), 'big') % 1000:03d}"
    return first17 + check_character(first17)


async def _seed(infra: TestInfra) -> list[str]:
    """A household with its head enrolled for 2025 and in a group, and an upload error report:
    the UUIDs the fuzzer should hit now and then."""
    app = importlib.import_module("services.registration.app").create_app(
        infra.settings(consumers_enabled=False, relay_enabled=False))
    async with running_app(app) as client:  # auth is off for the test session by default
        r = await client.post("/v1/persons", json={
            "id_number": new_id_number(), "name": "王测试", "township_code": "370481001000",
            "village_code": "370481001001", "household_no": f"FZ{uuid.uuid4().hex[:10]}",
            "relation_to_head": "户主", "phone": "13800000000"})
        assert r.status_code == 201, r.text
        person = r.json()
        r = await client.post("/v1/enrollments",
                              json={"person_id": person["person_id"], "plan_year": 2025})
        assert r.status_code == 201, r.text
        r = await client.put(f"/v1/persons/{person['person_id']}/groups",
                             json={"group_code": "orphan"})
        assert r.status_code == 200, r.text
        bad = await client.post("/v1/targets/2025/upload",
                                files={"file": ("targets.csv", "乡镇,乡镇代码\n".encode())})
        assert bad.status_code == 422, bad.text
    return [person["person_id"], person["household_id"],
            bad.json()["error"]["error_report_id"]]


@pytest.fixture(scope="module")
async def fuzz_apps(infra: TestInfra, tmp_path_factory: pytest.TempPathFactory,
                    ) -> AsyncIterator[tuple[dict[str, Any], dict[str, str]]]:
    known = await _seed(infra)
    default_uuid = st.uuids().map(str)
    schemathesis.openapi.format("uuid", st.one_of(st.sampled_from(known), default_uuid))
    keys = Path(tmp_path_factory.mktemp("fuzz-keys"))
    private_path, _, kid = ensure_dev_keypair(keys)
    mp = pytest.MonkeyPatch()
    mp.setenv("CANBAO_AUTH_ENABLED", "true")
    mp.setenv("CANBAO_JWT_PUBLIC_KEYS_DIR", str(keys))
    mp.setenv("CANBAO_RATE_LIMIT_ENABLED", "false")
    get_security_settings.cache_clear()
    try:
        apps = {s: importlib.import_module(f"services.{s}.app").create_app(
            infra.settings(consumers_enabled=False, relay_enabled=False)) for s in SERVICES}
    finally:
        mp.undo()
        get_security_settings.cache_clear()
    token = mint_token(private_path.read_bytes(), kid, sub="fuzz-admin", role="administrator",
                       region=NATIONAL, issuer="canbao", audience="canbao")
    try:
        yield apps, {"authorization": f"Bearer {token}"}
    finally:
        schemathesis_asgi.shutdown_lifespans()  # the apps' lifespans, started on first call
        unregister_string_format("uuid")


def _fuzz(operation: schemathesis.APIOperation, headers: dict[str, str]) -> None:
    def check(case: schemathesis.Case) -> None:
        case.call_and_validate(headers=headers, checks=CHECKS)

    test = create_test(operation=operation, test_func=check, config=HypothesisTestConfig(
        project=operation.schema.config,
        modes=[HypothesisTestMode.EXAMPLES, HypothesisTestMode.COVERAGE,
               HypothesisTestMode.FUZZING],
        settings=settings(max_examples=MAX_EXAMPLES, deadline=None, derandomize=True,
                          database=None, phases=(Phase.explicit, Phase.generate),
                          suppress_health_check=list(HealthCheck)),
        feedback=FeedbackSources(),
    ))
    test()


@pytest.mark.parametrize("service", SERVICES)
def test_no_operation_answers_5xx(service: str, fuzz_apps: tuple[dict[str, Any], Any]) -> None:
    apps, headers = fuzz_apps
    schema = schemathesis.openapi.from_asgi("/openapi.json", apps[service])
    failures: list[str] = []
    operations = 0
    for result in schema.get_all_operations():
        operation = result.ok()  # an operation Schemathesis cannot read fails the test
        operations += 1
        try:
            _fuzz(operation, headers)
        except Unsatisfiable:
            continue  # nothing to vary (no parameters, no body)
        except Exception as exc:  # noqa: BLE001 - report every failing operation at once
            failures.append(f"{operation.label}: {exc}")
    assert operations >= 8
    assert not failures, f"{len(failures)} failing operation(s):\n\n" + "\n\n".join(failures)


def _answer(status: int, body: object) -> Response:
    request = requests.Request("GET", "http://test/").prepare()
    return Response(status, {"content-type": ["application/json"]}, orjson.dumps(body), request,
                    0.0, False)


@pytest.mark.parametrize("service", SERVICES)
def test_documented_errors_are_the_errors_we_answer(
        service: str, fuzz_apps: tuple[dict[str, Any], Any]) -> None:
    """Every error is `{"error": {"code", "message", ...}}` (ErrorBody), and the documents say
    so: FastAPI's `{"detail": [...]}` is gone, and response_schema_conformance refuses it (or
    an error without a code) wherever an operation documents a 4xx."""
    apps, _ = fuzz_apps
    app = apps[service]
    document = app.openapi()
    assert "HTTPValidationError" not in orjson.dumps(document).decode()
    public = app.state.access_control.public_paths
    schema = schemathesis.openapi.from_dict(document)
    ours = {"error": {"code": "invalid_request", "message": "x: bad",
                      "fields": [{"field": "x", "message": "bad"}]}}
    wrong = [{"detail": [{"loc": ["query", "x"], "msg": "bad", "type": "value_error"}]},
             {"detail": "Not Found"}, {"error": {"message": "no code"}}]
    checked = 0
    for path, item in document["paths"].items():
        for method, operation in item.items():
            responses = operation["responses"]
            statuses = [s for s in ("401", "403", "404", "409", "422") if s in responses]
            if path not in public:
                assert {"401", "403", "4XX"} <= set(responses), f"{method} {path}"
            api_operation = schema[path][method.upper()]
            for status in statuses:
                assert responses[status]["content"]["application/json"]["schema"] == {
                    "$ref": "#/components/schemas/ErrorBody"}
                assert api_operation.validate_response(_answer(int(status), ours)) is None
                for body in wrong:
                    with pytest.raises((Failure, FailureGroup)):
                        api_operation.validate_response(_answer(int(status), body))
                checked += 1
    assert checked >= 20
