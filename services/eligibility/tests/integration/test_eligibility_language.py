"""The preview in Chinese by default and in English with Accept-Language: en: the trace names
each rule in Chinese, cites the plan's section and says who pays what; errors follow suit."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator

import httpx
import pytest

from devtools.testing.apps import running_app
from devtools.testing.infra import TestInfra
from services.eligibility.app import create_app

_CJK = re.compile(r"[\u4e00-\u9fff]")
EN = {"Accept-Language": "en"}


@pytest.fixture(scope="module")
async def client(infra: TestInfra) -> AsyncIterator[httpx.AsyncClient]:
    app = create_app(infra.settings(consumers_enabled=False, relay_enabled=False))
    async with running_app(app) as c:
        yield c


SIXTY_NINE = {"region_code": "370481", "plan_year": 2025,
              "person": {"birth_date": "1956-05-01", "groups": []}}


async def test_trace_says_who_pays_what_citing_the_section(client) -> None:
    zh = await client.post("/v1/determinations/preview", json=SIXTY_NINE)
    en = await client.post("/v1/determinations/preview", json=SIXTY_NINE, headers=EN)
    assert zh.status_code == en.status_code == 200
    zh_trace = {t["rule_id"]: t for t in zh.json()["trace"]}
    en_trace = {t["rule_id"]: t for t in en.json()["trace"]}
    assert zh_trace.keys() == en_trace.keys()  # the same steps, codes and outcomes
    assert zh_trace["payers"]["reason"] == "个人缴费 200 元；市财政 200 元（60-69 周岁，二(三)1）"
    assert en_trace["payers"]["reason"] == (
        "the person pays 200 yuan; city finance pays 200 yuan (aged 60 to 69, section 二(三)1)")
    won = zh_trace["elderly_60_69"]
    assert won["outcome"] == en_trace["elderly_60_69"]["outcome"] == "won"
    assert won["reason"].startswith("60-69岁老年人：69 周岁")
    assert "此项资助 200 元" in won["reason"] and "二(三)1" in won["reason"]
    assert "this rule pays 200.00 yuan" in en_trace["elderly_60_69"]["reason"]
    for entry in zh.json()["trace"]:
        assert "reason_en" not in entry
        assert _CJK.search(entry["reason"]), entry  # every step reads in Chinese
        assert not re.search(r"\b(?:pays|holds|age|yuan)\b", entry["reason"]), entry
    # a rule id never stands in for its name in the Chinese text
    assert not any("hardship_full" in t["reason"] for t in zh.json()["trace"])


async def test_errors_follow_the_reader(client) -> None:
    unknown = {**SIXTY_NINE, "region_code": "110101"}
    zh = await client.post("/v1/determinations/preview", json=unknown)
    en = await client.post("/v1/determinations/preview", json=unknown, headers=EN)
    assert zh.status_code == en.status_code == 404
    assert zh.json()["error"]["code"] == en.json()["error"]["code"] == "plan_not_found"
    assert zh.json()["error"]["message"] == "110101 没有 2025 年度的实施方案"
    assert en.json()["error"]["message"] == "no plan for region 110101 and plan year 2025"

    bad_id = {**SIXTY_NINE, "person": {"id_number": "370481195605010010", "groups": []}}
    zh = (await client.post("/v1/determinations/preview", json=bad_id)).json()["error"]
    en = (await client.post("/v1/determinations/preview", json=bad_id, headers=EN)).json()
    assert zh["code"] == "invalid_id_number" and zh["message"].startswith(
        "person.id_number：身份证号校验码错误")
    assert not re.search(r"[A-Za-z]{4,}", zh["message"].split("：", 1)[1])
    assert en["error"]["message"].startswith("person.id_number: wrong check character")


async def test_explanation_and_assumptions_follow_the_reader(client) -> None:
    """The owed explanation names budget lines in words (never `city_finance`), and reads in
    English on request; assumptions are the policy file's Chinese statement by default."""
    zh = (await client.post("/v1/determinations/preview", json=SIXTY_NINE)).json()
    en = (await client.post("/v1/determinations/preview", json=SIXTY_NINE, headers=EN)).json()
    assert "市财政 200.00 元" in zh["explanation"] and "city_finance" not in zh["explanation"]
    assert "city finance 200.00 yuan" in en["explanation"]
    assert not _CJK.search(en["explanation"].replace("二(四)", ""))
    assert zh["assumptions"] and en["assumptions"]
    assert [a.split(": ", 1)[0] for a in zh["assumptions"]] == \
        [a.split(": ", 1)[0] for a in en["assumptions"]]
    assert all(_CJK.search(a.split(": ", 1)[1][:12]) for a in zh["assumptions"])
    assert zh["assumptions"] != en["assumptions"]
