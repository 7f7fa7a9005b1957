"""SQL of the projections: newest-revision upserts of the sources, person-years, counter deltas."""

from __future__ import annotations

import datetime as dt
import json
from collections import Counter, defaultdict
from typing import Any

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from services.reporting.projections.state import (
    PROGRESS_COLUMNS,
    Contributions,
    DeterminationFacts,
    EnrollmentFacts,
    Outcome,
    PaymentFacts,
    PersonFacts,
    PersonYear,
)

S = "reporting"

# Everything rebuilt from the topics; reminder_reasons is staff input and survives a rebuild.
PROJECTION_TABLES = ("persons", "enrollments", "determinations", "payments", "person_years",
                     "targets", "progress", "progress_townships", "progress_daily", "funding",
                     "reconciliations", "region_names")


async def upsert_person(session: AsyncSession, d: dict[str, Any]) -> bool:
    row = await session.execute(text(f"""
        INSERT INTO {S}.persons AS t (person_id, revision, birth_date, name_masked,
            id_number_masked, county_code, township_code, village_code, phone_enc,
            name_enc, household_no, address_enc)
        VALUES (:person_id, :revision, :birth_date, :name_masked, :id_number_masked,
            :county_code, :township_code, :village_code, :phone_enc,
            :name_enc, :household_no, :address_enc)
        ON CONFLICT (person_id) DO UPDATE SET revision = EXCLUDED.revision,
            birth_date = EXCLUDED.birth_date, name_masked = EXCLUDED.name_masked,
            id_number_masked = EXCLUDED.id_number_masked, county_code = EXCLUDED.county_code,
            township_code = EXCLUDED.township_code, village_code = EXCLUDED.village_code,
            phone_enc = EXCLUDED.phone_enc, name_enc = EXCLUDED.name_enc,
            household_no = EXCLUDED.household_no, address_enc = EXCLUDED.address_enc
        WHERE t.revision < EXCLUDED.revision
        RETURNING 1"""), {
        "person_id": d["person_id"], "revision": int(d["revision"]),
        "birth_date": _date(d.get("birth_date")), "name_masked": d.get("name_masked") or "",
        "id_number_masked": d.get("id_number_masked") or "",
        "county_code": d.get("county_code") or "", "township_code": d.get("township_code") or "",
        "village_code": d.get("village_code") or "",
        "phone_enc": d.get("phone_enc"), "name_enc": d.get("name_enc"),
        "household_no": d.get("household_no"), "address_enc": d.get("address_enc"),
    })
    return row.first() is not None


async def upsert_enrollment(session: AsyncSession, d: dict[str, Any]) -> bool:
    row = await session.execute(text(f"""
        INSERT INTO {S}.enrollments AS t (person_id, plan_year, revision, status, reason,
            insured_category, county_code, township_code, village_code, registered_on)
        VALUES (:person_id, :plan_year, :revision, :status, :reason, :insured_category,
            :county_code, :township_code, :village_code, :registered_on)
        ON CONFLICT (person_id, plan_year) DO UPDATE SET revision = EXCLUDED.revision,
            status = EXCLUDED.status, reason = EXCLUDED.reason,
            insured_category = EXCLUDED.insured_category, county_code = EXCLUDED.county_code,
            township_code = EXCLUDED.township_code, village_code = EXCLUDED.village_code,
            registered_on = EXCLUDED.registered_on
        WHERE t.revision < EXCLUDED.revision
        RETURNING 1"""), {
        "person_id": d["person_id"], "plan_year": int(d["plan_year"]),
        "revision": int(d["revision"]), "status": d["status"], "reason": d.get("reason"),
        "insured_category": d.get("insured_category") or "adult",
        "county_code": d.get("county_code") or "", "township_code": d.get("township_code") or "",
        "village_code": d.get("village_code") or "",
        "registered_on": _date(d.get("registered_on")),
    })
    return row.first() is not None


