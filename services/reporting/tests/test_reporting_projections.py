"""Projections from events: duplicates, reordering across topics, revisions, counters."""

from __future__ import annotations

import datetime as dt
import io
import random
import uuid
from decimal import Decimal

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from devtools.testing.plans import seed_catalog
from services.reporting.lists import service as lists
from services.reporting.progress import service as progress
from services.reporting.projections.handlers import router
from services.reporting.projections.state import PROGRESS_COLUMNS
from services.reporting.regions import Region
from services.reporting.tests import factories as f
from shared.events import CloudEvent

PLANS = seed_catalog()  # what reporting holds from eligibility.plan.v1 events

YEAR = 2025


async def apply(session: AsyncSession, events: list[CloudEvent]) -> None:
    for ev in events:
        await router(session, ev)


async def counters(session: AsyncSession, county: str) -> dict[str, list[tuple]]:
    out = {}
    for table, cols in (
        ("progress", "township_code, village_code, band, registered, paid_person, "
                     "paid_government, paid_person_fen, paid_government_fen"),
        ("progress_townships", "township_code, band, registered, settled, paid_person, "
                               "paid_government, paid_person_fen, paid_government_fen"),
        ("progress_daily", "township_code, day, paid"),
        ("funding", "township_code, budget_line, rule_id, headcount, amount_fen, paid_headcount"),
    ):
        rows = await session.execute(text(
            f"SELECT {cols} FROM reporting.{table} WHERE county_code = :c ORDER BY {cols}"),
            {"c": county})
        # a counter that went up and back down is the same as one never touched
        out[table] = [tuple(r) for r in rows if any(
            isinstance(v, int) and v for v in tuple(r)[-3:])]
    return out


def scenario(county: str) -> tuple[list[CloudEvent], dict[str, str]]:
    v1, v2 = f"{county}001001", f"{county}002001"
    p = {k: f.new_id() for k in ("adult", "early_pay", "refunded", "subsidized", "stopped", "old")}
    evs = [
        f.target(f"{county}001000", YEAR, 10),
        f.target(f"{county}002000", YEAR, 4),
        f.person(p["adult"], village=v1),
        f.enrollment(p["adult"], YEAR, village=v1),
        f.determination(p["adult"], YEAR, village=v1),
        f.payment(p["adult"], YEAR, village=v1, paid_at="2024-12-01T09:00:00+08:00"),
        # paid before registration told us about the enrollment
        f.payment(p["early_pay"], YEAR, village=v1, paid_at="2024-12-02T09:00:00+08:00"),
        f.enrollment(p["early_pay"], YEAR, village=v1, category="minor"),
        f.person(p["early_pay"], village=v1, birth_date="2015-03-01"),
        # paid, then refunded (the same order, a newer revision)
        f.enrollment(p["refunded"], YEAR, village=v2),
        f.payment(p["refunded"], YEAR, village=v2, order_no=f"R{p['refunded'][:8]}"),
        f.payment(p["refunded"], YEAR, village=v2, order_no=f"R{p['refunded'][:8]}",
                  kind="refunded", revision=2),
        # government pays in full from the medical assistance fund
        f.person(p["subsidized"], village=v2, birth_date="1950-05-05"),
        f.enrollment(p["subsidized"], YEAR, village=v2),
        f.determination(p["subsidized"], YEAR, village=v2, revision=7,
                        subsidies=[("medical_assistance_fund", "hardship_full", 40000)]),
        f.payment(p["subsidized"], YEAR, village=v2, payer="government",
                  paid_at="2024-12-02T20:00:00+00:00"),  # 12-03 in China
        # the stop (revision 2) may arrive before the registration (revision 1)
        f.enrollment(p["stopped"], YEAR, village=v2),
        f.enrollment(p["stopped"], YEAR, village=v2, status="stopped", revision=2),
        # a newer determination supersedes an older one whatever the order
        f.determination(p["old"], YEAR, village=v1, revision=3,
                        subsidies=[("city_finance", "age_60_69", 20000)]),
        f.determination(p["old"], YEAR, village=v1, revision=5),
        f.enrollment(p["old"], YEAR, village=v1),
    ]
    return evs, p


async def test_counters_do_not_depend_on_order_or_duplicates(rolled_back_session: AsyncSession
                                                             ) -> None:
    session = rolled_back_session
    county = f.new_county()
    events, _ = scenario(county)
    snapshots = []
    rng = random.Random(7)
    for attempt in range(6):
        order = list(events)
        if attempt:
            rng.shuffle(order)
            order += rng.sample(events, 5)  # redeliveries the inbox did not catch
        async with session.begin_nested() as sp:
            await apply(session, order)
            snapshots.append(await counters(session, county))
            await sp.rollback()
    assert all(s == snapshots[0] for s in snapshots[1:])
    assert snapshots[0]["progress"]  # the scenario did count something


