"""Seed 001, 滕州市2021年度居民基本医疗保险参保征缴工作实施方案, end to end through the four
running services and the real broker: a village of 北辛街道 with three households, the poverty
office's certified list uploaded as a file, enrollment, determinations (on time and late), bills
for on-time and late payment dates, payments through WeChat Pay (sent twice), Alipay (one of
them late and short) and a bank (late, at the full cost), the city's proxy batch paid within the
subsidized people's extra month, then progress, publicity, reminders and the funding
application."""

from __future__ import annotations

import datetime as dt

import httpx

from devtools.testing.system import RunningSystem

from .support import (
    FREE,
    Campaign,
    Resident,
    by_line,
    china,
    delta,
    eventually,
    line_deltas,
    subsidies,
)

D = dt.date


async def test_tengzhou_2021_campaign(campaign_system: RunningSystem,
                                      http: httpx.AsyncClient) -> None:
    c = Campaign(campaign_system, http, county="370481", district="370481",
                 township="370481003000", village="370481003201", village_name="西关村",
                 plan_year=2021, today="2020-12-15")  # reminders read on a day near the end of 二(三): 集中征缴期：2020年11月1日—12月20日
    township_before = await c.township_progress()
    funding_before = by_line(await c.funding(), c.township)
    fund_before = await c.fund_totals()

    # --- residents and households
    # (二(四): 具有我市户籍且不属于城镇职工基本医疗保险参保范围的城乡居民)
    await c.upload_village()
    zhiqiang = await c.register(Resident("孙志强", D(1975, 3, 12), "370481003201-0001",
                                         phone="13805460001"))
    deming = await c.register(Resident("孙德明", D(1957, 6, 20), "370481003201-0001",
                                       relation="父亲", phone="13805460002"))  # 64 in 2021
    guifang = await c.register(Resident("刘桂芳", D(1968, 9, 1), "370481003201-0002"))
    lei = await c.register(Resident("王磊", D(1988, 4, 4), "370481003201-0003",
                                    phone="13805460004"))
    fang = await c.register(Resident("王芳", D(1990, 7, 7), "370481003201-0003",
                                     relation="配偶", phone="13805460005"))
    household = await c.household_of(zhiqiang)
    assert {m["person_id"] for m in household["members"]} == c.ids(zhiqiang, deming)
    assert household["head_person_id"] == zhiqiang.person_id

    # 二(五)(2): 政府资助人员，由市扶贫办 … 根据职责分别确认政府资助人员的资格信息 …
    # 核对无误后向市医保局提供《政府资助人员名单》
    uploaded = await c.upload_list("rural_revitalization",
                                   [(guifang, "脱贫享受政策人口", D(2019, 5, 1))], as_xlsx=True)
    assert uploaded["version"]["row_count"] == 1

    # 二(三): 集中征缴期：2020年11月1日—12月20日
    for person in (zhiqiang, deming, guifang, fang):
        await c.enroll(person, D(2020, 11, 5))
    await c.enroll(lei, D(2021, 2, 25))

    # --- determinations: on time and late ---------------------------------------------------
    # 二(一): 个人缴费标准为每人每年280元; 二(三): 否则需全额缴纳包括各级政府补助（资助）资金在内的
    # 居民基本医疗保险费 — 280 + 550 (二(一): 人均财政补助标准不低于550元) = 830, no 资助 at all
    d = await c.determination(zhiqiang, lambda d: d["personal_fen"] == 28000)
    assert d["coverage_start"] == "2021-01-01"
    assert d["late"]["personal_fen"] == 83000
    assert d["late"]["surcharge_fen"] == 55000
    assert d["late"]["subsidies"] == []
    # 二(二)(2): 60岁(含60岁)—69岁老年人，参保个人缴费部分由市财政承担50%
    d = await c.determination(deming, lambda d: d["personal_fen"] == 14000)
    assert subsidies(d) == {("city_finance", 14000)}
    assert d["late"]["personal_fen"] == 83000 and d["late"]["subsidies"] == []
    # 二(二)(1): 建档立卡贫困人口中脱贫享受政策人口 … 参保个人缴费部分由市财政承担
    d = await c.determination(guifang, lambda d: d["personal_fen"] == 0)
    assert subsidies(d) == {("city_finance", 28000)}
    assert d["late"]["personal_fen"] == 83000 and d["late"]["subsidies"] == []

    # 三(一): 负责组织居民基本医疗保险费的集中征缴 — before anything is paid, everyone who owes
    # money of their own is on the village's reminder list; 刘桂芳 owes nothing and is never
    # reminded
    await eventually(c.reminded, lambda r: r == {"孙志强", "孙德明", "王磊", "王芳"})

    # --- bills --------------------------------------------------------------------------------
    # 二(三): paid in the period: 280, covered from 2021-01-01 (the plan year)
    bill = await c.bill(zhiqiang, D(2020, 12, 1), lambda b: b["amount_fen"] == 28000)
    assert (bill["timing"], bill["coverage_start"]) == ("on_time", "2021-01-01")
    # 二(三): 否则需全额缴纳 … 且缴费30日后方可享受居民基本医疗保险待遇: 2021-03-01 + 30 days
    late_bill = await c.bill(lei, D(2021, 3, 1), lambda b: b["amount_fen"] == 83000)
    assert (late_bill["timing"], late_bill["coverage_start"]) == ("late", "2021-03-31")
    fang_in_period = await c.bill(fang, D(2020, 12, 15), lambda b: b["amount_fen"] == 28000)
    assert fang_in_period["timing"] == "on_time"
    fang_late = await c.bill(fang, D(2021, 2, 15), lambda b: b["amount_fen"] == 83000)
    assert (fang_late["timing"], fang_late["coverage_start"]) == ("late", "2021-03-17")
    # 二(三): （政府资助人员可延长1个月） — subsidized until 2021-01-20, then the full 830
    subsidized = await c.bill(guifang, D(2021, 1, 15), lambda b: b["status"] in FREE)
    assert subsidized["coverage_start"] == "2021-01-01"
    beyond = await c.bill(guifang, D(2021, 1, 21), lambda b: b["amount_fen"] == 83000)
    assert beyond["timing"] == "late"
    deming_bill = await c.bill(deming, D(2020, 12, 10), lambda b: b["amount_fen"] == 14000)
    assert deming_bill["coverage_start"] == "2021-01-01"

    # --- the city pays its part first (二(二)(1),(2): 由市财政承担), within the extra month ---
    await c.proxy_batch("city_finance", D(2021, 1, 15), [(deming, 14000), (guifang, 28000)])
    village = await c.village_when(lambda v: v["paid_government_fen"] == 42000)
    # only 刘桂芳's whole due is covered; 孙德明 still owes his own 140 yuan
    assert village["paid"] == 1
    assert {p[0] for p in await c.publicity_parts()} == {"刘桂芳"}
    assert "孙德明" in await c.reminded()

    # --- the residents pay through the channels -----------------------------------------------
    await c.pay_wechat(bill["order_no"], 28000, china(D(2020, 12, 1)), times=2)  # one retry
    await c.pay_alipay(deming_bill["order_no"], 14000, china(D(2020, 12, 10)))
    await c.pay_bank(late_bill["order_no"], 83000, china(D(2021, 3, 1)))
    # 王芳 pays the in-period 280 after the period: not her whole due (二(三): 否则需全额缴纳)
    await c.pay_alipay(fang_in_period["order_no"], 28000, china(D(2021, 2, 15)))

    expected_publicity = {
        ("孙志强", "person"): (28000, ("2020-12-01",)),   # 280 once, though WeChat sent it twice
        ("孙德明", "person"): (14000, ("2020-12-10",)),   # each part for whoever paid it
        ("孙德明", "government"): (14000, ("2021-01-15",)),
        ("刘桂芳", "government"): (28000, ("2021-01-15",)),  # the batch's own payment date
        ("王磊", "person"): (83000, ("2021-03-01",)),     # 二(三): 全额缴纳 830
    }
    parts = await eventually(c.publicity_parts, lambda p: p == expected_publicity)
    assert parts == expected_publicity
    # the retried payment counted once; the late one matched at the late amount and covered from
    # 30 days after it (二(三)); 王芳's in-period 280 paid late settles nothing
    assert await c.settled(zhiqiang, D(2020, 12, 1)) == (28000, "on_time", "2021-01-01")
    assert await c.settled(lei, D(2021, 3, 1)) == (83000, "late", "2021-03-31")
    assert (await c.lookup_bill(fang, D(2021, 3, 1))).json()["status"] != "paid"
    publicity = await c.publicity()
    assert publicity["village_name"] == "西关村"

    village = await c.village_when(lambda v: v["paid"] == 4)
    assert (village["name"], village["registered"], village["paid"]) == ("西关村", 5, 4)
    assert village["paid_person_fen"] == 28000 + 14000 + 83000
    assert village["paid_government_fen"] == 14000 + 28000
    await eventually(c.reminded, lambda r: r == {"王芳"})

    after = await c.township_progress()
    assert delta(after, township_before, "registered", "paid", "paid_person_fen",
                 "paid_government_fen") == {"registered": 5, "paid": 4,
                                            "paid_person_fen": 125000,
                                            "paid_government_fen": 42000}

    # 二(五)(2): 《政府资助人员名单》,作为最终财政配套依据 — the city's part per person
    assert await c.funded() == {("孙德明", "city_finance", 14000, True),
                                ("刘桂芳", "city_finance", 28000, True)}
    lines = by_line(await c.funding(), c.township)
    assert line_deltas(lines, funding_before) == {"city_finance": (2, 42000)}
    # the fund summary counts each part for whoever paid it
    fund = delta(await c.fund_totals(), fund_before, "insured", "personal_contributions_fen",
                 "government_proxy_payments_fen")
    assert fund == {"insured": 4,
                    "personal_contributions_fen": 125000,
                    "government_proxy_payments_fen": 42000}
