"""Reconciliation medical insurance <-> tax for a period, from the seeds' sentences:
002 四(六) "县医保局与县税务局对集中征缴情况进行对账";
004 三(四) "与医保经办机构每月至少核对两次账务".

One period with one person-year of each kind (matched; collected at tax, unknown here; booked
here, absent at tax; amounts differ; dates differ), each resolved with a reason; the period
report as JSON and XLSX; the completed reconciliation feeds reporting's reconciliation summary;
the schedule each plan sets (Shuozhou twice a month, a plan that is silent: the declared
default).
"""

from __future__ import annotations

import io
import uuid
from typing import Any
from urllib.parse import unquote

import httpx
from openpyxl import load_workbook
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession

from services.payments.tax import files as f
from services.reporting.funds.service import reconciliation_summary
from services.reporting.projections.handlers import router as reporting
from shared.events import CloudEvent

from .payments_support import (
    BANK,
    bank_webhook,
    bill,
    deliver,
    determination,
    new_id_number,
    person_event,
    scalar,
    wait_processed,
)

VILLAGE = "370481002003"


async def villager(engine: AsyncEngine, settings: Any) -> tuple[str, uuid.UUID]:
    id_number, person_id = new_id_number(), uuid.uuid4()
    person = person_event(settings, id_number, person_id)
    person.data.update(village_code=VILLAGE, township_code="370481002000")
    await deliver(engine, person, determination(person_id, revision=1, village_code=VILLAGE,
                                                township_code="370481002000"))
    return id_number, person_id


def row(person: uuid.UUID, day: str, amount: str = "400.00", kind: str = f.PAYMENT,
        receipt: str | None = None) -> dict[str, str]:
    return {f.RECORD_TYPE: kind, f.RECEIPT_NO: receipt or f"TX{uuid.uuid4().hex[:12]}",
            f.REVERSES: "", f.PERSON_NO: str(person), f.ID_NUMBER: "", f.PLAN_YEAR: "2025",
            f.AMOUNT: amount, f.PAID_ON: day, f.TAX_CHANNEL: "微信", f.INVOICE_NO: ""}


def file_of(file_type: str, rows: list[dict[str, str]], *, seq: int | None = None,
            period: tuple[str, str] | None = None) -> dict[str, Any]:
    net = sum(int(r[f.AMOUNT].replace(".", "")) for r in rows)
    return f.ExchangeFile(f.control(file_type, seq, VILLAGE, records=len(rows), total_fen=net,
                                    period=period), rows).as_json()


async def pay_at_bank(client: httpx.AsyncClient, id_number: str, day: str) -> None:
    order = (await bill(client, id_number))["order_no"]
    headers, body = bank_webhook(order, f"CCB{uuid.uuid4().hex[:12]}", 40000,
                                 paid_at=f"{day}T10:00:00+08:00")
    assert (await client.post(f"/v1/webhooks/{BANK}", content=body,
                              headers=headers)).status_code == 204