async def upsert_determination(session: AsyncSession, d: dict[str, Any]) -> bool:
    """Both outcomes of the determination (docs/EVENTS.md): on time (`personal_fen`,
    `subsidies`) and `late`, with `on_time_until` and `payable_until`; events from before these
    fields carry only the on-time outcome."""
    late = d.get("late")
    row = await session.execute(text(f"""
        INSERT INTO {S}.determinations AS t (person_id, plan_year, revision, enrolled,
            insured_category, county_code, township_code, village_code, standard_fen,
            personal_fen, subsidies, surcharge_fen, on_time_until, payable_until, late)
        VALUES (:person_id, :plan_year, :revision, :enrolled, :insured_category, :county_code,
            :township_code, :village_code, :standard_fen, :personal_fen,
            CAST(:subsidies AS jsonb), :surcharge_fen, :on_time_until, :payable_until,
            CAST(:late AS jsonb))
        ON CONFLICT (person_id, plan_year) DO UPDATE SET revision = EXCLUDED.revision,
            enrolled = EXCLUDED.enrolled, insured_category = EXCLUDED.insured_category,
            county_code = EXCLUDED.county_code, township_code = EXCLUDED.township_code,
            village_code = EXCLUDED.village_code, standard_fen = EXCLUDED.standard_fen,
            personal_fen = EXCLUDED.personal_fen, subsidies = EXCLUDED.subsidies,
            surcharge_fen = EXCLUDED.surcharge_fen, on_time_until = EXCLUDED.on_time_until,
            payable_until = EXCLUDED.payable_until, late = EXCLUDED.late
        WHERE t.revision < EXCLUDED.revision
        RETURNING 1"""), {
        "person_id": d["person_id"], "plan_year": int(d["plan_year"]),
        "revision": int(d["revision"]), "enrolled": bool(d.get("enrolled", True)),
        "insured_category": d.get("insured_category") or "adult",
        "county_code": d.get("county_code") or "", "township_code": d.get("township_code") or "",
        "village_code": d.get("village_code") or "",
        "standard_fen": int(d.get("standard_fen") or 0),
        "personal_fen": int(d.get("personal_fen") or 0),
        "subsidies": json.dumps(_subsidy_items(d.get("subsidies"))),
        "surcharge_fen": int(d.get("surcharge_fen") or 0),
        "on_time_until": _date(d.get("on_time_until")),
        "payable_until": _date(d.get("payable_until")),
        "late": json.dumps({
            "personal_fen": int(late.get("personal_fen") or 0),
            "surcharge_fen": int(late.get("surcharge_fen") or 0),
            "subsidies": _subsidy_items(late.get("subsidies")),
        }) if isinstance(late, dict) else None,
    })
    return row.first() is not None


def _subsidy_items(raw: Any) -> list[dict[str, Any]]:
    return [
        {"rule_id": s.get("rule_id") or "", "funding_source": s.get("funding_source") or "",
         "amount_fen": int(s.get("amount_fen") or 0)}
        for s in raw or []
    ]


async def upsert_payment(session: AsyncSession, d: dict[str, Any]) -> bool:
    row = await session.execute(text(f"""
        INSERT INTO {S}.payments AS t (order_no, person_id, plan_year, revision, kind, payer,
            channel, amount_fen, paid_at, county_code, township_code, village_code,
            funding_source, timing)
        VALUES (:order_no, :person_id, :plan_year, :revision, :kind, :payer, :channel,
            :amount_fen, :paid_at, :county_code, :township_code, :village_code,
            :funding_source, :timing)
        ON CONFLICT (order_no) DO UPDATE SET revision = EXCLUDED.revision,
            kind = EXCLUDED.kind, payer = EXCLUDED.payer, channel = EXCLUDED.channel,
            amount_fen = EXCLUDED.amount_fen, paid_at = EXCLUDED.paid_at,
            funding_source = coalesce(EXCLUDED.funding_source, t.funding_source),
            timing = coalesce(EXCLUDED.timing, t.timing)
        WHERE t.revision < EXCLUDED.revision
        RETURNING 1"""), {
        "order_no": d["order_no"], "person_id": d["person_id"], "plan_year": int(d["plan_year"]),
        "revision": int(d["revision"]), "kind": d["kind"], "payer": d.get("payer") or "person",
        "channel": d.get("channel") or "", "amount_fen": int(d.get("amount_fen") or 0),
        "paid_at": dt.datetime.fromisoformat(d["paid_at"]),
        "county_code": d.get("county_code") or "", "township_code": d.get("township_code") or "",
        "village_code": d.get("village_code") or "",
        "funding_source": d.get("funding_source") or None, "timing": d.get("timing") or None,
    })
    return row.first() is not None


async def upsert_target(session: AsyncSession, d: dict[str, Any], set_at: dt.datetime) -> None:
    """Targets carry no revision: the newest event time wins."""
    await session.execute(text(f"""
        INSERT INTO {S}.targets AS t (plan_year, township_code, county_code, target, set_at)
        VALUES (:plan_year, :township_code, :county_code, :target, :set_at)
        ON CONFLICT (plan_year, township_code) DO UPDATE SET target = EXCLUDED.target,
            county_code = EXCLUDED.county_code, set_at = EXCLUDED.set_at
        WHERE t.set_at < EXCLUDED.set_at"""), {
        "plan_year": int(d["plan_year"]), "township_code": d["township_code"],
        "county_code": d.get("county_code") or d["township_code"][:6],
        "target": int(d["target"]), "set_at": set_at,
    })


