"""What the seed-plan campaign tests share: the channels' signing material, tokens, residents
with ID numbers born on chosen days, uploaded files with Chinese headers, and one client that
walks a campaign through the four running services the way townships, departments, channels,
finance offices and the bureau do.

Nothing here knows a plan: every figure is in the test modules, next to the sentence it comes
from."""

from __future__ import annotations

import asyncio
import base64
import csv
import datetime as dt
import io
import json
import os
import uuid
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
from openpyxl import Workbook

from devtools.channels.testing import (
    RsaKeyPair,
    alipay_form,
    alipay_payment_params,
    alipay_sign,
    random_apiv3_key,
    sign_notification,
    wechat_transaction,
)
from devtools.testing.system import RunningSystem
from services.payments.channels.standard_webhooks import signed_headers
from shared.auth import ensure_dev_keypair, mint_token
from shared.idnumber import check_character
from shared.money import fen_to_yuan

ROOT = Path(__file__).resolve().parents[2]
KEYS = ROOT / ".canbao" / "test-keys"
CHINA = dt.timezone(dt.timedelta(hours=8))

# --- the channels, configured the way the payments integration tests configure them ----------
BANK = "bank_ccb"
BANK_SECRET = "whsec_" + base64.b64encode(b"campaign-bank-ccb-secret-32bytes").decode()
WECHAT_SERIAL = "PUB_KEY_ID_0114232134912410000000000001"
WECHAT_MCHID = "1900000109"
WECHAT_APPID = "wxd678efh567hg6787"
ALIPAY_APP_ID = "2021004100000002"
ALIPAY_SELLER_ID = "2088000000000002"
# the bill of someone who owes nothing, once payments holds the determination (a bill without
# one, not_enrolled, also says 0)
FREE = ("subsidized", "nothing_due")


class ChannelKeys:
    wechat = RsaKeyPair.generate()
    alipay = RsaKeyPair.generate()
    apiv3 = random_apiv3_key()


def channel_env() -> dict[str, str]:
    """WeChat Pay, Alipay and one Standard Webhooks bank, as CANBAO_PAYMENTS_* variables."""
    return {
        "CANBAO_PAYMENTS_WECHATPAY_PLATFORM_KEYS": json.dumps(
            {WECHAT_SERIAL: ChannelKeys.wechat.public_pem}),
        "CANBAO_PAYMENTS_WECHATPAY_APIV3_KEY": ChannelKeys.apiv3,
        "CANBAO_PAYMENTS_WECHATPAY_MCHID": WECHAT_MCHID,
        "CANBAO_PAYMENTS_WECHATPAY_APPID": WECHAT_APPID,
        "CANBAO_PAYMENTS_ALIPAY_APP_ID": ALIPAY_APP_ID,
        "CANBAO_PAYMENTS_ALIPAY_SELLER_ID": ALIPAY_SELLER_ID,
        "CANBAO_PAYMENTS_ALIPAY_PUBLIC_KEY": ChannelKeys.alipay.public_pem,
        "CANBAO_PAYMENTS_WEBHOOK_SECRETS": json.dumps({BANK: [BANK_SECRET]}),
        "CANBAO_PAYMENTS_POOL_SIZE": "4",
    }


# --- tokens -----------------------------------------------------------------------------------

def token(role: str | None = None, region: str | None = None, *, department: str | None = None,
          scopes: tuple[str, ...] = ()) -> dict[str, str]:
    private_path, _, kid = ensure_dev_keypair(KEYS)
    signed = mint_token(Path(private_path).read_bytes(), kid, sub=f"campaign-{role or 'system'}",
                        role=role, region=region, department=department, scopes=scopes,
                        issuer="canbao", audience="canbao")
    return {"authorization": f"Bearer {signed}"}


# --- residents --------------------------------------------------------------------------------

_USED: set[str] = set()


def new_id_number(hukou: str, birth: dt.date) -> str:
    """A valid 18-digit ID number of someone born on `birth` with 户籍 in `hukou` (6 digits),
    unique in this test session."""
    while True:
        first17 = f"{hukou}{birth:%Y%m%d}{int.from_bytes(os.urandom(2), 'big') % 1000:03d}"
        number = first17 + check_character(first17)
        if number not in _USED:
            _USED.add(number)
            return number


