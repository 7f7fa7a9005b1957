"""The exchange with the tax bureau, one full cycle against the real database, from the seed
plans' sentences:

- 000 三(三): 市医保局……向税务部门推送特殊缴费单据; the dues (费源) go out the same way;
- 000 三(四) / 001 三(四): 市税务局……及时将缴费信息共享给市医保局: payments and reversals come
  back and are booked through the same ledger as any channel's, once, whatever is re-sent;
- a file whose control total does not add up, or with a bad row, is refused whole with its
  reasons in Chinese, and books nothing.
"""

from __future__ import annotations

import csv
import io
import uuid
from typing import Any

import httpx
from sqlalchemy.ext.asyncio import AsyncEngine

from services.payments.tax import files as f

from .payments_support import deliver, determination, scalar, seed_person

COUNTY = "370481"
MLA = [{"rule_id": "mla", "funding_source": "medical_assistance_fund", "amount_fen": 40000}]
HALF = [{"rule_id": "age60", "funding_source": "city_finance", "amount_fen": 20000}]


def rows_of(content: str) -> list[dict[str, str]]:
    return f.parse_csv(content).rows


async def next_file(client: httpx.AsyncClient, kind: str) -> httpx.Response:
    return await client.post(f"/v1/tax/exchange/outgoing/{kind}",
                             params={"region_code": COUNTY, "plan_year": 2025})


async def ledger_count(engine: AsyncEngine) -> int:
    return int(await scalar(engine, "SELECT count(*) FROM payments.ledger "
                                    "WHERE channel = 'tax_bureau'"))


def payments_csv(seq: int, rows: list[dict[str, str]], *, records: int | None = None,
                 total: str | None = None) -> str:
    net = sum((1 if r[f.RECORD_TYPE] == f.PAYMENT else -1) * int(r[f.AMOUNT].replace(".", ""))
              for r in rows)
    control = f.control(f.PAYMENTS_FILE, seq, COUNTY, records=len(rows), total_fen=net)
    if records is not None:
        control[f.RECORDS] = str(records)
    if total is not None:
        control[f.TOTAL] = total
    return f.ExchangeFile(control, rows).render_csv(f.PAYMENT_COLUMNS)


def pay(receipt: str, person: uuid.UUID, amount: str = "400.00", day: str = "2024-12-01",
        **kw: str) -> dict[str, str]:
    return {f.RECORD_TYPE: f.PAYMENT, f.RECEIPT_NO: receipt, f.REVERSES: "",
            f.PERSON_NO: str(person), f.ID_NUMBER: kw.get("id_number", ""), f.PLAN_YEAR: "2025",
            f.AMOUNT: amount, f.PAID_ON: day, f.TAX_CHANNEL: kw.get("channel", "微信"),
            f.INVOICE_NO: kw.get("invoice", "")}


async def send(client: httpx.AsyncClient, content: str) -> httpx.Response:
    return await client.post("/v1/tax/exchange/payments", content=content.encode(),
                             headers={"content-type": "text/csv"})