async def upsert_region_name(session: AsyncSession, d: dict[str, Any]) -> None:
    """Names carry no revision: the latest event wins (an upload names a village once)."""
    await session.execute(text(f"""
        INSERT INTO {S}.region_names AS t (code, parent_code, name)
        VALUES (:code, :parent, :name)
        ON CONFLICT (code) DO UPDATE SET parent_code = EXCLUDED.parent_code,
            name = EXCLUDED.name"""), {
        "code": d["code"], "parent": d.get("township_code") or d.get("parent_code") or "",
        "name": d["name"],
    })


async def village_names(session: AsyncSession, codes: list[str]) -> dict[str, str]:
    """code -> name of the villages among `codes` that registration has published."""
    rows = await session.execute(
        text(f"SELECT code, name FROM {S}.region_names WHERE code = ANY(:codes)"),
        {"codes": codes})
    return {r[0]: r[1] for r in rows}


async def upsert_reconciliation(
    session: AsyncSession, key: str, channel: str, statement_date: dt.date | None,
    completed_at: dt.datetime, payload: dict[str, Any],
) -> None:
    await session.execute(text(f"""
        INSERT INTO {S}.reconciliations AS t (reconciliation_key, channel, statement_date,
            completed_at, payload)
        VALUES (:k, :channel, :statement_date, :completed_at, CAST(:payload AS jsonb))
        ON CONFLICT (reconciliation_key) DO UPDATE SET channel = EXCLUDED.channel,
            statement_date = EXCLUDED.statement_date, completed_at = EXCLUDED.completed_at,
            payload = EXCLUDED.payload
        WHERE t.completed_at < EXCLUDED.completed_at"""), {
        "k": key, "channel": channel, "statement_date": statement_date,
        "completed_at": completed_at, "payload": json.dumps(payload, ensure_ascii=False),
    })


async def plan_years_of(session: AsyncSession, person_id: str) -> list[int]:
    rows = await session.execute(
        text(f"SELECT plan_year FROM {S}.person_years WHERE person_id = :p"), {"p": person_id}
    )
    return [r[0] for r in rows]


async def lock_person_year(session: AsyncSession, person_id: str, plan_year: int) -> None:
    """Serializes recomputation of one person-year across consumer replicas."""
    await session.execute(
        text("SELECT pg_advisory_xact_lock(hashtext('reporting:py'), hashtext(:k))"),
        {"k": f"{person_id}:{plan_year}"},
    )


_YEAR_COLUMNS = ("county_code", "township_code", "village_code", "band", "enrollment_status",
                 "registered", "enrolled", "subsidized", "paid_by", "paid_fen", "paid_on",
                 "subsidies", "settled", "settled_on", "paid_person_fen", "paid_person_on",
                 "paid_government_fen", "paid_government_on", "owed_person_fen",
                 "owed_government_fen", "owed_late_fen", "on_time_until")


async def load_facts(
    session: AsyncSession, person_id: str, plan_year: int
) -> tuple[PersonFacts | None, EnrollmentFacts | None, DeterminationFacts | None,
           list[PaymentFacts], PersonYear | None]:
    p = {"p": person_id, "y": plan_year}
    person = (await session.execute(text(
        f"SELECT birth_date, county_code, township_code, village_code FROM {S}.persons "
        "WHERE person_id = :p"), p)).first()
    enr = (await session.execute(text(
        f"SELECT status, insured_category, county_code, township_code, village_code "
        f"FROM {S}.enrollments WHERE person_id = :p AND plan_year = :y"), p)).first()
    det = (await session.execute(text(
        f"SELECT enrolled, insured_category, county_code, township_code, village_code, "
        f"subsidies, personal_fen, on_time_until, late FROM {S}.determinations "
        f"WHERE person_id = :p AND plan_year = :y"), p)).first()
    pays = (await session.execute(text(
        f"SELECT kind, payer, amount_fen, paid_at, county_code, township_code, village_code, "
        f"funding_source, timing "
        f"FROM {S}.payments WHERE person_id = :p AND plan_year = :y ORDER BY order_no"), p)).all()
    old = (await session.execute(text(
        f"SELECT {', '.join(_YEAR_COLUMNS)} FROM {S}.person_years "
        f"WHERE person_id = :p AND plan_year = :y"), p)).first()
    return (
        PersonFacts(*person) if person else None,
        EnrollmentFacts(*enr) if enr else None,
        _determination(det) if det else None,
        [PaymentFacts(*r) for r in pays],
        _person_year(old._mapping) if old else None,
    )


def _determination(row: Any) -> DeterminationFacts:
    late = json.loads(row[8]) if isinstance(row[8], str) else row[8]
    return DeterminationFacts(
        *row[:5], subsidies=_lines(row[5]), personal_fen=int(row[6]), on_time_until=row[7],
        late=Outcome(int(late.get("personal_fen") or 0), _lines(late.get("subsidies")))
        if late else None)