@dataclass
class Resident:
    name: str
    birth: dt.date
    household: str            # the household register number (户号) within the test's village
    relation: str = "户主"
    hukou: str = ""           # 6 digits; the test's county when empty
    phone: str | None = None
    school: str | None = None
    id_number: str = ""
    person_id: str = ""


def csv_file(header: list[str], rows: Iterable[list[Any]]) -> bytes:
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(header)
    writer.writerows([["" if v is None else str(v) for v in row] for row in rows])
    return ("\ufeff" + out.getvalue()).encode("utf-8")


def xlsx_file(header: list[str], rows: Iterable[list[Any]], title: str | None = None) -> bytes:
    book = Workbook()
    sheet = book.active
    if title:
        sheet.append([title])  # a title row above the header, as departments' files have
    sheet.append(header)
    for row in rows:
        sheet.append(["" if v is None else str(v) for v in row])
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


async def eventually(probe: Callable[[], Awaitable[Any]], ok: Callable[[Any], bool],
                     within: float = 30) -> Any:
    """The probe's answer once `ok` holds; fails with the last answer after `within` s."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + within
    last: Any = None
    while True:
        last = await probe()
        try:
            if ok(last):
                return last
        except (KeyError, TypeError, IndexError, AttributeError):
            pass
        if loop.time() > deadline:
            raise AssertionError(f"not reached in {within}s; last answer: {last!r}")
        await asyncio.sleep(0.25)


def china(day: dt.date, hour: int = 10) -> dt.datetime:
    return dt.datetime.combine(day, dt.time(hour), tzinfo=CHINA)


# --- the campaign client ----------------------------------------------------------------------

@dataclass
class Campaign:
    """One county's (or city's) campaign of one plan year, in one village of one township."""

    system: RunningSystem
    http: httpx.AsyncClient
    county: str               # the plan's region: 6 digits (a city for a city-level plan)
    district: str             # the county-level unit the township lies in (= county, or a district)
    township: str             # 12 digits
    village: str              # 12 digits, uploaded by the township
    village_name: str
    plan_year: int
    today: str | None = None  # the campaign day the reminder list is read on (its amounts
    # depend on it: after the on-time days a person owes the late outcome)
    residents: list[Resident] = field(default_factory=list)

    def url(self, service: str, path: str) -> str:
        return f"{self.system.url(service)}{path}"

    # staff
    @property
    def clerk(self) -> dict[str, str]:
        return token("township_staff", self.township)

    def department(self, department: str, region: str | None = None) -> dict[str, str]:
        return token("department_officer", region or self.district, department=department)

    @property
    def finance(self) -> dict[str, str]:
        return token("finance_officer", self.district)

    @property
    def bureau(self) -> dict[str, str]:
        return token("medical_insurance_officer", self.county)

    @property
    def supervisor(self) -> dict[str, str]:
        return token("supervisor", self.county)

    @property
    def channel(self) -> dict[str, str]:
        return token(None, scopes=("payments:bills",))

    # registration
    async def upload_village(self) -> None:
        content = xlsx_file(["村代码", "村名称", "所属乡镇代码"],
                            [[self.village, self.village_name, self.township]])
        r = await self.http.post(self.url("registration", "/v1/regions/villages"),
                                 files={"file": ("村居名单.xlsx", content, XLSX)},
                                 headers=self.clerk)
        assert r.status_code == 200, r.text

    async def register(self, resident: Resident) -> Resident:
        resident.id_number = resident.id_number or new_id_number(
            resident.hukou or self.district, resident.birth)
        body: dict[str, Any] = {
            "id_number": resident.id_number, "name": resident.name,
            "township_code": self.township, "village_code": self.village,
            "household_no": resident.household, "relation_to_head": resident.relation,
            "phone": resident.phone}
        if resident.school:
            body["school"] = resident.school
        r = await self.http.post(self.url("registration", "/v1/persons"), json=body,
                                 headers=self.clerk)
        assert r.status_code == 201, r.text
        resident.person_id = r.json()["person_id"]
        self.residents.append(resident)
        return resident

    async def household_of(self, resident: Resident) -> dict[str, Any]:
        r = await self.http.get(self.url("registration", f"/v1/persons/{resident.person_id}"),
                                headers=self.clerk)
        assert r.status_code == 200, r.text
        household_id = r.json()["household_id"]
        assert household_id, r.text
        r = await self.http.get(self.url("registration", f"/v1/households/{household_id}"),
                                headers=self.clerk)
        assert r.status_code == 200, r.text
        return r.json()

    async def enroll(self, resident: Resident, registered_on: dt.date,
                     category: str | None = None) -> dict[str, Any]:
        body: dict[str, Any] = {"person_id": resident.person_id, "plan_year": self.plan_year,
                                "registered_on": registered_on.isoformat()}
        if category:
            body["insured_category"] = category
        r = await self.http.post(self.url("registration", "/v1/enrollments"), json=body,
                                 headers=self.clerk)
        assert r.status_code == 201, r.text
        return r.json()

    async def upload_list(self, department: str, rows: list[tuple[Resident, str, dt.date]],
                          *, as_xlsx: bool, region: str | None = None,
                          plan_year: int | None = None) -> dict[str, Any]:
        """A department's certified list: 姓名, 身份证号, 类别 (the department's own words),
        认定日期."""
        header = ["序号", "姓名", "身份证号", "类别", "认定日期"]
        table = [[i, r.name, r.id_number, category, certified_on.isoformat()]
                 for i, (r, category, certified_on) in enumerate(rows, start=1)]
        if as_xlsx:
            file = ("政府资助人员名单.xlsx", xlsx_file(header, table, "政府资助人员名单"), XLSX)
        else:
            file = ("政府资助人员名单.csv", csv_file(header, table), "text/csv")
        r = await self.http.post(
            self.url("registration", f"/v1/lists/{department}/{plan_year or self.plan_year}"),
            files={"file": file}, headers=self.department(department, region))
        assert r.status_code == 200, r.text
        return r.json()

    async def list_summary(self, department: str) -> dict[str, Any]:
        """The department's current list for the plan year, as the department sees it."""
        r = await self.http.get(
            self.url("registration", f"/v1/lists/{department}/{self.plan_year}"),
            headers=self.department(department))
        assert r.status_code == 200, r.text
        return r.json()

    # eligibility
    async def determination(self, resident: Resident,
                            ok: Callable[[dict[str, Any]], bool]) -> dict[str, Any]:
        """The current determination once `ok` holds for it."""
        async def probe() -> dict[str, Any] | None:
            r = await self.http.get(self.url(
                "eligibility", f"/v1/determinations/{resident.person_id}/{self.plan_year}"),
                headers=self.bureau)
            return r.json().get("current") if r.status_code == 200 else None
        return await eventually(probe, lambda d: d is not None and ok(d))

    # payments
    async def lookup_bill(self, resident: Resident, on: dt.date) -> httpx.Response:
        return await self.http.post(self.url("payments", "/v1/bills/lookup"), json={
            "id_number": resident.id_number, "plan_year": self.plan_year,
            "on": on.isoformat()}, headers=self.channel)

    async def bill(self, resident: Resident, on: dt.date,
                   ok: Callable[[dict[str, Any]], bool]) -> dict[str, Any]:
        """What the channel is told the person owes if paying on `on`, once `ok` holds."""
        async def probe() -> dict[str, Any] | None:
            r = await self.lookup_bill(resident, on)
            return r.json() if r.status_code == 200 else {"status_code": r.status_code,
                                                          "body": r.text}
        return await eventually(probe, lambda b: b is not None and "status_code" not in b
                                and ok(b))

    async def settled(self, resident: Resident, on: dt.date) -> tuple[Any, ...]:
        """(paid fen, timing, coverage start) of the person's paid bill, once it is paid."""
        paid = await self.bill(resident, on, lambda b: b["status"] == "paid")
        return paid["paid_fen"], paid["timing"], paid["coverage_start"]

    async def pay_wechat(self, order_no: str, amount_fen: int, paid: dt.datetime,
                         *, times: int = 1) -> None:
        """WeChat Pay v3 TRANSACTION.SUCCESS, encrypted and signed; sent `times` times (a
        retry of the same notification)."""
        resource = wechat_transaction(order_no, amount_fen, paid,
                                      transaction_id=f"42000{uuid.uuid4().int % 10**23:023d}",
                                      mchid=WECHAT_MCHID, appid=WECHAT_APPID)
        headers, body = sign_notification(
            platform_key=ChannelKeys.wechat, serial=WECHAT_SERIAL, apiv3_key=ChannelKeys.apiv3,
            event_type="TRANSACTION.SUCCESS", resource=resource,
            timestamp=dt.datetime.now(dt.UTC))
        for _ in range(times):
            r = await self.http.post(self.url("payments", "/v1/webhooks/wechatpay"),
                                     content=body, headers=headers)
            assert r.status_code in (200, 204), r.text

    async def pay_alipay(self, order_no: str, amount_fen: int, paid: dt.datetime) -> None:
        """Alipay 交易支付成功 (TRADE_SUCCESS) form, RSA2-signed; answered `success`."""
        params = alipay_payment_params(
            app_id=ALIPAY_APP_ID, seller_id=ALIPAY_SELLER_ID, out_trade_no=order_no,
            total_amount=f"{fen_to_yuan(amount_fen)}", paid_at=paid,
            notify_time=dt.datetime.now(dt.UTC),
            trade_no=f"2024{uuid.uuid4().int % 10**24:024d}",
            notify_id=f"{uuid.uuid4().int % 10**34:034d}")
        r = await self.http.post(self.url("payments", "/v1/webhooks/alipay"),
                                 content=alipay_form(alipay_sign(params, ChannelKeys.alipay)),
                                 headers={"content-type": "application/x-www-form-urlencoded"})
        assert r.status_code == 200 and r.text == "success", r.text

    async def pay_bank(self, order_no: str, amount_fen: int, paid: dt.datetime) -> None:
        """A bank's Standard Webhooks payment.succeeded."""
        body = json.dumps({"type": "payment.succeeded", "data": {
            "order_no": order_no, "channel_txn_id": f"CCB{uuid.uuid4().hex[:16]}",
            "amount_fen": amount_fen, "paid_at": paid.isoformat()}}).encode()
        headers = signed_headers(BANK_SECRET, f"msg_{uuid.uuid4().hex}",
                                 int(dt.datetime.now(dt.UTC).timestamp()), body)
        r = await self.http.post(self.url("payments", f"/v1/webhooks/{BANK}"), content=body,
                                 headers={**headers, "content-type": "application/json"})
        assert r.status_code in (200, 204), r.text

    async def proxy_batch(self, budget_line: str, paid_on: dt.date,
                          rows: list[tuple[Resident, int]]) -> dict[str, Any]:
        """A finance office's proxy payment (代缴) for a budget line, paid on `paid_on`."""
        r = await self.http.post(self.url("payments", "/v1/proxy-batches"), json={
            "batch_no": f"{budget_line}-{uuid.uuid4().hex[:10]}", "budget_line": budget_line,
            "plan_year": self.plan_year, "paid_on": paid_on.isoformat(),
            "declared_count": len(rows), "declared_total_fen": sum(a for _, a in rows),
            "rows": [{"person_id": p.person_id, "amount_fen": a} for p, a in rows]},
            headers=self.finance)
        assert r.status_code == 201, r.text
        return r.json()

    # reporting
    async def progress(self, *, level: str = "township") -> dict[str, Any]:
        params: dict[str, Any] = {"county_code": self.county, "plan_year": self.plan_year,
                                  "level": level}
        if level == "village":
            params["township_code"] = self.township
        r = await self.http.get(self.url("reporting", "/v1/progress"), params=params,
                                headers=self.supervisor)
        assert r.status_code == 200, r.text
        return r.json()

    async def village_progress(self) -> dict[str, Any] | None:
        rows = [r for r in (await self.progress(level="village"))["rows"]
                if r["code"] == self.village]
        return rows[0] if rows else None

    async def township_progress(self) -> dict[str, Any]:
        rows = [r for r in (await self.progress())["rows"] if r["code"] == self.township]
        return rows[0] if rows else {}

    async def publicity(self) -> dict[str, Any]:
        r = await self.http.get(self.url("reporting", "/v1/publicity-lists"),
                                params={"village_code": self.village,
                                        "plan_year": self.plan_year,
                                        **({"as_of": self.today} if self.today else {})},
                                headers=self.clerk)
        assert r.status_code == 200, r.text
        return r.json()

    async def reminders(self) -> dict[str, Any]:
        r = await self.http.get(self.url("reporting", "/v1/reminders"),
                                params={"village_code": self.village,
                                        "plan_year": self.plan_year,
                                        **({"as_of": self.today} if self.today else {})},
                                headers=self.clerk)
        assert r.status_code == 200, r.text
        return r.json()

    async def funding(self) -> dict[str, Any]:
        r = await self.http.get(self.url("reporting", "/v1/funding-applications"),
                                params={"county_code": self.county, "plan_year": self.plan_year,
                                        "include_persons": "true"}, headers=self.bureau)
        assert r.status_code == 200, r.text
        return r.json()

    async def fund_totals(self) -> dict[str, Any]:
        r = await self.http.get(self.url("reporting", "/v1/fund-summary"),
                                params={"county_code": self.county, "plan_year": self.plan_year},
                                headers=self.bureau)
        assert r.status_code == 200, r.text
        return r.json()["totals"]

    async def village_when(self, ok: Callable[[dict[str, Any]], bool]) -> dict[str, Any]:
        """The village's progress row once `ok` holds for it."""
        return await eventually(self.village_progress, lambda v: v is not None and ok(v))

    # views on the test's own people
    def ids(self, *people: Resident) -> set[str]:
        return {p.person_id for p in people}

    async def publicity_parts(self) -> dict[tuple[str, str], tuple[int, tuple[str, ...]]]:
        """(person, payer) -> (fen, payment dates) over the publicity rows of this test's
        residents: each part of a person's due under whoever paid it."""
        mine = {r.person_id: r.name for r in self.residents}
        fen: dict[tuple[str, str], int] = {}
        days: dict[tuple[str, str], set[str]] = {}
        for row in (await self.publicity())["rows"]:
            if row["person_id"] in mine:
                key = (mine[row["person_id"]], row["payer"])
                fen[key] = fen.get(key, 0) + row["amount_fen"]
                days.setdefault(key, set()).add(row["paid_on"])
        return {k: (v, tuple(sorted(days[k]))) for k, v in fen.items()}

    async def reminder_ids(self) -> set[str]:
        return {row["person_id"] for row in (await self.reminders())["rows"]}

    async def reminded(self) -> set[str]:
        """Who of this test's residents the clerk is to phone: the township clerk reads each
        one's name, phone and household number (户号) in full, as registered."""
        mine = {r.person_id: r for r in self.residents}
        rows = [row for row in (await self.reminders())["rows"] if row["person_id"] in mine]
        for row in rows:
            resident = mine[row["person_id"]]
            assert (row["name"], row["household_no"]) == (resident.name, resident.household), row
            assert row["phone"] == resident.phone, row
        return {mine[row["person_id"]].name for row in rows}

    async def funded(self) -> set[tuple[str, str, int, bool]]:
        """(person, budget line, fen, paid) of the funding application's rows for this test's
        residents."""
        mine = {r.person_id: r.name for r in self.residents}
        return {(mine[row["person_id"]], row["budget_line"], row["amount_fen"], row["paid"])
                for row in (await self.funding()).get("persons") or []
                if row["person_id"] in mine}