async def test_dues_and_special_documents_go_out_incrementally_numbered_and_resendable(
        env: Any) -> None:
    """费源 and 特殊缴费单据: a file holds only what changed since the last of its series, is
    numbered one after the other with a control total that adds up, and a re-send is the same
    bytes; nothing changed: no file, no number used."""
    client, engine, settings = env
    await next_file(client, "dues")  # whatever earlier tests left: the series starts from here
    await next_file(client, "special")
    _, owes = await seed_person(engine, settings)
    _, subsidized = await seed_person(engine, settings, personal_fen=0, subsidies=MLA)

    r = await next_file(client, "dues")
    assert r.status_code == 201, r.text
    first = r.json()
    rows = {x[f.PERSON_NO]: x for x in rows_of(first["content"])}
    assert set(rows) == {str(owes), str(subsidized)}
    assert rows[str(owes)][f.OWED] == "400.00" and rows[str(owes)][f.CHANGE] == f.NEW
    assert rows[str(subsidized)][f.OWED] == "0.00"
    assert rows[str(owes)][f.BASIS].startswith("370481-2025 实施方案")
    control = f.parse_csv(first["content"]).control
    assert control[f.RECORDS] == "2" and control[f.TOTAL] == "400.00"
    assert control[f.FILE_TYPE] == "费源" and int(control[f.SEQ_NO]) == first["seq_no"]

    special = (await next_file(client, "special")).json()
    docs = rows_of(special["content"])
    assert [(d[f.PERSON_NO], d[f.BUDGET_LINE], d[f.SUBSIDY]) for d in docs] == [
        (str(subsidized), "医疗救助资金", "400.00")]
    assert docs[0][f.DOCUMENT_NO] == f"2025:medical_assistance_fund:{subsidized}"

    # nothing changed: nothing sent, no number used
    quiet = await next_file(client, "dues")
    assert quiet.status_code == 200 and quiet.json()["file"] is None

    # the person turns 60: half of it now paid by the city; the dues change, a document appears
    await deliver(engine, determination(owes, revision=2, personal_fen=20000, subsidies=HALF))
    second = (await next_file(client, "dues")).json()
    assert second["seq_no"] == first["seq_no"] + 1
    assert [(x[f.PERSON_NO], x[f.CHANGE], x[f.OWED]) for x in rows_of(second["content"])] == [
        (str(owes), f.CHANGED, "200.00")]
    special2 = (await next_file(client, "special")).json()
    assert [(x[f.PERSON_NO], x[f.CHANGE], x[f.SUBSIDY]) for x in rows_of(special2["content"])] \
        == [(str(owes), f.NEW, "200.00")]

    # withdrawn from the scheme: the dues are withdrawn (amount 0)
    await deliver(engine, determination(owes, revision=3, enrolled=False))
    third = (await next_file(client, "dues")).json()
    assert [(x[f.PERSON_NO], x[f.CHANGE], x[f.OWED]) for x in rows_of(third["content"])] == [
        (str(owes), f.WITHDRAWN, "0.00")]

    # a re-send of the first file: the same bytes, and the series does not move
    again = await client.get(f"/v1/tax/exchange/outgoing/{first['id']}/file")
    assert again.status_code == 200 and again.content == first["content"].encode()
    assert (await next_file(client, "dues")).json()["file"] is None


