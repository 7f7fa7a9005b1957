"""Seed 003, 鱼台县2024年度城乡居民基本医疗保险费集中征缴工作方案 (鱼政办字〔2023〕38号), end to end
through the four running services and the real broker: a village of 谷亭街道 with four
households, the rural revitalization office's 低保边缘 list and the health commission's 独女户
list uploaded as files, enrollment, determinations, bills (in the collection period, in the
publicity week and late), payments through WeChat Pay (sent twice), Alipay and a bank (late),
the county's and the medical assistance fund's proxy batches with their payment dates, then
progress, publicity, reminders and the funding application."""

from __future__ import annotations

import datetime as dt

import httpx

from devtools.testing.system import RunningSystem

from .support import (
    Campaign,
    Resident,
    assumption_ids,
    by_line,
    china,
    delta,
    eventually,
    line_deltas,
    subsidies,
)

D = dt.date


async def test_yutai_2024_campaign(campaign_system: RunningSystem,
                                   http: httpx.AsyncClient) -> None:
    c = Campaign(campaign_system, http, county="370827", district="370827",
                 township="370827001000", village="370827001201", village_name="孟庄村",
                 plan_year=2024, today="2023-12-20")  # reminders read on a day near the end of 集中征缴期 2023年9月15日至12月25日
    township_before = await c.township_progress()
    funding_before = by_line(await c.funding(), c.township)
    fund_before = await c.fund_totals()

    # --- residents and households (二: 在我县行政区域内不属于职工基本医疗保险参保范围 … 的城乡居民)
    await c.upload_village()
    jianhua = await c.register(Resident("王建华", D(1980, 8, 18), "370827001201-0001",
                                        phone="13605370001"))
    xiulan = await c.register(Resident("王秀兰", D(1975, 11, 11), "370827001201-0001",
                                       relation="配偶", phone="13605370002"))
    futian = await c.register(Resident("李福田", D(1950, 5, 1), "370827001201-0002"))
    guiying = await c.register(Resident("李桂英", D(1945, 3, 3), "370827001201-0002",
                                        relation="配偶"))
    delin = await c.register(Resident("赵德林", D(1968, 7, 7), "370827001201-0003"))
    yong = await c.register(Resident("钱勇", D(1991, 1, 1), "370827001201-0004",
                                     phone="13605370006"))
    household = await c.household_of(futian)
    assert {m["person_id"] for m in household["members"]} == c.ids(futian, guiying)

    # 八(五): 乡村振兴部门负责认定低保边缘家庭成员、防止返贫监测帮扶对象等易返贫致贫人口 … 人员名单
    await c.upload_list("rural_revitalization", [(xiulan, "低保边缘家庭成员", D(2023, 5, 1)),
                                                 (guiying, "低保边缘", D(2023, 5, 1))],
                        as_xlsx=True)
    # 八(五): 卫健部门负责确定农村独女及双女户参保人员名单; 六2: 2016年1月22日前确定的
    await c.upload_list("health_commission", [(delin, "农村独女户父母", D(2010, 3, 1))],
                        as_xlsx=False)

    # 三: 2024年度城乡居民基本医疗保险集中缴纳时间为2023年9月15日至12月25日
    for person in (jianhua, xiulan, futian, guiying, delin):
        await c.enroll(person, D(2023, 9, 20))
    await c.enroll(yong, D(2024, 2, 5))

    # --- determinations -------------------------------------------------------------------
    # 四: 鱼台县2024年度城乡居民基本医疗保险个人缴费标准为每人每年380元
    d = await c.determination(jianhua, lambda d: d["personal_fen"] == 38000)
    assert d["coverage_start"] == "2024-01-01"
    # 六3: 由医疗救助资金给予280元定额补贴 … 不属于政策规定免缴费人群的 … 参保人需自行缴纳100元
    d = await c.determination(xiulan, lambda d: d["personal_fen"] == 10000)
    assert subsidies(d) == {("medical_assistance_fund", 28000)}
    # 六1: 70周岁以上老人 … 个人缴费部分由政府按照规定代缴 (born 1950-05-01: 73)
    d = await c.determination(futian, lambda d: d["personal_fen"] == 0)
    assert subsidies(d) == {("county_finance", 38000)}
    # 六3: 上述人员中，属于政策规定免缴费人群的，剩余的个人缴费部分由县财政负担 (78, 低保边缘)
    d = await c.determination(guiying, lambda d: d["personal_fen"] == 0)
    assert subsidies(d) == {("medical_assistance_fund", 28000), ("county_finance", 10000)}
    # 六2: 2016年1月22日前确定的农村独女及双女户父母个人缴费部分继续享受政府补助 (the amount is the
    # policy's declared assumption family_planning_amount: the whole 380, county finance)
    d = await c.determination(delin, lambda d: d["personal_fen"] == 0)
    assert subsidies(d) == {("county_finance", 38000)}

    await eventually(c.reminded, lambda r: r == {"王建华", "王秀兰", "钱勇"})

    # --- bills --------------------------------------------------------------------------------
    bill = await c.bill(jianhua, D(2023, 11, 1), lambda b: b["amount_fen"] == 38000)
    assert (bill["timing"], bill["coverage_start"]) == ("on_time", "2024-01-01")
    # 三: 2023年12月26日至12月31日进行数据汇总统计，并集中公示，期间城乡居民仍可参保缴费
    week_bill = await c.bill(xiulan, D(2023, 12, 28), lambda b: b["amount_fen"] == 10000)
    assert (week_bill["timing"], week_bill["coverage_start"]) == ("on_time", "2024-01-01")
    # 七(一): 在集中征缴期过后 … 仍可通过上述缴费方式缴费; the waiting period is the policy's
    # declared
    # assumption late_payment_waiting: 3 months counted from the month of payment
    late_bill = await c.bill(yong, D(2024, 2, 5), lambda b: b["amount_fen"] == 38000)
    assert (late_bill["timing"], late_bill["coverage_start"]) == ("late", "2024-05-01")
    assert "late_payment_waiting" in assumption_ids(late_bill)

    # --- government proxy payments (七(二): 财政部门审核后，
    # 按规定足额安排财政补助资金并及时拨付到位)
    await c.proxy_batch("county_finance", D(2023, 12, 20),
                        [(futian, 38000), (guiying, 10000), (delin, 38000)])
    await c.proxy_batch("medical_assistance_fund", D(2023, 12, 20),
                        [(xiulan, 28000), (guiying, 28000)])
    village = await c.village_when(lambda v: v["paid_government_fen"] == 142000)
    # 王秀兰's 280 is paid, her own 100 is not: she is not paid yet
    assert village["paid"] == 3
    assert {name for name, _ in await c.publicity_parts()} == {"李福田", "李桂英", "赵德林"}
    assert "王秀兰" in await c.reminded()

    # --- the residents pay through the channels -----------------------------------------------
    await c.pay_wechat(bill["order_no"], 38000, china(D(2023, 11, 1)), times=2)  # one retry
    await c.pay_alipay(week_bill["order_no"], 10000, china(D(2023, 12, 28)))
    await c.pay_bank(late_bill["order_no"], 38000, china(D(2024, 2, 5)))

    expected_publicity = {
        ("王建华", "person"): (38000, ("2023-11-01",)),     # 380 once, though sent twice
        ("王秀兰", "person"): (10000, ("2023-12-28",)),     # each part for whoever paid it
        ("王秀兰", "government"): (28000, ("2023-12-20",)),
        ("李福田", "government"): (38000, ("2023-12-20",)),
        ("李桂英", "government"): (38000, ("2023-12-20",)),  # 280 + the county's 100
        ("赵德林", "government"): (38000, ("2023-12-20",)),
        ("钱勇", "person"): (38000, ("2024-02-05",)),
    }
    parts = await eventually(c.publicity_parts, lambda p: p == expected_publicity)
    assert parts == expected_publicity
    # the retried payment counted once; the late one matched with the later coverage start
    assert await c.settled(jianhua, D(2023, 11, 1)) == (38000, "on_time", "2024-01-01")
    assert await c.settled(xiulan, D(2023, 12, 28)) == (10000, "on_time", "2024-01-01")
    assert await c.settled(yong, D(2024, 2, 5)) == (38000, "late", "2024-05-01")
    publicity = await c.publicity()
    assert publicity["village_name"] == "孟庄村"
    # 三: 2023年12月26日至12月31日 … 集中公示
    assert (publicity["publicity_from"], publicity["publicity_until"]) == ("2023-12-26",
                                                                           "2023-12-31")

    village = await c.village_when(lambda v: v["paid"] == 6)
    assert (village["name"], village["registered"], village["paid"]) == ("孟庄村", 6, 6)
    assert village["paid_person_fen"] == 38000 + 10000 + 38000
    assert village["paid_government_fen"] == 142000
    await eventually(c.reminded, lambda r: r == set())

    after = await c.township_progress()
    assert delta(after, township_before, "registered", "paid", "paid_person_fen",
                 "paid_government_fen") == {"registered": 6, "paid": 6,
                                            "paid_person_fen": 86000,
                                            "paid_government_fen": 142000}

    # 七(二): 医保部门提交政府资助资金拨付申请
    assert await c.funded() == {("王秀兰", "medical_assistance_fund", 28000, True),
                                ("李桂英", "medical_assistance_fund", 28000, True),
                                ("李桂英", "county_finance", 10000, True),
                                ("李福田", "county_finance", 38000, True),
                                ("赵德林", "county_finance", 38000, True)}
    assert line_deltas(by_line(await c.funding(), c.township), funding_before) == {
        "medical_assistance_fund": (2, 56000), "county_finance": (3, 86000)}
    # the fund summary counts each part for whoever paid it
    fund = delta(await c.fund_totals(), fund_before, "insured", "personal_contributions_fen",
                 "government_proxy_payments_fen")
    assert fund == {"insured": 6,
                    "personal_contributions_fen": 86000,
                    "government_proxy_payments_fen": 142000}