async def test_progress_figures_from_the_scenario(rolled_back_session: AsyncSession) -> None:
    session = rolled_back_session
    county = f.new_county()
    events, p = scenario(county)
    await apply(session, events)
    data = await progress.progress(session, region=Region.of(county), plan_year=YEAR,
                                   as_of=__import__("datetime").date(2024, 12, 3), plans=PLANS)
    rows = {r["code"]: r for r in data["rows"]}
    t1, t2 = rows[f"{county}001000"], rows[f"{county}002000"]
    # township 1: adult, early_pay and old registered; adult and early_pay paid
    assert (t1["target"], t1["registered"], t1["paid"], t1["paid_person"]) == (10, 3, 2, 2)
    assert t1["rate"] == 20.0
    # township 2: refunded and subsidized registered (stopped is not); only the government paid
    assert (t2["target"], t2["registered"], t2["paid"], t2["paid_government"]) == (4, 2, 1, 1)
    assert t2["rate"] == 25.0 and t2["change_since_yesterday"] == 1
    assert [r["rank"] for r in data["rows"]] == [1, 2] and data["rows"][0]["code"] == t2["code"]
    assert [d["paid"] for d in data["daily"]] == [1, 1, 1]
    assert data["daily"][-1]["cumulative"] == 3
    bands = {c["band"]: c for c in data["categories"]}
    assert bands["minor"]["paid"] == 1 and bands["subsidized"]["paid"] == 1
    # the superseded determination's city_finance subsidy is gone from the funding counters
    funding = await session.execute(text(
        "SELECT budget_line, headcount, amount_fen FROM reporting.funding "
        "WHERE county_code = :c AND headcount <> 0"), {"c": county})
    assert [tuple(r) for r in funding] == [("medical_assistance_fund", 1, 40000)]


async def test_township_counters_are_the_village_counters_summed(
        rolled_back_session: AsyncSession) -> None:
    """The township rows (what county and wider views read) equal the village x band rows
    summed per township after the scenario, a refund's and a superseded determination's
    negative deltas included; and the live county view (township rows) shows per township
    what the village view (village rows) sums to."""
    session = rolled_back_session
    county = f.new_county()
    events, _ = scenario(county)
    await apply(session, events)
    cols = PROGRESS_COLUMNS
    summed = await session.execute(text(
        f"SELECT township_code, band, {', '.join(f'sum({c})::int' for c in cols)} "
        "FROM reporting.progress WHERE county_code = :c GROUP BY 1, 2 ORDER BY 1, 2"),
        {"c": county})
    kept = await session.execute(text(
        f"SELECT township_code, band, {', '.join(cols)} FROM reporting.progress_townships "
        "WHERE county_code = :c ORDER BY 1, 2"), {"c": county})
    expected = [tuple(r) for r in summed if any(tuple(r)[2:])]
    assert [tuple(r) for r in kept if any(tuple(r)[2:])] == expected
    assert len(expected) >= 3  # both townships, several bands

    today = progress.today_in_china()
    county_view = await progress.progress(session, region=Region.of(county), plan_year=YEAR,
                                          as_of=today, plans=PLANS)
    for row in county_view["rows"]:
        villages = await progress.progress(session, region=Region.of(row["code"]),
                                           plan_year=YEAR, level="village", as_of=today,
                                           plans=PLANS)
        assert villages["totals"]["registered"] == row["registered"]
        assert villages["totals"]["paid"] == row["paid"]
        assert villages["totals"]["paid_person_fen"] == row["paid_person_fen"]
        assert villages["totals"]["paid_government_fen"] == row["paid_government_fen"]
    assert {r["code"] for r in county_view["rows"]} >= {f"{county}001000", f"{county}002000"}


async def test_same_event_twice_is_applied_once(rolled_back_session: AsyncSession) -> None:
    session = rolled_back_session
    county = f.new_county()
    village = f"{county}001001"
    pid = f.new_id()
    pay = f.payment(pid, YEAR, village=village)
    await apply(session, [f.enrollment(pid, YEAR, village=village), pay, pay])
    snap = await counters(session, county)
    assert snap["progress"] == [(f"{county}001000", village, "adult", 1, 1, 0, 40000, 0)]