async def test_a_period_with_one_difference_of_each_kind_resolved(env: Any) -> None:
    client, engine, settings = env
    (_, matched), (_, tax_only), (id3, ledger_only), (id4, amounts), (id5, dates) = [
        await villager(engine, settings) for _ in range(5)]
    # matched: the tax bureau's own payment record, booked here through the exchange
    receipt = f"TX{uuid.uuid4().hex[:12]}"
    r = await client.post("/v1/tax/exchange/payments", json=file_of(
        f.PAYMENTS_FILE, [row(matched, "2024-12-01", receipt=receipt)], seq=1))
    assert r.status_code == 200 and r.json()["outcomes"] == {"paid": 1}, r.text
    # booked here through the bank on the 3rd, 4th and 5th
    await pay_at_bank(client, id3, "2024-12-03")
    await pay_at_bank(client, id4, "2024-12-04")
    await pay_at_bank(client, id5, "2024-12-05")
    await wait_processed(engine)

    collected = file_of(f.COLLECTED_FILE, [
        row(matched, "2024-12-01", receipt=receipt), row(tax_only, "2024-12-02"),
        row(amounts, "2024-12-04", amount="380.00"), row(dates, "2024-12-06")],
        period=("2024-12-01", "2024-12-15"))
    r = await client.post("/v1/tax/reconciliations", json=collected)
    assert r.status_code == 201, r.text
    rec = r.json()
    assert rec["counts"] == {"matched": 1, "tax_only": 1, "ledger_only": 1, "amount_differs": 1,
                             "dates_differ": 1, "open": 4, "resolved": 0}
    by_person = {d["person_id"]: d for d in rec["differences"]}
    assert {by_person[str(p)]["kind"] for p in (tax_only, ledger_only, amounts, dates)} == {
        "tax_only", "ledger_only", "amount_differs", "dates_differ"}
    assert by_person[str(amounts)]["detail"] == "税务 380.00 元，医保 400.00 元，相差 -20.00 元"
    assert rec["tax_totals"]["net_fen"] == 40000 * 3 + 38000
    assert rec["ledger_totals"]["net_fen"] == 40000 * 4
    assert rec["tax_totals"]["daily"]["2024-12-02"] == 40000
    assert rec["ledger_totals"]["daily"]["2024-12-03"] == 40000
    assert rec["totals_match"] is False

    # the same detail again: the same reconciliation; other content for the period: refused
    again = await client.post("/v1/tax/reconciliations", json=collected)
    assert again.json()["id"] == rec["id"]
    other = dict(collected, **{f.RECORDS: "0", f.TOTAL: "0.00", f.ROWS_KEY: []})
    assert (await client.post("/v1/tax/reconciliations", json=other)).status_code == 409

    # each difference resolved with a reason, and who resolved it
    no_reason = await client.post(
        f"/v1/tax/reconciliations/{rec['id']}/differences/{by_person[str(tax_only)]['id']}"
        "/resolve", json={"action": "accepted"})
    assert no_reason.status_code == 422
    actions = {tax_only: "corrected_here", ledger_only: "corrected_at_tax",
               amounts: "corrected_at_tax", dates: "timing"}
    for person, action in actions.items():
        d = by_person[str(person)]
        r = await client.post(f"/v1/tax/reconciliations/{rec['id']}/differences/{d['id']}"
                              "/resolve", json={"action": action, "reason": f"核实：{d['detail']}"})
        assert r.status_code == 200, r.text
    twice = await client.post(f"/v1/tax/reconciliations/{rec['id']}/differences/"
                              f"{by_person[str(dates)]['id']}/resolve",
                              json={"action": "accepted", "reason": "再次处理"})
    assert twice.status_code == 409
    final = (await client.get(f"/v1/tax/reconciliations/{rec['id']}")).json()
    assert final["counts"]["open"] == 0 and final["counts"]["resolved"] == 4
    assert all(d["resolution"]["reason"].startswith("核实：") and d["resolution"]["actor"]
               for d in final["differences"])
    assert await scalar(engine, "SELECT count(*) FROM payments.audit_log WHERE resource LIKE "
                                ":r", r=f"%/v1/tax/reconciliations/{rec['id']}/differences/%") >= 4

    # the report as XLSX: totals and one line per difference
    xlsx = await client.get(f"/v1/tax/reconciliations/{rec['id']}/report.xlsx")
    assert xlsx.status_code == 200
    assert unquote(xlsx.headers["content-disposition"].split("filename*=UTF-8''")[1]) == (
        f"税务对账报告-{rec['id']}.xlsx")
    book = load_workbook(io.BytesIO(xlsx.content))
    summary = {r[0]: r[1:] for r in book["汇总"].iter_rows(values_only=True) if r and r[0]}
    assert summary["净额（元）"] == (1580, 1600)  # numbers finance can add up
    assert summary["税务已征收、医保未入账"][0] == 1
    lines = list(book["差异明细"].iter_rows(min_row=2, values_only=True))
    assert len(lines) == 4 and {x[11] for x in lines} == {"已处理"}
    amounts = [c for row in book["差异明细"].iter_rows(min_row=2, min_col=7, max_col=8)
               for c in row if c.value is not None]
    assert amounts and all(c.data_type == "n" and c.number_format == "#,##0.00"
                           for c in amounts)
    days = book["按日"]
    assert days.cell(days.max_row, 1).value == "合计"
    assert days.cell(days.max_row, 2).value == f"=SUM(B2:B{days.max_row - 1})"
    for ws in book.worksheets:  # A4, fitted to the width, page numbers
        assert int(ws.page_setup.paperSize) == 9 and ws.page_setup.fitToWidth == 1
        assert "&P" in ws.oddFooter.center.text
    assert book["差异明细"].print_title_rows == "$1:$1"

    # reporting's reconciliation summary, fed from the last published revision
    last = await scalar(engine, """SELECT json_build_object('type', event_type, 'data', data)
                                  FROM payments.outbox WHERE subject = :s
                                  ORDER BY seq DESC LIMIT 1""", s=f"tax:{rec['id']}")
    assert last["type"] == "payments.tax_reconciliation_completed.v1"
    published = last["data"]
    assert published["channel"] == "tax_bureau" and published["clean"] is True
    async with engine.connect() as conn:
        outer = await conn.begin()
        session = AsyncSession(bind=conn, join_transaction_mode="create_savepoint")
        try:
            await reporting(session, CloudEvent(
                source="canbao/payments", type=last["type"],
                data=published, partitionkey="tax_bureau"))
            seen = await reconciliation_summary(session, "tax_bureau", None, None)
            mine = [x for x in seen["rows"] if x["reconciliation_key"] == f"tax:{rec['id']}"]
            assert mine and mine[0]["counts.tax_only"] == 1 and mine[0]["clean"] is True
            assert (await session.execute(text("SELECT 1"))).scalar() == 1
        finally:
            await session.close()
            await outer.rollback()


async def test_the_schedule_each_plan_sets(env: Any) -> None:
    """Shuozhou's plan: at least twice a month (its sentence cited); Tengzhou's plan says
    nothing: once a month, answered as an assumption."""
    client, _, _ = env
    shuozhou = (await client.get("/v1/tax/reconciliations/schedule",
                                 params={"region_code": "140600", "month": "2024-12"})).json()
    assert shuozhou["required_per_month"] == 2 and shuozhou["met"] is False
    assert "每月至少核对两次账务" in shuozhou["source"] and shuozhou["assumptions"] == []
    tengzhou = (await client.get("/v1/tax/reconciliations/schedule",
                                 params={"region_code": "370481", "month": "2024-12"})).json()
    assert tengzhou["required_per_month"] == 1 and tengzhou["source"] is None
    assert "假设" in tengzhou["assumptions"][0]
