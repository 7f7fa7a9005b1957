"""Seed 000, 滕州市2025年度城乡居民基本医疗保险参保征缴工作实施方案, end to end through the four
running services and the real broker: a village of 龙泉街道 with four households, the civil
affairs and health commission lists uploaded as CSV and XLSX files (and another county's list
upload that must leave them alone), enrollment, determinations, bills for on-time, late and
after-the-year payment dates, payments through WeChat Pay (sent twice), Alipay and a bank
(late), the city's, the township's and the medical assistance fund's proxy batches with their
payment dates, then progress, publicity, reminders and the funding application."""

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
    subsidies,
)

D = dt.date


async def test_tengzhou_2025_campaign(campaign_system: RunningSystem,
                                      http: httpx.AsyncClient) -> None:
    c = Campaign(campaign_system, http, county="370481", district="370481",
                 township="370481002000", village="370481002201", village_name="杏花村",
                 plan_year=2025, today="2024-12-20")  # reminders read on a day near the end of 二(四): 2024年10月1日－12月31日为集中缴费期
    township_before = await c.township_progress()
    funding_before = by_line(await c.funding(), c.township)
    fund_before = await c.fund_totals()

    # --- residents and households (二(五):
    # 具有枣庄市户籍且不属于城镇职工基本医疗保险参保范围的城乡居民)
    await c.upload_village()
    ming = await c.register(Resident("李明", D(1980, 5, 5), "370481002201-0001",
                                     phone="13906320001"))
    zhenhua = await c.register(Resident("李振华", D(1961, 2, 2), "370481002201-0001",
                                        relation="父亲", phone="13906320002"))  # 64 in 2025
    xiuying = await c.register(Resident("赵秀英", D(1953, 8, 8), "370481002201-0001",
                                        relation="母亲"))  # 72 in 2025
    hong = await c.register(Resident("陈红", D(1985, 1, 20), "370481002201-0002"))
    jianjun = await c.register(Resident("周建军", D(1972, 3, 3), "370481002201-0003"))
    gang = await c.register(Resident("吴刚", D(1990, 10, 10), "370481002201-0004",
                                     phone="13906320006"))
    household = await c.household_of(ming)
    assert {m["person_id"] for m in household["members"]} == c.ids(ming, zhenhua, xiuying)

    # 二(七)2: 由市民政局、市农业农村局根据职责分别确认政府资助人员的资格信息 …
    # 提供《政府资助人员名单》
    await c.upload_list("civil_affairs", [(hong, "低保对象", D(2023, 6, 1))], as_xlsx=False)
    # 二(七)3 / 二(三)2: 市卫健局 certifies 全面两孩政策实施前的农村 … 只要一个女孩家庭 (2012,
    # before 2016)
    await c.upload_list("health_commission", [(jianjun, "农村独女户", D(2012, 6, 1))],
                        as_xlsx=True)

    # another county's civil affairs list for the same year changes nothing here
    ours_before = await c.list_summary("civil_affairs")
    assert ours_before["current_row_count"] == 1
    pinglu = Campaign(campaign_system, http, county="140600", district="140603",
                      township="140603100000", village="140603100201", village_name="井坪村",
                      plan_year=2025)
    await pinglu.upload_village()
    other = await pinglu.register(Resident("高文", D(1979, 4, 4), "140603100201-0001"))
    await pinglu.upload_list("civil_affairs", [(other, "低保对象", D(2024, 3, 1))],
                             as_xlsx=False)
    ours = await c.list_summary("civil_affairs")
    assert (ours["current_row_count"], ours["versions"]) == (1, ours_before["versions"])

    # 二(四): 2024年10月1日－12月31日为我市2025年度居民医保集中缴费期
    for person in (ming, zhenhua, xiuying, hong, jianjun):
        await c.enroll(person, D(2024, 10, 8))
    await c.enroll(gang, D(2025, 3, 10))

    # --- determinations -------------------------------------------------------------------
    # 二(一): 2025年个人缴费标准为每人每年400元; 二(四): 自2025年1月1日起享受全年居民医保待遇
    d = await c.determination(ming, lambda d: d["personal_fen"] == 40000)
    assert (d["subsidies"], d["coverage_start"]) == ([], "2025-01-01")
    # 二(三)1: 60岁（含60岁）-69岁老年人，个人缴费部分由市财政承担50%
    d = await c.determination(zhenhua, lambda d: d["personal_fen"] == 20000)
    assert subsidies(d) == {("city_finance", 20000)}
    # 二(三)1: 70岁（含70岁）以上老年人，个人缴费部分由市财政全额承担
    d = await c.determination(xiuying, lambda d: d["personal_fen"] == 0)
    assert subsidies(d) == {("city_finance", 40000)}
    # 二(二): 对 … 低保对象 … 由市财政通过医疗救助资金给予全额资助
    d = await c.determination(hong, lambda d: d["personal_fen"] == 0)
    assert subsidies(d) == {("medical_assistance_fund", 40000)}
    # 二(三)2: 个人缴费部分由市、镇街财政各承担50%
    d = await c.determination(jianjun, lambda d: d["personal_fen"] == 0)
    assert subsidies(d) == {("city_finance", 20000), ("township_finance", 20000)}

    # 三(一): 对缴费期临近结束未缴费人员进行“一对一”缴费提醒 — only people who owe money of their
    # own
    await eventually(c.reminded, lambda r: r == {"李明", "李振华", "吴刚"})

    # --- bills --------------------------------------------------------------------------------
    bill = await c.bill(ming, D(2024, 11, 15), lambda b: b["amount_fen"] == 40000)
    assert (bill["timing"], bill["coverage_start"]) == ("on_time", "2025-01-01")
    zhenhua_bill = await c.bill(zhenhua, D(2024, 12, 25), lambda b: b["amount_fen"] == 20000)
    assert zhenhua_bill["coverage_start"] == "2025-01-01"
    free = await c.bill(xiuying, D(2024, 12, 1), lambda b: b["status"] in FREE)
    assert free["coverage_start"] == "2025-01-01"
    # the plan is silent on latecomers (二(四) only says 在集中缴费期按时缴费的，
    # 自2025年1月1日起享受);
    # the policy's declared assumption late_payment_national_2025: the standard, covered 3 months
    # after the payment date
    late_bill = await c.bill(gang, D(2025, 3, 10), lambda b: b["amount_fen"] == 40000)
    assert (late_bill["timing"], late_bill["coverage_start"]) == ("late", "2025-06-10")
    assert "late_payment_national_2025" in assumption_ids(late_bill)
    # 二(四): the 2025 plan year: a payment after it has ended gets no 2025 coverage
    closed = await c.lookup_bill(gang, D(2026, 3, 1))
    assert closed.status_code == 409, closed.text

    # --- government proxy payments, each with the day it was paid -------------------------------
    # 二(三): 以上代缴资金分别列入市、镇街财政预算
    await c.proxy_batch("city_finance", D(2024, 12, 20),
                        [(zhenhua, 20000), (xiuying, 40000), (jianjun, 20000)])
    await c.proxy_batch("township_finance", D(2024, 12, 20), [(jianjun, 20000)])
    # 二(七)2: 将相关资助资金拨付至市医保局城乡医疗救助基金支出户
    await c.proxy_batch("medical_assistance_fund", D(2024, 12, 28), [(hong, 40000)])
    # city 200 + 400 + 200, township 200, medical assistance 400
    village = await c.village_when(lambda v: v["paid_government_fen"] == 140000)
    # 李振华's city half is paid, his own 200 yuan is not: he is not paid yet
    assert village["paid"] == 3
    assert {name for name, _ in await c.publicity_parts()} == {"赵秀英", "陈红", "周建军"}
    assert "李振华" in await c.reminded()

    # --- the residents pay through the channels -----------------------------------------------
    await c.pay_wechat(bill["order_no"], 40000, china(D(2024, 11, 15)), times=2)  # one retry
    await c.pay_alipay(zhenhua_bill["order_no"], 20000, china(D(2024, 12, 25)))
    await c.pay_bank(late_bill["order_no"], 40000, china(D(2025, 3, 10)))

    expected_publicity = {
        ("李明", "person"): (40000, ("2024-11-15",)),      # 400 once, though sent twice
        ("李振华", "person"): (20000, ("2024-12-25",)),    # each part for whoever paid it
        ("李振华", "government"): (20000, ("2024-12-20",)),
        ("赵秀英", "government"): (40000, ("2024-12-20",)),
        ("陈红", "government"): (40000, ("2024-12-28",)),
        ("周建军", "government"): (40000, ("2024-12-20",)),  # city 200 + township 200
        ("吴刚", "person"): (40000, ("2025-03-10",)),
    }
    parts = await eventually(c.publicity_parts, lambda p: p == expected_publicity)
    assert parts == expected_publicity
    # the retried payment counted once; the late one matched with the later coverage start
    assert await c.settled(ming, D(2024, 11, 15)) == (40000, "on_time", "2025-01-01")
    assert await c.settled(gang, D(2025, 3, 10)) == (40000, "late", "2025-06-10")
    assert (await c.publicity())["village_name"] == "杏花村"

    village = await c.village_when(lambda v: v["paid"] == 6)
    assert (village["name"], village["registered"], village["paid"]) == ("杏花村", 6, 6)
    assert village["paid_person_fen"] == 40000 + 20000 + 40000
    assert village["paid_government_fen"] == 20000 + 40000 + 40000 + 40000
    await eventually(c.reminded, lambda r: r == set())

    after = await c.township_progress()
    assert delta(after, township_before, "registered", "paid", "paid_person_fen",
                 "paid_government_fen") == {"registered": 6, "paid": 6,
                                            "paid_person_fen": 100000,
                                            "paid_government_fen": 140000}

    # 二(三): 政府资助人员由滕州市医保局负责制定预算向财政申请资金，政府代缴特殊人群由相关部门负责
    # 制定预算向财政申请资金 — one line per budget and person
    assert await c.funded() == {("李振华", "city_finance", 20000, True),
                                ("赵秀英", "city_finance", 40000, True),
                                ("周建军", "city_finance", 20000, True),
                                ("周建军", "township_finance", 20000, True),
                                ("陈红", "medical_assistance_fund", 40000, True)}
    assert line_deltas(by_line(await c.funding(), c.township), funding_before) == {
        "city_finance": (3, 80000), "township_finance": (1, 20000),
        "medical_assistance_fund": (1, 40000)}
    # 二(一): 2024年财政补助标准为每人每年670元 — for each of the 6 people whose due is covered
    # the fund summary counts each part for whoever paid it
    fund = delta(await c.fund_totals(), fund_before, "insured", "personal_contributions_fen",
                 "government_proxy_payments_fen", "fiscal_subsidy_fen")
    assert fund == {"insured": 6,
                    "personal_contributions_fen": 100000,
                    "government_proxy_payments_fen": 140000,
                    "fiscal_subsidy_fen": 6 * 67000}