async def test_pingyin_category_targets(rolled_back_session: AsyncSession) -> None:
    """Pingyin 2025: subsidized and newborns 100 %, minors, 60+ and adults 98 %."""
    session = rolled_back_session
    village = f"370124{random.randint(100, 999)}{random.randint(100, 999)}"
    people = [("2024-06-01", "minor", []), ("2012-05-01", "minor", []),
              ("1950-01-01", "adult", []), ("1990-01-01", "adult", []),
              ("1990-01-01", "adult", [("medical_assistance_fund", "hardship_full", 44000)])]
    events = []
    for birth, cat, subs in people:
        pid = f.new_id()
        events += [f.person(pid, village=village, birth_date=birth),
                   f.enrollment(pid, YEAR, village=village, category=cat),
                   f.determination(pid, YEAR, village=village, category=cat, subsidies=subs,
                                   standard_fen=44000)]
        if cat == "adult":
            events.append(f.payment(pid, YEAR, village=village, amount_fen=44000,
                                    payer="government" if subs else "person"))
    await apply(session, events)
    data = await progress.progress(session, region=Region.of(village[:9] + "000"),
                                   plan_year=YEAR, level="village", plans=PLANS)
    bands = {c["band"]: c for c in data["categories"]}
    assert bands["newborn"]["target_percent"] == 100 and bands["newborn"]["meets_target"] is False
    assert bands["subsidized"]["target_percent"] == 100 and bands["subsidized"]["meets_target"]
    assert bands["minor"]["target_percent"] == 98 and bands["minor"]["rate"] == 0
    assert bands["age60plus"]["meets_target"] and bands["adult"]["target_percent"] == 98
    assert data["rows"][0]["code"] == village and data["rows"][0]["registered"] == 5


async def test_reminders_and_reasons(rolled_back_session: AsyncSession) -> None:
    session = rolled_back_session
    village = f"{f.new_county()}001001"
    renew, registered, paid, stopped = (f.new_id() for _ in range(4))
    events = [f.person(x, village=village, name="李*四") for x in (renew, registered, paid)]
    for pid in (renew, paid, stopped):
        events += [f.enrollment(pid, YEAR - 1, village=village),
                   f.payment(pid, YEAR - 1, village=village)]
    events += [f.enrollment(registered, YEAR, village=village),
               f.enrollment(paid, YEAR, village=village), f.payment(paid, YEAR, village=village),
               f.enrollment(stopped, YEAR, village=village, status="stopped", revision=2)]
    await apply(session, events)
    data = await lists.reminder_list(session, Region.of(village), YEAR)
    got = {r["person_id"]: r for r in data["rows"]}
    assert set(got) == {renew, registered}
    assert got[renew]["situation"] == "renewal" and got[registered]["situation"] == "registered"
    assert got[renew]["name"] == "李*四" and got[renew]["phone"] is None
    await lists.record_reason(session, renew, YEAR, "worker_away", None, "staff-1")
    data = await lists.reminder_list(session, Region.of(village), YEAR)
    assert {r["person_id"]: r["reason"] for r in data["rows"]}[renew] == "worker_away"
    assert data["without_reason"] == 1


async def test_publicity_list_masks_and_orders(rolled_back_session: AsyncSession) -> None:
    session = rolled_back_session
    village = f"370124{random.randint(100, 999)}{random.randint(100, 999)}"
    a, b, c = f.new_id(), f.new_id(), f.new_id()
    await apply(session, [
        f.person(a, village=village, name="张*三", id_masked="370124********123X"),
        f.person(b, village=village, name="王*", id_masked="370124********0012"),
        f.enrollment(a, YEAR, village=village), f.enrollment(b, YEAR, village=village),
        f.enrollment(c, YEAR, village=village),
        f.payment(b, YEAR, village=village, amount_fen=44000,
                  paid_at="2024-11-02T10:00:00+08:00"),
        f.payment(a, YEAR, village=village, amount_fen=44000,
                  paid_at="2024-12-01T10:00:00+08:00"),
    ])
    data = await lists.publicity_list(session, Region.of(village), YEAR, plans=PLANS)
    assert data["publicity_from"] == "2024-12-15" and data["publicity_until"] == "2024-12-19"
    assert [(r["name"], r["id_number"], r["amount_yuan"], r["paid_on"]) for r in data["rows"]] == [
        # events of the old mask are shown in today's (shared.idnumber.mask_id_number)
        ("王*", "370124***********2", "440.00", "2024-11-02"),
        ("张*三", "370124***********X", "440.00", "2024-12-01"),
    ]
    assert uuid.UUID(data["rows"][0]["person_id"])


