from __future__ import annotations

from devtools.testing.apps import running_app
from devtools.testing.infra import TestInfra
from services.registration.app import create_app
from shared.idnumber import check_character


def new_id_number(first17: str) -> str:
    return first17 + check_character(first17)


async def test_register_person_and_enroll(infra: TestInfra) -> None:
    app = create_app(infra.settings(consumers_enabled=False))
    async with running_app(app) as client:
        id_number = new_id_number("37048119800101001")
        r = await client.post("/v1/persons", json={
            "id_number": id_number, "name": "张小三", "township_code": "370481001000"})
        assert r.status_code == 201, r.text
        person = r.json()
        assert person["id_number_masked"] == "370481" + "*" * 11 + id_number[-1]
        assert person["name_masked"] == "张*三"
        assert id_number not in r.text
        again = await client.post("/v1/persons", json={
            "id_number": id_number, "name": "张小三", "township_code": "370481001000"})
        assert again.status_code == 409
        bad = await client.post("/v1/persons", json={
            "id_number": id_number[:-1] + ("0" if id_number[-1] != "0" else "1"),
            "name": "李四", "township_code": "370481001000"})
        assert bad.status_code == 422 and bad.json()["error"]["code"] == "invalid_id_number"
        e = await client.post("/v1/enrollments", json={"person_id": person["person_id"], "plan_year": 2025})
        assert e.status_code == 201, e.text
        assert e.json()["insured_category"] == "adult"
        found = await client.post("/v1/persons/lookup", json={"id_number": id_number})
        assert found.json()["person_id"] == person["person_id"]
        ready = await client.get("/readyz")
        assert ready.json()["checks"]["database"] == "ok"
        assert ready.json()["checks"]["migrations"] == "ok"
