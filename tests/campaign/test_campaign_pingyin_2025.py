"""Seed 002, 2025年度平阴县居民基本医疗保险参保缴费工作实施方案 (平政办字〔2024〕9号), end to end
through the four running services and the real broker: a village of 榆山街道 with four
households (an adult, a child, a university student, 低保 people certified before and after the
12-20 final list, a 脱贫享受政策人口, a latecomer), the civil affairs and rural revitalization
lists uploaded as files, enrollment, determinations (on time and late), bills, payments through
WeChat Pay (sent twice), Alipay and a bank (one late), the medical assistance fund's and the
rural revitalization office's proxy batches with their payment dates, then progress, publicity,
reminders and the funding application."""

from __future__ import annotations

import datetime as dt

import httpx

from devtools.testing.system import RunningSystem

from .support import (
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


async def test_pingyin_2025_campaign(campaign_system: RunningSystem,
                                     http: httpx.AsyncClient) -> None:
    c = Campaign(campaign_system, http, county="370124", district="370124",
                 township="370124001000", village="370124001201", village_name="东关村",
                 plan_year=2025, today="2024-12-20")  # reminders read on a day near the end of 二(二)(2): 集中缴费期 2024年9月1日至12月31日
    township_before = await c.township_progress()
    funding_before = by_line(await c.funding(), c.township)
    fund_before = await c.fund_totals()

    # --- residents and households (三(一): 具有平阴县户籍的居民 …) -----------------------------
    await c.upload_village()
    wei = await c.register(Resident("张伟", D(1982, 2, 14), "370124001201-0001",
                                    phone="13705310001"))
    xiaoyu = await c.register(Resident("张小雨", D(2015, 6, 1), "370124001201-0001",
                                       relation="女"))
    xiao = await c.register(Resident("张晓", D(2005, 3, 1), "370124001201-0001", relation="子",
                                     school="山东大学"))
    shulan = await c.register(Resident("刘淑兰", D(1970, 4, 4), "370124001201-0002"))
    jian = await c.register(Resident("刘建", D(1975, 5, 5), "370124001201-0002",
                                     relation="子"))
    desheng = await c.register(Resident("马德胜", D(1965, 9, 9), "370124001201-0003"))
    li = await c.register(Resident("孙丽", D(1992, 12, 12), "370124001201-0004",
                                   phone="13705310007"))
    household = await c.household_of(wei)
    assert {m["person_id"] for m in household["members"]} == c.ids(wei, xiaoyu, xiao)

    # 四(二): 县民政局负责提报低保对象 … 政府资助人员名单 — 刘建 certified after the 12-20 final
    # list
    # (四(六): 县医保局将以此最终名单核对政府资助人员参保情况，防止政府资助人员漏缴: a check, not
    # a cut-off)
    await c.upload_list("civil_affairs", [(shulan, "低保对象", D(2024, 3, 1)),
                                          (jian, "城乡低保", D(2024, 12, 25))], as_xlsx=True)
    # 三(三): 县乡村振兴部门 … 对辖区内不享受其他资助参保政策的“脱贫享受政策人口”全额代缴
    await c.upload_list("rural_revitalization", [(desheng, "脱贫享受政策人口", D(2020, 1, 1))],
                        as_xlsx=False)

    # 三(二)1: 2024年9月1日至12月31日为2025年度居民基本医疗保险的集中参保登记缴费期
    for person in (wei, xiaoyu, shulan, jian, desheng):
        await c.enroll(person, D(2024, 10, 15))
    await c.enroll(xiao, D(2024, 10, 20), category="student")
    await c.enroll(li, D(2025, 2, 10))

    # --- determinations -------------------------------------------------------------------
    # 三(三): 成年居民个人缴费标准由每人每年420元调整为440元
    d = await c.determination(wei, lambda d: d["personal_fen"] == 44000)
    assert d["coverage_start"] == "2025-01-01"  # 三(二)2: 2025年1月1日至12月31日为待遇享受期
    # 三(三): 少年儿童个人缴费标准由每人每年360元调整为390元 (三(一): 2007年1月1日之后出生)
    await c.determination(xiaoyu, lambda d: d["personal_fen"] == 39000)
    # 三(三): 驻济高校大学生个人缴费标准不变，仍为240元
    await c.determination(xiao, lambda d: d["personal_fen"] == 24000)
    # 三(三): 低保对象 … 上述政府资助人员个人不缴费，由政府给予全额补助
    for person in (shulan, jian):
        d = await c.determination(person, lambda d: d["personal_fen"] == 0)
        assert subsidies(d) == {("medical_assistance_fund", 44000)}
    # 三(三): 在集中征缴期内 … “脱贫享受政策人口”全额代缴 — only for payment within the period
    d = await c.determination(desheng, lambda d: d["personal_fen"] == 0)
    assert subsidies(d) == {("rural_revitalization", 44000)}
    assert d["late"]["personal_fen"] == 44000 and d["late"]["subsidies"] == []

    await eventually(c.reminded, lambda r: r == {"张伟", "张小雨", "张晓", "孙丽"})

    # --- bills --------------------------------------------------------------------------------
    bill = await c.bill(wei, D(2024, 11, 20), lambda b: b["amount_fen"] == 44000)
    assert (bill["timing"], bill["coverage_start"]) == ("on_time", "2025-01-01")
    child_bill = await c.bill(xiaoyu, D(2024, 12, 5), lambda b: b["amount_fen"] == 39000)
    student_bill = await c.bill(xiao, D(2024, 12, 10), lambda b: b["amount_fen"] == 24000)
    # 三(四): 错过集中缴费期后申请参保的居民应补缴当年费用 … 待遇享受等待期为3个月（从缴费当月开始
    # 计算）: paid in February, the waiting months are February, March and April
    late_bill = await c.bill(li, D(2025, 2, 10), lambda b: b["amount_fen"] == 44000)
    assert (late_bill["timing"], late_bill["coverage_start"]) == ("late", "2025-05-01")
    # 三(三): 在集中征缴期内 … 全额代缴: after the period 马德胜 pays the standard himself
    unsubsidized = await c.bill(desheng, D(2025, 1, 15), lambda b: b["amount_fen"] == 44000)
    assert (unsubsidized["timing"], unsubsidized["coverage_start"]) == ("late", "2025-04-01")

    # --- government proxy payments with the day they were paid ------------------------------
    await c.proxy_batch("medical_assistance_fund", D(2024, 12, 20),
                        [(shulan, 44000), (jian, 44000)])
    # 三(三): 县乡村振兴部门向同级财政申请资金，在集中征缴期内 … 全额代缴
    await c.proxy_batch("rural_revitalization", D(2024, 12, 28), [(desheng, 44000)])

    # --- the residents pay through the channels -----------------------------------------------
    await c.pay_wechat(bill["order_no"], 44000, china(D(2024, 11, 20)), times=2)  # one retry
    await c.pay_alipay(child_bill["order_no"], 39000, china(D(2024, 12, 5)))
    await c.pay_bank(student_bill["order_no"], 24000, china(D(2024, 12, 10)))
    await c.pay_bank(late_bill["order_no"], 44000, china(D(2025, 2, 10)))

    expected_publicity = {
        ("张伟", "person"): (44000, ("2024-11-20",)),     # 440 once, though sent twice
        ("张小雨", "person"): (39000, ("2024-12-05",)),
        ("张晓", "person"): (24000, ("2024-12-10",)),
        ("刘淑兰", "government"): (44000, ("2024-12-20",)),
        ("刘建", "government"): (44000, ("2024-12-20",)),
        ("马德胜", "government"): (44000, ("2024-12-28",)),  # the batch's own payment date
        ("孙丽", "person"): (44000, ("2025-02-10",)),
    }
    parts = await eventually(c.publicity_parts, lambda p: p == expected_publicity)
    assert parts == expected_publicity
    # the retried payment counted once; the late one matched with the later coverage start
    assert await c.settled(wei, D(2024, 11, 20)) == (44000, "on_time", "2025-01-01")
    assert await c.settled(li, D(2025, 2, 10)) == (44000, "late", "2025-05-01")
    publicity = await c.publicity()
    assert publicity["village_name"] == "东关村"
    # 四(五): 自12月15日开始 … 编制缴费成功人员的《参保缴费公示表》… 公示期不少于5天
    assert (publicity["publicity_from"], publicity["minimum_days"]) == ("2024-12-15", 5)

    village = await c.village_when(lambda v: v["paid"] == 7)
    assert (village["name"], village["registered"], village["paid"]) == ("东关村", 7, 7)
    assert village["paid_person_fen"] == 44000 + 39000 + 24000 + 44000
    assert village["paid_government_fen"] == 44000 * 3
    await eventually(c.reminded, lambda r: r == set())

    after = await c.township_progress()
    assert delta(after, township_before, "registered", "paid", "paid_person_fen",
                 "paid_government_fen") == {"registered": 7, "paid": 7,
                                            "paid_person_fen": 151000,
                                            "paid_government_fen": 132000}

    funding = await c.funding()
    assert await c.funded() == {("刘淑兰", "medical_assistance_fund", 44000, True),
                                ("刘建", "medical_assistance_fund", 44000, True),
                                ("马德胜", "rural_revitalization", 44000, True)}
    assert line_deltas(by_line(funding, c.township), funding_before) == {
        "medical_assistance_fund": (2, 88000), "rural_revitalization": (1, 44000)}
    # 四(六): 县医保局将以此最终名单核对政府资助人员参保情况，防止政府资助人员漏缴 — none of these
    # people missed theirs
    assert not c.ids(shulan, jian, desheng) & {
        row["person_id"] for row in funding["missed_payments"] or []}
    # the fund summary counts each part for whoever paid it
    fund = delta(await c.fund_totals(), fund_before, "insured", "personal_contributions_fen",
                 "government_proxy_payments_fen")
    assert fund == {"insured": 7,
                    "personal_contributions_fen": 151000,
                    "government_proxy_payments_fen": 132000}