async def test_reconciliation_summary(rolled_back_session: AsyncSession) -> None:
    from services.reporting.funds.service import reconciliation_summary

    session = rolled_back_session
    channel = f"test{uuid.uuid4().hex[:6]}"
    payload = {"reconciliation_id": uuid.uuid4().int % 2**31, "channel": channel,
               "statement_date": "2024-12-01",
               "counts": {"matched": 950, "channel_only": 2, "ledger_only": 1,
                          "amount_mismatch": 0, "status_mismatch": 0, "carried": 3,
                          "ignored": 4, "reversed": 0},
               "declared": {"count": 959, "payment_fen": 38000000, "refund_fen": 40000},
               "declared_totals_match": True,
               "statement_totals": {"payment_fen": 38000000, "refund_fen": 40000, "count": 955},
               "ledger_totals": {"payment_fen": 37960000, "refund_fen": 40000, "count": 954},
               "totals_match": False, "posted_from_statement": 2, "clean": False,
               "completed_at": "2024-12-02T02:00:00+00:00"}
    ev = f.event("payments.reconciliation_completed.v1", payload, key=channel)
    await apply(session, [ev, ev])
    data = await reconciliation_summary(session, channel, None, None)
    assert data["runs"] == 1
    assert data["totals"]["counts.matched"] == 950 and data["totals"]["runs_not_clean"] == 1
    assert data["by_channel"][channel]["ledger_totals.payment_fen"] == 37960000


async def test_reconciliation_summary_as_an_office_document(
        rolled_back_session: AsyncSession) -> None:
    """The summary's XLSX: one row per run with both sides' net amounts as numbers in yuan,
    their difference, the differing lines counted, a 合计 row and the A4 print setup."""
    from openpyxl import load_workbook

    from services.reporting.exports import to_xlsx
    from services.reporting.funds.router import reconciliation_table
    from services.reporting.funds.service import reconciliation_summary

    session = rolled_back_session
    channel = f"test{uuid.uuid4().hex[:6]}"
    payload = {"reconciliation_id": uuid.uuid4().int % 2**31, "channel": channel,
               "statement_date": "2024-12-01",
               "counts": {"matched": 950, "channel_only": 2, "ledger_only": 1,
                          "amount_mismatch": 1, "status_mismatch": 0, "carried": 3,
                          "ignored": 4, "reversed": 0},
               "declared": {"count": 959, "payment_fen": 38000000, "refund_fen": 40000},
               "declared_totals_match": True,
               "statement_totals": {"payment_fen": 38000000, "refund_fen": 40000, "count": 955},
               "ledger_totals": {"payment_fen": 37960000, "refund_fen": 40000, "count": 954},
               "totals_match": False, "posted_from_statement": 2, "clean": False,
               "completed_at": "2024-12-02T02:00:00+00:00"}
    second = {**payload, "reconciliation_id": payload["reconciliation_id"] + 1,
              "statement_date": "2024-12-02",
              "counts": {**payload["counts"], "channel_only": 0, "ledger_only": 0,
                         "amount_mismatch": 0, "matched": 10},
              "ledger_totals": payload["statement_totals"], "totals_match": True,
              "clean": True}
    await apply(session, [f.event("payments.reconciliation_completed.v1", p, key=channel)
                          for p in (payload, second)])
    data = await reconciliation_summary(session, channel, None, None)
    book = load_workbook(io.BytesIO(to_xlsx([reconciliation_table(
        {**data, "channel": channel, "date_from": None, "date_to": None})])))
    ws = book.active
    header = [c.value for c in ws[3]]
    assert header == ["序号", "渠道", "对账日期", "一致笔数", "差异笔数", "对方金额（元）",
                      "本系统金额（元）", "差额（元）", "金额一致", "对账结果"]
    rows = {ws.cell(r, 3).value.date(): [c.value for c in ws[r]] for r in (4, 5)}
    first = rows[dt.date(2024, 12, 1)]
    assert first[3:5] == [950, 4]  # 2 channel only + 1 ledger only + 1 amount mismatch
    assert [Decimal(str(v)) for v in first[5:8]] == [
        Decimal("379600.00"), Decimal("379200.00"), Decimal("400.00")]
    assert first[8:] == ["否", "有差异"] and rows[dt.date(2024, 12, 2)][8:] == ["是", "平账"]
    assert ws.cell(4, 6).data_type == "n" and ws.cell(4, 6).number_format == "#,##0.00"
    assert ws.cell(6, 1).value == "合计" and ws.cell(6, 8).value == "=SUM(H4:H5)"
    assert ws.cell(6, 4).value == "=SUM(D4:D5)" and ws.cell(6, 9).value in (None, "")
    assert int(ws.page_setup.paperSize) == 9 and ws.page_setup.fitToWidth == 1
    assert ws.print_title_rows == "$1:$3"
    assert "&P" in ws.oddFooter.center.text