def by_line(funding: dict[str, Any], township: str) -> dict[str, tuple[int, int]]:
    """budget line -> (headcount, fen) of one township's rows of a funding application."""
    out: dict[str, tuple[int, int]] = {}
    for row in funding["summary"]:
        if row["township_code"] == township:
            n, fen = out.get(row["budget_line"], (0, 0))
            out[row["budget_line"]] = (n + row["headcount"], fen + row["amount_fen"])
    return out


def line_deltas(after: dict[str, tuple[int, int]],
                before: dict[str, tuple[int, int]]) -> dict[str, tuple[int, int]]:
    out = {}
    for line in set(after) | set(before):
        n = after.get(line, (0, 0))[0] - before.get(line, (0, 0))[0]
        fen = after.get(line, (0, 0))[1] - before.get(line, (0, 0))[1]
        if n or fen:
            out[line] = (n, fen)
    return out


def delta(after: dict[str, Any], before: dict[str, Any], *keys: str) -> dict[str, int]:
    return {k: (after.get(k) or 0) - (before.get(k) or 0) for k in keys}


def assumption_ids(answer: dict[str, Any]) -> set[str]:
    """The ids of the policy assumptions an answer lists ("id: statement" or bare ids)."""
    return {str(a).split(":", 1)[0].strip() for a in answer.get("assumptions") or []}


def subsidies(determination: dict[str, Any]) -> set[tuple[str, int]]:
    return {(s["funding_source"], s["amount_fen"]) for s in determination["subsidies"]}