def _person_year(m: Any) -> PersonYear:
    values = {c: m[c] for c in _YEAR_COLUMNS}
    items = json.loads(m["subsidies"]) if isinstance(m["subsidies"], str) else m["subsidies"]
    values["subsidies"] = tuple(
        (i.get("funding_source") or "", i.get("rule_id") or "", int(i.get("amount_fen") or 0),
         int(i.get("paid_fen") or 0)) for i in items or [])
    return PersonYear(**values)


async def save_person_year(
    session: AsyncSession, person_id: str, plan_year: int, py: PersonYear | None
) -> None:
    if py is None:
        await session.execute(text(
            f"DELETE FROM {S}.person_years WHERE person_id = :p AND plan_year = :y"),
            {"p": person_id, "y": plan_year})
        return
    values = {c: getattr(py, c) for c in _YEAR_COLUMNS}
    values["subsidies"] = json.dumps([
        {"funding_source": b, "rule_id": r, "amount_fen": a, "paid_fen": paid}
        for b, r, a, paid in py.subsidies])
    placeholders = ", ".join(
        "CAST(:subsidies AS jsonb)" if c == "subsidies" else f":{c}" for c in _YEAR_COLUMNS)
    await session.execute(text(f"""
        INSERT INTO {S}.person_years (person_id, plan_year, {', '.join(_YEAR_COLUMNS)})
        VALUES (:p, :y, {placeholders})
        ON CONFLICT (person_id, plan_year) DO UPDATE SET
            {', '.join(f'{c} = EXCLUDED.{c}' for c in _YEAR_COLUMNS)}"""),
        {"p": person_id, "y": plan_year, **values})


_COUNTERS = {
    # table: (key columns, value columns)
    "progress": (("plan_year", "county_code", "township_code", "village_code", "band"),
                 PROGRESS_COLUMNS),
    # the same counters summed per township (what county and wider views read)
    "progress_townships": (("plan_year", "county_code", "township_code", "band"),
                           PROGRESS_COLUMNS),
    "progress_daily": (("plan_year", "county_code", "township_code", "day"), ("paid",)),
    "funding": (("plan_year", "county_code", "township_code", "budget_line", "rule_id"),
                ("headcount", "amount_fen", "paid_headcount")),
}


def per_township(progress: Counter[tuple[Any, ...]]) -> Counter[tuple[Any, ...]]:
    """Village x band counter deltas summed per township x band (the village code dropped)."""
    out: Counter[tuple[Any, ...]] = Counter()
    for (year, county, township, _village, *rest), v in progress.items():
        out[(year, county, township, *rest)] += v
    return Counter({k: v for k, v in out.items() if v})


# the counter tables: rows added to by deltas, never replaced (a row whose counts went up and
# back to zero can stay behind)
COUNTER_TABLES = tuple(_COUNTERS)


async def apply_deltas(session: AsyncSession, delta: Contributions) -> None:
    """Add a batch's counter deltas, table by table in one order and each table's keys
    sorted, so that consumers adding to the same rows at once wait instead of deadlocking."""
    for table, counter in (("progress", delta.progress),
                           ("progress_townships", per_township(delta.progress)),
                           ("progress_daily", delta.daily), ("funding", delta.funding)):
        keys, values = _COUNTERS[table]
        grouped: dict[tuple[Any, ...], dict[str, int]] = defaultdict(dict)
        for k, v in counter.items():
            grouped[k[:-1]][k[-1]] = v
        if not grouped:
            continue
        sql = text(f"""
            INSERT INTO {S}.{table} AS t ({', '.join(keys + values)})
            VALUES ({', '.join(':' + c for c in keys + values)})
            ON CONFLICT ({', '.join(keys)}) DO UPDATE SET
            {', '.join(f'{c} = t.{c} + EXCLUDED.{c}' for c in values)}""")
        await session.execute(sql, [
            {**dict(zip(keys, key, strict=True)), **{c: cols.get(c, 0) for c in values}}
            for key, cols in sorted(grouped.items(), key=lambda kv: str(kv[0]))
        ])


async def truncate_projections(session: AsyncSession, consumer: str) -> None:
    await session.execute(text(
        "TRUNCATE " + ", ".join(f"{S}.{t}" for t in PROJECTION_TABLES)))
    await session.execute(text(f"DELETE FROM {S}.inbox WHERE consumer = :c"), {"c": consumer})


def _lines(raw: Any) -> tuple[tuple[str, str, int], ...]:
    items = json.loads(raw) if isinstance(raw, str) else (raw or [])
    return tuple(
        (i.get("funding_source") or "", i.get("rule_id") or "", int(i.get("amount_fen") or 0))
        for i in items
    )


def _date(value: Any) -> dt.date | None:
    return dt.date.fromisoformat(value) if value else None
