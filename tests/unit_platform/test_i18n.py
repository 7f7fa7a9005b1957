"""Chinese first, English on request: language negotiation, the error catalog, and the one
place that renders an error body (a small FastAPI app over real HTTP)."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Annotated

import pytest
from fastapi import FastAPI
from pydantic import AfterValidator, BaseModel, Field

from devtools.testing.apps import running_app
from shared.errors import Forbidden, Invalid, NotFound, install_error_handlers
from shared.i18n import EN, ZH, negotiate
from shared.idnumber import parse_id_number
from shared.messages import render
from shared.messages.errors import ERRORS

ROOT = Path(__file__).resolve().parents[2]
_CJK = re.compile(r"[\u4e00-\u9fff]")


@pytest.mark.parametrize("header,lang", [
    (None, ZH), ("", ZH), ("zh-CN,zh;q=0.9", ZH), ("en", EN), ("en-US,en;q=0.9", EN),
    ("zh-CN;q=0.5, en;q=0.8", EN), ("en;q=0.3, zh;q=0.9", ZH), ("fr, en;q=0.5", EN),
    ("fr", ZH), ("en;q=0", ZH), ("*", ZH), ("EN-gb", EN),
])
def test_negotiate(header: str | None, lang: str) -> None:
    assert negotiate(header) == lang


def _codes_in_source() -> set[str]:
    found: set[str] = set()
    for folder in ("services", "shared", "kernels"):
        for path in (ROOT / folder).rglob("*.py"):
            if "tests" in path.parts or "testing" in path.parts:
                continue
            text = path.read_text(encoding="utf-8")
            found |= set(re.findall(r"\b(?:code|key)\s*=\s*\"([a-z][a-z0-9_]+)\"", text))
    return found


def test_every_error_code_raised_has_a_chinese_and_an_english_message() -> None:
    codes = _codes_in_source()
    assert {"person_not_found", "forbidden_role", "invalid_id_number"} <= codes  # the scan works
    # codes that are not error codes (an outcome, a channel, ...) are allowed to be missing
    # only if nothing raises them: every DomainError code appears as code="..." in a raise
    missing = sorted(c for c in codes if c not in ERRORS and _raised(c))
    assert not missing, f"no message for {missing}"
    for key, templates in ERRORS.items():
        for zh, en in templates:
            # "{raised}": the raise site's own Chinese text, with its particulars
            assert _CJK.search(zh) or zh in ("{reason}", "{field}：{reason}", "{raised}"), \
                (key, zh)
            assert not _CJK.search(re.sub(r"\{[^}]*\}", "", en)), (key, en)


def _raised(code: str) -> bool:
    pattern = re.compile(r"(?:raise|return|=)\s+\w+\((?:[^()]|\([^()]*\))*?\b(?:code|key)="
                         rf"\"{code}\"", re.S)
    for folder in ("services", "shared", "kernels"):
        for path in (ROOT / folder).rglob("*.py"):
            if "tests" not in path.parts and pattern.search(path.read_text(encoding="utf-8")):
                return True
    return bool(re.search(rf"^\s+code = \"{code}\"", "\n".join(
        p.read_text(encoding="utf-8") for folder in ("services", "shared", "kernels")
        for p in (ROOT / folder).rglob("*.py") if "tests" not in p.parts), re.M))


def test_render_takes_the_most_precise_template_its_params_fill() -> None:
    assert render("forbidden_region", ZH, {"region": "370481"}) == "地区 370481 不在您的管辖范围内"
    assert render("forbidden_region", ZH, {}) == "所涉人员或款项不在您的管辖范围内"
    assert render("forbidden_region", EN, {"region": "370481"}) == \
        "region 370481 is outside your region"
    assert render("no_such_key", ZH, {}) is None


class Body(BaseModel):
    id_number: Annotated[str, AfterValidator(lambda v: parse_id_number(v).value)]
    count: int = Field(ge=1)


def _app() -> FastAPI:
    app = FastAPI()
    install_error_handlers(app)

    @app.get("/person")
    async def person() -> None:
        raise NotFound("no such person", code="person_not_found")

    @app.get("/role")
    async def role() -> None:
        raise Forbidden("role township_staff may not make this call", code="forbidden_role")

    @app.get("/reason")
    async def reason() -> None:
        raise Invalid("reason 'x'", field="reason", key="unknown_reason",
                      params={"reason": "x", "choices": ["died", "other"]})

    @app.post("/body")
    async def body(data: Body) -> None:
        return None

    return app


async def test_error_bodies_are_chinese_unless_english_is_asked_for() -> None:
    async with running_app(_app()) as client:
        before = await client.get("/person")
        assert before.status_code == 404
        assert before.json()["error"] == {"code": "person_not_found",
                                          "message": "查无此人（或不在您的管辖范围内）"}
        assert before.headers["content-language"] == "zh-CN"
        english = await client.get("/person", headers={"Accept-Language": "en-US,en;q=0.9"})
        assert english.json()["error"]["code"] == "person_not_found"  # codes never change
        assert english.json()["error"]["message"] == "no such person (or not in your region)"
        assert english.headers["content-language"] == "en"

        role = (await client.get("/role")).json()["error"]
        assert role == {"code": "forbidden_role", "message": "您的角色无权进行此操作"}

        reason = (await client.get("/reason")).json()["error"]
        assert reason["message"] == "未知的原因 x，可选：died、other"
        assert reason["field"] == "reason"
        reason_en = (await client.get("/reason", headers={"Accept-Language": "en"})).json()
        assert reason_en["error"]["message"] == "unknown reason x; one of died, other"

        unknown_path = (await client.get("/nowhere")).json()["error"]
        assert unknown_path == {"code": "not_found", "message": "没有这个地址或资源"}


async def test_validation_errors_read_in_one_language() -> None:
    """A wrong ID number check character and a missing field: all Chinese by default (no
    English words in brackets), all English with Accept-Language: en."""
    wrong = {"id_number": "370481198001010010", "count": 0}
    async with running_app(_app()) as client:
        zh = (await client.post("/body", json=wrong)).json()["error"]
        en = (await client.post("/body", json=wrong, headers={"Accept-Language": "en"})).json()
    assert zh["code"] == en["error"]["code"] == "invalid_request"
    messages = {f["field"]: f["message"] for f in zh["fields"]}
    assert messages["id_number"].startswith("身份证号校验码错误")
    assert not re.search(r"[A-Za-z]{3,}", messages["id_number"])
    assert messages["count"] == "应不小于 1"
    assert zh["message"] == f"id_number：{messages['id_number']}"
    en_messages = {f["field"]: f["message"] for f in en["error"]["fields"]}
    assert en_messages["id_number"].startswith("wrong check character")
    assert not _CJK.search(en["error"]["message"])


def test_a_validator_refusal_in_two_languages() -> None:
    from shared.errors import validation_message
    from shared.i18n import TextError

    err = {"type": "value_error", "msg": "Value error, 终止日期早于认定日期",
           "ctx": {"error": TextError("终止日期早于认定日期", "a membership cannot end before "
                                      "it was certified")}}
    assert validation_message(err, ZH) == "终止日期早于认定日期"
    assert validation_message(err, EN) == "a membership cannot end before it was certified"