async def test_payments_and_reversals_from_tax_booked_once_whole_files_or_nothing(
        env: Any) -> None:
    """缴费信息 in: booked as payments of the channel tax_bureau (orders paid, events out);
    the same file again changes nothing; a reversal reverses; a wrong control total, a bad row,
    a reused number or a gap refuse the whole file with Chinese reasons and book nothing."""
    client, engine, settings = env
    id_a, a = await seed_person(engine, settings)
    _, b = await seed_person(engine, settings)
    seq = int(await scalar(engine, "SELECT coalesce(max(seq_no), 0) FROM "
                                   "payments.tax_incoming_files WHERE region_code = :r",
                           r=COUNTY)) + 1
    ra, rb = f"TX{uuid.uuid4().hex[:12]}", f"TX{uuid.uuid4().hex[:12]}"
    before = await ledger_count(engine)
    first = payments_csv(seq, [pay(ra, a, id_number=id_a, invoice="EI001"),
                               pay(rb, b, channel="办税服务厅")])
    r = await send(client, first)
    assert r.status_code == 200, r.text
    assert r.json()["status"] == "applied" and r.json()["outcomes"] == {"paid": 2}
    assert await ledger_count(engine) == before + 2
    paid = await scalar(engine, "SELECT count(*) FROM payments.orders WHERE person_id = ANY("
                                ":p) AND status = 'paid' AND channel = 'tax_bureau'", p=[a, b])
    assert paid == 2
    events = await scalar(engine, "SELECT count(*) FROM payments.outbox WHERE event_type = "
                                  "'payments.payment_received.v1' AND data->>'channel' = "
                                  "'tax_bureau' AND data->>'person_id' = ANY(:p)",
                          p=[str(a), str(b)])
    assert events == 2

    # the same file again (as JSON this time): nothing changes
    again = await client.post("/v1/tax/exchange/payments", json=f.parse_csv(first).as_json())
    assert again.status_code == 200 and again.json()["status"] == "already_applied"
    assert await ledger_count(engine) == before + 2

    # the reversal of A's payment
    rev = f"TX{uuid.uuid4().hex[:12]}"
    reversal = {**pay(rev, a), f.RECORD_TYPE: f.REVERSAL, f.REVERSES: ra}
    r = await send(client, payments_csv(seq + 1, [reversal]))
    assert r.status_code == 200 and r.json()["outcomes"] == {"reversed": 1}, r.text
    assert await scalar(engine, "SELECT status FROM payments.orders WHERE channel_txn_id = :t",
                        t=ra) == "reversed"
    booked = await ledger_count(engine)

    # a wrong control total: refused whole, nothing booked
    _, c = await seed_person(engine, settings)
    rc = f"TX{uuid.uuid4().hex[:12]}"
    r = await send(client, payments_csv(seq + 2, [pay(rc, c)], total="380.00"))
    assert r.status_code == 422 and r.json()["error"]["code"] == "tax_file_refused", r.text
    assert any("控制总数不符" in p for p in r.json()["error"]["problems"])
    assert r.json()["error"]["message"] == "文件整体退回，未入账任何一笔"
    assert await ledger_count(engine) == booked
    assert await scalar(engine, "SELECT status FROM payments.orders WHERE person_id = :p "
                                "AND status = 'paid'", p=c) is None
    assert await scalar(engine, "SELECT count(*) FROM payments.tax_incoming_refusals "
                                "WHERE region_code = :r AND seq_no = :n", r=COUNTY,
                        n=seq + 2) == 1
    en = await client.post("/v1/tax/exchange/payments",  # the same refusal, read in English
                           content=payments_csv(seq + 2, [pay(rc, c)], total="380.00").encode(),
                           headers={"content-type": "text/csv", "Accept-Language": "en"})
    assert en.json()["error"]["message"] == (
        "the tax bureau's file is refused as a whole; see the reasons per row")

    # bad rows: each named with its reasons; the good row is not booked either
    r = await send(client, payments_csv(seq + 2, [
        pay(rc, c), pay(f"TX{uuid.uuid4().hex[:12]}", uuid.uuid4()),
        pay(f"TX{uuid.uuid4().hex[:12]}", c, amount="12.345"),
        {**pay(f"TX{uuid.uuid4().hex[:12]}", c), f.RECORD_TYPE: f.REVERSAL, f.REVERSES: "NOPE"}],
        total="400.00"))
    assert r.status_code == 422
    reasons = {x["row"]: " ".join(x["reasons"]) for x in r.json()["error"]["rows"]}
    assert set(reasons) == {2, 3, 4}
    assert "在医保系统中不存在" in reasons[2] and "缴费金额" in reasons[3]
    assert "未收到过对应的缴费记录" in reasons[4]
    assert await ledger_count(engine) == booked

    # a gap in the numbering, and a used number with other content
    r = await send(client, payments_csv(seq + 5, [pay(rc, c)]))
    assert r.status_code == 422 and "文件序号不连续" in r.json()["error"]["problems"][0]
    r = await send(client, payments_csv(seq, [pay(rc, c)]))
    assert r.status_code == 422 and "已用于另一份内容不同的文件" in r.json()["error"]["problems"][0]
    assert await ledger_count(engine) == booked

    # the corrected file goes through
    r = await send(client, payments_csv(seq + 2, [pay(rc, c)]))
    assert r.status_code == 200 and r.json()["outcomes"] == {"paid": 1}, r.text


async def test_a_tax_payment_for_someone_already_paid_goes_to_suspense(env: Any) -> None:
    """Paid once: tax's payment for a person already paid through another path is not a second
    payment but money in suspense (paid_twice), as for any channel."""
    client, engine, settings = env
    _, a = await seed_person(engine, settings)
    seq = int(await scalar(engine, "SELECT coalesce(max(seq_no), 0) FROM "
                                   "payments.tax_incoming_files WHERE region_code = :r",
                           r=COUNTY)) + 1
    r1, r2 = f"TX{uuid.uuid4().hex[:12]}", f"TX{uuid.uuid4().hex[:12]}"
    r = await send(client, payments_csv(seq, [pay(r1, a), pay(r2, a)]))
    assert r.status_code == 200 and r.json()["outcomes"] == {"paid": 1, "suspense": 1}, r.text
    assert await scalar(engine, "SELECT reason FROM payments.suspense WHERE channel_txn_id = :t",
                        t=r2) == "paid_twice"


def test_file_format_round_trip() -> None:
    """The CSV form and the JSON form of one file read the same, and have one digest."""
    file = f.ExchangeFile(f.control(f.PAYMENTS_FILE, 3, COUNTY, records=1, total_fen=40000),
                          [pay("T1", uuid.UUID(int=1))])
    text = file.render_csv(f.PAYMENT_COLUMNS)
    assert next(csv.reader(io.StringIO(text)))[0] == "文件类型"
    parsed = f.parse_csv("\ufeff" + text)
    assert parsed.rows == file.rows and parsed.control[f.SEQ_NO] == "000003"
    assert f.digest(parsed) == f.digest(f.parse_json(parsed.as_json()))
