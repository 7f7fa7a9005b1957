"""SQL of the projections: newest-revision upserts of the sources, person-years, counter deltas."""

from __future__ import annotations

import datetime as dt
import json
from collections import defaultdict
from typing import Any

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from services.reporting.projections.state import (
    Contributions,
    DeterminationFacts,
    EnrollmentFacts,
    PaymentFacts,
    PersonFacts,
    PersonYear,
)

S = "reporting"

# Everything rebuilt from the topics; reminder_reasons is staff input and survives a rebuild.
PROJECTION_TABLES = ("persons", "enrollments", "determinations", "payments", "person_years",
                     "targets", "progress", "progress_daily", "funding", "reconciliations")


async def upsert_person(session: AsyncSession, d: dict[str, Any]) -> bool:
    row = await session.execute(text(f"""
        INSERT INTO {S}.persons AS t (person_id, revision, birth_date, name_masked,
            id_number_masked, county_code, township_code, village_code, phone_enc)
        VALUES (:person_id, :revision, :birth_date, :name_masked, :id_number_masked,
            :county_code, :township_code, :village_code, :phone_enc)
        ON CONFLICT (person_id) DO UPDATE SET revision = EXCLUDED.revision,
            birth_date = EXCLUDED.birth_date, name_masked = EXCLUDED.name_masked,
            id_number_masked = EXCLUDED.id_number_masked, county_code = EXCLUDED.county_code,
            township_code = EXCLUDED.township_code, village_code = EXCLUDED.village_code,
            phone_enc = EXCLUDED.phone_enc
        WHERE t.revision < EXCLUDED.revision
        RETURNING 1"""), {
        "person_id": d["person_id"], "revision": int(d["revision"]),
        "birth_date": _date(d.get("birth_date")), "name_masked": d.get("name_masked") or "",
        "id_number_masked": d.get("id_number_masked") or "",
        "county_code": d.get("county_code") or "", "township_code": d.get("township_code") or "",
        "village_code": d.get("village_code") or "",
        "phone_enc": d.get("phone_enc"),
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
    subsidies = [
        {"rule_id": s.get("rule_id") or "", "funding_source": s.get("funding_source") or "",
         "amount_fen": int(s.get("amount_fen") or 0)}
        for s in d.get("subsidies") or []
    ]
    row = await session.execute(text(f"""
        INSERT INTO {S}.determinations AS t (person_id, plan_year, revision, enrolled,
            insured_category, county_code, township_code, village_code, standard_fen,
            personal_fen, subsidies)
        VALUES (:person_id, :plan_year, :revision, :enrolled, :insured_category, :county_code,
            :township_code, :village_code, :standard_fen, :personal_fen,
            CAST(:subsidies AS jsonb))
        ON CONFLICT (person_id, plan_year) DO UPDATE SET revision = EXCLUDED.revision,
            enrolled = EXCLUDED.enrolled, insured_category = EXCLUDED.insured_category,
            county_code = EXCLUDED.county_code, township_code = EXCLUDED.township_code,
            village_code = EXCLUDED.village_code, standard_fen = EXCLUDED.standard_fen,
            personal_fen = EXCLUDED.personal_fen, subsidies = EXCLUDED.subsidies
        WHERE t.revision < EXCLUDED.revision
        RETURNING 1"""), {
        "person_id": d["person_id"], "plan_year": int(d["plan_year"]),
        "revision": int(d["revision"]), "enrolled": bool(d.get("enrolled", True)),
        "insured_category": d.get("insured_category") or "adult",
        "county_code": d.get("county_code") or "", "township_code": d.get("township_code") or "",
        "village_code": d.get("village_code") or "",
        "standard_fen": int(d.get("standard_fen") or 0),
        "personal_fen": int(d.get("personal_fen") or 0), "subsidies": json.dumps(subsidies),
    })
    return row.first() is not None


async def upsert_payment(session: AsyncSession, d: dict[str, Any]) -> bool:
    row = await session.execute(text(f"""
        INSERT INTO {S}.payments AS t (order_no, person_id, plan_year, revision, kind, payer,
            channel, amount_fen, paid_at, county_code, township_code, village_code)
        VALUES (:order_no, :person_id, :plan_year, :revision, :kind, :payer, :channel,
            :amount_fen, :paid_at, :county_code, :township_code, :village_code)
        ON CONFLICT (order_no) DO UPDATE SET revision = EXCLUDED.revision,
            kind = EXCLUDED.kind, payer = EXCLUDED.payer, channel = EXCLUDED.channel,
            amount_fen = EXCLUDED.amount_fen, paid_at = EXCLUDED.paid_at
        WHERE t.revision < EXCLUDED.revision
        RETURNING 1"""), {
        "order_no": d["order_no"], "person_id": d["person_id"], "plan_year": int(d["plan_year"]),
        "revision": int(d["revision"]), "kind": d["kind"], "payer": d.get("payer") or "person",
        "channel": d.get("channel") or "", "amount_fen": int(d.get("amount_fen") or 0),
        "paid_at": dt.datetime.fromisoformat(d["paid_at"]),
        "county_code": d.get("county_code") or "", "township_code": d.get("township_code") or "",
        "village_code": d.get("village_code") or "",
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
        f"subsidies FROM {S}.determinations WHERE person_id = :p AND plan_year = :y"), p)).first()
    pays = (await session.execute(text(
        f"SELECT kind, payer, amount_fen, paid_at, county_code, township_code, village_code "
        f"FROM {S}.payments WHERE person_id = :p AND plan_year = :y ORDER BY order_no"), p)).all()
    old = (await session.execute(text(
        f"SELECT county_code, township_code, village_code, band, enrollment_status, registered, "
        f"enrolled, subsidized, paid_by, paid_fen, paid_on, subsidies FROM {S}.person_years "
        f"WHERE person_id = :p AND plan_year = :y"), p)).first()
    return (
        PersonFacts(*person) if person else None,
        EnrollmentFacts(*enr) if enr else None,
        DeterminationFacts(*det[:5], subsidies=_lines(det[5])) if det else None,
        [PaymentFacts(*r) for r in pays],
        PersonYear(*old[:11], subsidies=_lines(old[11])) if old else None,
    )


async def save_person_year(
    session: AsyncSession, person_id: str, plan_year: int, py: PersonYear | None
) -> None:
    if py is None:
        await session.execute(text(
            f"DELETE FROM {S}.person_years WHERE person_id = :p AND plan_year = :y"),
            {"p": person_id, "y": plan_year})
        return
    await session.execute(text(f"""
        INSERT INTO {S}.person_years (person_id, plan_year, county_code, township_code,
            village_code, band, enrollment_status, registered, enrolled, subsidized, paid_by,
            paid_fen, paid_on, subsidies)
        VALUES (:p, :y, :county_code, :township_code, :village_code, :band, :enrollment_status,
            :registered, :enrolled, :subsidized, :paid_by, :paid_fen, :paid_on,
            CAST(:subsidies AS jsonb))
        ON CONFLICT (person_id, plan_year) DO UPDATE SET county_code = EXCLUDED.county_code,
            township_code = EXCLUDED.township_code, village_code = EXCLUDED.village_code,
            band = EXCLUDED.band, enrollment_status = EXCLUDED.enrollment_status,
            registered = EXCLUDED.registered, enrolled = EXCLUDED.enrolled,
            subsidized = EXCLUDED.subsidized, paid_by = EXCLUDED.paid_by,
            paid_fen = EXCLUDED.paid_fen, paid_on = EXCLUDED.paid_on,
            subsidies = EXCLUDED.subsidies"""), {
        "p": person_id, "y": plan_year, "county_code": py.county_code,
        "township_code": py.township_code, "village_code": py.village_code, "band": py.band,
        "enrollment_status": py.enrollment_status, "registered": py.registered,
        "enrolled": py.enrolled, "subsidized": py.subsidized, "paid_by": py.paid_by,
        "paid_fen": py.paid_fen, "paid_on": py.paid_on,
        "subsidies": json.dumps([
            {"funding_source": b, "rule_id": r, "amount_fen": a} for b, r, a in py.subsidies
        ]),
    })


_COUNTERS = {
    # table: (key columns, value columns)
    "progress": (("plan_year", "county_code", "township_code", "village_code", "band"),
                 ("registered", "paid_person", "paid_government", "paid_person_fen",
                  "paid_government_fen")),
    "progress_daily": (("plan_year", "county_code", "township_code", "day"), ("paid",)),
    "funding": (("plan_year", "county_code", "township_code", "budget_line", "rule_id"),
                ("headcount", "amount_fen", "paid_headcount")),
}


async def apply_deltas(session: AsyncSession, delta: Contributions) -> None:
    for table, counter in (("progress", delta.progress), ("progress_daily", delta.daily),
                           ("funding", delta.funding)):
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
