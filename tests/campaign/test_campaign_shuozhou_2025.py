"""Seed 004, 朔州市2025年度城乡居民基本医疗保险集中征缴工作实施方案 (朔政办函〔2024〕54号), a
city-level plan, end to end through the four running services and the real broker: a village of
朔城区北城街道 with five households (特困, 低保, 返贫致贫, 脱贫不稳定 people, a newborn registered
in time and one registered late), the civil affairs and agriculture lists uploaded as files,
enrollment, determinations, bills, payments through WeChat Pay (sent twice), Alipay and a bank
(one late), the medical assistance fund's proxy batch with its payment date, then city-wide
progress, publicity, reminders and the funding application."""

from __future__ import annotations

import datetime as dt

import httpx

from devtools.testing.system import RunningSystem

from .support import (
    FREE,
    Campaign,
    Resident,
    assumption_ids,
    by_line,
    china,
    delta,
    eventually,
    line_deltas,
    new_id_number,
    subsidies,
)

D = dt.date


async def test_shuozhou_2025_campaign(campaign_system: RunningSystem,
                                      http: httpx.AsyncClient) -> None:
    c = Campaign(campaign_system, http, county="140600", district="140602",
                 township="140602001000", village="140602001201", village_name="新安村",
                 plan_year=2025, today="2025-02-20")  # reminders read on a day near the end of 集中征缴期 2024年9月至2025年2月底
    city_before = (await c.progress())["totals"]
    funding_before = by_line(await c.funding(), c.township)
    fund_before = await c.fund_totals()

    # --- residents and households (二(一):
    # 城乡居民医保制度覆盖职工基本医疗保险应参保人员以外的其他所有城乡居民)
    await c.upload_village()
    jun = await c.register(Resident("郝军", D(1980, 1, 15), "140602001201-0001",
                                    phone="13503490001"))
    hli = await c.register(Resident("郝丽", D(1983, 6, 6), "140602001201-0001",
                                    relation="配偶", phone="13503490002"))
    fugui = await c.register(Resident("田富贵", D(1960, 2, 2), "140602001201-0002"))
    chunhua = await c.register(Resident("杨春花", D(1972, 7, 7), "140602001201-0003",
                                        phone="13503490004"))
    baiyun = await c.register(Resident("白云", D(1978, 8, 8), "140602001201-0004",
                                       phone="13503490005"))
    baixue = await c.register(Resident("白雪", D(1982, 9, 9), "140602001201-0004",
                                       relation="配偶"))
    kangli = await c.register(Resident("康丽", D(1990, 3, 3), "140602001201-0005",
                                       phone="13503490007"))
    # born 2025-06-01, registered 96 days later: not within 二(三)'s 90 days, an ordinary
    # resident who enrolls late
    kangle = await c.register(Resident("康乐", D(2025, 6, 1), "140602001201-0005",
                                       relation="子"))
    household = await c.household_of(baiyun)
    assert {m["person_id"] for m in household["members"]} == c.ids(baiyun, baixue)

    # 三(二): 民政和农业农村部门要及时将困难群体动态调整信息反馈至医保部门
    await c.upload_list("civil_affairs", [(fugui, "特困供养人员", D(2022, 1, 1)),
                                          (chunhua, "农村低保", D(2023, 4, 1))], as_xlsx=True)
    await c.upload_list("rural_revitalization", [(baiyun, "返贫致贫人口", D(2023, 9, 1)),
                                                 (baixue, "脱贫不稳定人口", D(2023, 9, 1))],
                        as_xlsx=False)

    # 二(三): 城乡居民医保集中征缴期原则上从2024年9月开始至2025年2月底结束
    for person in (jun, hli, fugui, chunhua, baiyun, baixue, kangli):
        await c.enroll(person, D(2024, 9, 10))
    await c.enroll(kangle, D(2025, 9, 5))

    # --- determinations -------------------------------------------------------------------
    # 二(二): 2024年预收2025年度城乡居民医保个人缴费标准为每人每年400元
    d = await c.determination(jun, lambda d: d["personal_fen"] == 40000)
    assert d["coverage_start"] == "2025-01-01"
    # 二(二): 特困人员给予全额资助
    d = await c.determination(fugui, lambda d: d["personal_fen"] == 0)
    assert subsidies(d) == {("medical_assistance_fund", 40000)}
    # 二(二): 低保对象按个人缴费标准80%的比例给予定额资助
    d = await c.determination(chunhua, lambda d: d["personal_fen"] == 8000)
    assert subsidies(d) == {("medical_assistance_fund", 32000)}
    # 二(二): 返贫致贫人口按个人缴费标准90%的比例给予定额资助
    d = await c.determination(baiyun, lambda d: d["personal_fen"] == 4000)
    assert subsidies(d) == {("medical_assistance_fund", 36000)}
    # 二(二): 易返贫致贫人口（包括脱贫不稳定人口和边缘易致贫人口 …）按每人每年280元的标准定额资助
    d = await c.determination(baixue, lambda d: d["personal_fen"] == 12000)
    assert subsidies(d) == {("medical_assistance_fund", 28000)}
    # coverage never starts before birth
    d = await c.determination(kangle, lambda d: d["personal_fen"] == 40000)
    assert d["coverage_start"] >= "2025-06-01"

    await eventually(c.reminded,
                     lambda r: r == {"郝军", "郝丽", "杨春花", "白云", "白雪", "康丽", "康乐"})

    # --- bills --------------------------------------------------------------------------------
    bill = await c.bill(jun, D(2024, 10, 15), lambda b: b["amount_fen"] == 40000)
    assert (bill["timing"], bill["coverage_start"]) == ("on_time", "2025-01-01")
    # 二(三): 集中征缴期 … 至2025年2月底结束 — February is still on time
    kangli_bill = await c.bill(kangli, D(2025, 2, 20), lambda b: b["amount_fen"] == 40000)
    assert (kangli_bill["timing"], kangli_bill["coverage_start"]) == ("on_time", "2025-01-01")
    chunhua_bill = await c.bill(chunhua, D(2025, 1, 10), lambda b: b["amount_fen"] == 8000)
    baiyun_bill = await c.bill(baiyun, D(2025, 2, 10), lambda b: b["amount_fen"] == 4000)
    baixue_bill = await c.bill(baixue, D(2025, 2, 25), lambda b: b["amount_fen"] == 12000)
    # 二(三): 对 … 中断缴费人员 … 设置不低于3个月的待遇等待期 (the months are the policy's declared
    # assumption national_waiting_detail): paid 2025-09-05, covered from 2025-12-05
    late_bill = await c.bill(kangle, D(2025, 9, 5), lambda b: b["amount_fen"] == 40000)
    assert (late_bill["timing"], late_bill["coverage_start"]) == ("late", "2025-12-05")
    assert "national_waiting_detail" in assumption_ids(late_bill)

    # --- the medical assistance fund's proxy payment (二(二): 资助) -------------------------------
    await c.proxy_batch("medical_assistance_fund", D(2025, 2, 20),
                        [(fugui, 40000), (chunhua, 32000), (baiyun, 36000), (baixue, 28000)])
    village = await c.village_when(lambda v: v["paid_government_fen"] == 136000)
    # 杨春花, 白云 and 白雪 still owe their own parts: only 田富贵 is paid
    assert village["paid"] == 1
    assert {name for name, _ in await c.publicity_parts()} == {"田富贵"}
    assert {"杨春花", "白云", "白雪"} <= await c.reminded()

    # --- the residents pay through the channels -----------------------------------------------
    await c.pay_wechat(bill["order_no"], 40000, china(D(2024, 10, 15)), times=2)  # one retry
    await c.pay_alipay(kangli_bill["order_no"], 40000, china(D(2025, 2, 20)))
    await c.pay_alipay(chunhua_bill["order_no"], 8000, china(D(2025, 1, 10)))
    await c.pay_bank(baiyun_bill["order_no"], 4000, china(D(2025, 2, 10)))
    await c.pay_wechat(baixue_bill["order_no"], 12000, china(D(2025, 2, 25)))
    await c.pay_bank(late_bill["order_no"], 40000, china(D(2025, 9, 5)))

    expected_publicity = {
        ("郝军", "person"): (40000, ("2024-10-15",)),      # 400 once, though sent twice
        ("康丽", "person"): (40000, ("2025-02-20",)),
        ("田富贵", "government"): (40000, ("2025-02-20",)),
        ("杨春花", "person"): (8000, ("2025-01-10",)),     # each part for whoever paid it
        ("杨春花", "government"): (32000, ("2025-02-20",)),
        ("白云", "person"): (4000, ("2025-02-10",)),
        ("白云", "government"): (36000, ("2025-02-20",)),
        ("白雪", "person"): (12000, ("2025-02-25",)),
        ("白雪", "government"): (28000, ("2025-02-20",)),
        ("康乐", "person"): (40000, ("2025-09-05",)),
    }
    parts = await eventually(c.publicity_parts, lambda p: p == expected_publicity)
    assert parts == expected_publicity
    # the retried payment counted once; the late one matched with the later coverage start
    assert await c.settled(jun, D(2024, 10, 15)) == (40000, "on_time", "2025-01-01")
    assert await c.settled(kangle, D(2025, 9, 5)) == (40000, "late", "2025-12-05")
    assert (await c.publicity())["village_name"] == "新安村"

    village = await c.village_when(lambda v: v["paid"] == 7)
    assert (village["name"], village["registered"], village["paid"]) == ("新安村", 8, 7)
    assert village["paid_person_fen"] == 40000 + 40000 + 8000 + 4000 + 12000 + 40000
    assert village["paid_government_fen"] == 136000
    await eventually(c.reminded, lambda r: r == {"郝丽"})

    # a city-level plan: the city's own progress counts its districts' people
    city_after = (await c.progress())["totals"]
    assert delta(city_after, city_before, "registered", "paid") == {"registered": 8, "paid": 7}

    assert await c.funded() == {("田富贵", "medical_assistance_fund", 40000, True),
                                ("杨春花", "medical_assistance_fund", 32000, True),
                                ("白云", "medical_assistance_fund", 36000, True),
                                ("白雪", "medical_assistance_fund", 28000, True)}
    assert line_deltas(by_line(await c.funding(), c.township), funding_before) == {
        "medical_assistance_fund": (4, 136000)}

    # the fund summary counts each part for whoever paid it
    fund = delta(await c.fund_totals(), fund_before, "insured", "personal_contributions_fen",
                 "government_proxy_payments_fen")
    assert fund == {"insured": 7,
                    "personal_contributions_fen": 144000,
                    "government_proxy_payments_fen": 136000}

    # --- a newborn registered within 90 days (二(三): 新生儿自出生之日起（90日内）办理当年参保登记
    # 手续（当年不缴费），从出生之日起享受当年医疗保险待遇): owes nothing, is never reminded
    baby = new_id_number("140602", D(2025, 3, 1))
    r = await http.post(c.url("registration", "/v1/newborns"), json={
        "name": "郝小宝", "id_number": baby, "parent_id_number": jun.id_number,
        "plan_year": 2025, "registered_on": "2025-04-10"}, headers=c.clerk)
    assert r.status_code == 201, r.text
    newborn = Resident("郝小宝", D(2025, 3, 1), "140602001201-0001", relation="子",
                       id_number=baby, person_id=r.json()["person"]["person_id"])
    d = await c.determination(newborn, lambda d: d["coverage_start"] == "2025-03-01")
    assert (d["personal_fen"], d["subsidies"]) == (0, [])
    free = await c.bill(newborn, D(2025, 4, 10), lambda b: b["status"] in FREE)
    assert free["coverage_start"] == "2025-03-01"
    await c.village_when(lambda v: v["registered"] == 9)  # reporting knows the newborn
    assert newborn.person_id not in await c.reminder_ids()
