"""A region's enrolled population, read in person_id order, as the columns determine_batch takes,
and the batch results turned into rows to write."""

from __future__ import annotations

import datetime as dt
import uuid
from dataclasses import dataclass
from typing import Any

import asyncpg
import numpy as np
import orjson

from services.eligibility.engine import (
    GROUP_CODES,
    INSURED_CATEGORIES,
    Policy,
    PolicyCatalog,
    determine,
    determine_batch,
)
from services.eligibility.engine.batch import NONE_DAY, BatchColumns, person_from_columns
from services.eligibility.engine.rules import share_amounts

S = "eligibility"
_G = len(GROUP_CODES)
_GROUP_INDEX = {c: i for i, c in enumerate(GROUP_CODES)}
_CAT_INDEX = {c: i for i, c in enumerate(INSURED_CATEGORIES)}
_EPOCH = dt.date(1970, 1, 1)


async def counties_of(conn: asyncpg.Connection, catalog: PolicyCatalog, region_code: str,
                      plan_year: int) -> list[str]:
    """The county codes enrolled in the year whose plan is the region's (county->city->province)."""
    rows = await conn.fetch(
        f"SELECT DISTINCT county_code FROM {S}.enrollments WHERE plan_year = $1", plan_year)
    out = []
    for r in rows:
        policy = catalog.find(r[0], plan_year)
        if policy is not None and policy.region_code == region_code:
            out.append(r[0])
    return sorted(out)


async def count_population(conn: asyncpg.Connection, plan_year: int, counties: list[str]) -> int:
    return int(await conn.fetchval(
        f"SELECT count(*) FROM {S}.enrollments WHERE plan_year = $1 AND county_code = ANY($2)",
        plan_year, counties))


@dataclass
class Chunk:
    person_ids: list[uuid.UUID]
    status: np.ndarray  # bool: registered
    county: list[str]
    township: list[str | None]
    village: list[str | None]
    columns: BatchColumns

    def __len__(self) -> int:
        return len(self.person_ids)


async def read_chunk(conn: asyncpg.Connection, plan_year: int, counties: list[str],
                     after: uuid.UUID | None, limit: int, *, registered_only: bool = False,
                     ) -> Chunk | None:
    rows = await conn.fetch(f"""
        SELECT e.person_id, p.birth_date - DATE '1970-01-01', e.insured_category,
               e.status = 'registered', e.registered_on - DATE '1970-01-01',
               e.county_code, e.township_code, e.village_code
        FROM {S}.enrollments e JOIN {S}.persons p USING (person_id)
        WHERE e.plan_year = $1 AND e.county_code = ANY($2) AND e.person_id > $3
              {"AND e.status = 'registered'" if registered_only else ""}
        ORDER BY e.person_id LIMIT $4""",
        plan_year, counties, after or uuid.UUID(int=0), limit)
    if not rows:
        return None
    n = len(rows)
    ids = [r[0] for r in rows]
    birth = np.fromiter((r[1] for r in rows), np.int64, n)
    cat = np.fromiter((_CAT_INDEX.get(r[2], -1) for r in rows), np.int8, n)
    status = np.fromiter((r[3] for r in rows), bool, n)
    registered = np.fromiter((r[4] for r in rows), np.int64, n)
    index = {pid: i for i, pid in enumerate(ids)}
    groups = await conn.fetch(f"""
        SELECT person_id, group_code, certified_on - DATE '1970-01-01',
               ends_on - DATE '1970-01-01', later_birth_on - DATE '1970-01-01'
        FROM {S}.person_groups
        WHERE person_id >= $1 AND person_id <= $2 AND NOT removed""", ids[0], ids[-1])
    bits = np.zeros(n, np.uint32)
    cert = later = ends = None
    if groups:
        cert = np.full((n, _G), NONE_DAY, np.int64)
        ends = np.full((n, _G), NONE_DAY, np.int64)
        later = np.full((n, _G), NONE_DAY, np.int64)
        for pid, code, c, e, lb in groups:
            i = index.get(pid)
            g = _GROUP_INDEX.get(code)
            if i is None or g is None:
                continue
            bits[i] |= np.uint32(1 << g)
            if c is not None:
                cert[i, g] = c
            if e is not None:
                ends[i, g] = e
            if lb is not None:
                later[i, g] = lb
    return Chunk(
        person_ids=ids, status=status, county=[r[5] for r in rows],
        township=[r[6] for r in rows], village=[r[7] for r in rows],
        columns=BatchColumns(birth_date=birth, insured_category=cat, groups=bits,
                             certified_on=cert, later_birth_on=later, ends_on=ends,
                             registered_on=registered),
    )


@dataclass
class Results:
    """Per person: what is due, who pays the rest, as rows ready to write."""

    enrolled: np.ndarray
    category: np.ndarray  # int8 index into INSURED_CATEGORIES
    standard: np.ndarray
    personal: np.ndarray
    surcharge: np.ndarray
    by_line: dict[str, np.ndarray]
    subsidies: list[str]  # JSON text per person
    trace: list[str]
    coverage: list[dt.date]


def _lines_json(lines: list[tuple[str, str, int]]) -> str:
    return orjson.dumps([{"rule_id": r, "funding_source": f, "amount_fen": a}
                         for r, f, a in lines]).decode()


def compute(policy: Policy, chunk: Chunk) -> Results:
    res = determine_batch(policy, chunk.columns)
    n = len(chunk)
    rules = policy.rules
    cats = len(INSURED_CATEGORIES)
    # the subsidy lines and a one-line trace for each (winning rule, category): the same for
    # everyone who shares them; the full trace of one person is the preview's job
    table_subs: list[str] = []
    table_trace: list[str] = []
    for r in (None, *rules):
        for c in INSURED_CATEGORIES:
            if r is None:
                table_subs.append("[]")
                reason = "no subsidy rule matched"
                rid = "subsidy"
            else:
                amounts = share_amounts(r, policy.standard_fen(c))
                table_subs.append(_lines_json([(r.id, f, a) for f, a in amounts if a > 0]))
                reason = "the most generous rule for the person"
                rid = r.id
            table_trace.append(orjson.dumps([{
                "rule_id": rid, "matched": r is not None, "outcome": "won" if r else "note",
                "reason": f"{reason} (bulk redetermination; category {c})"}]).decode())
    key = (res.winning_rule.astype(np.int64) + 1) * cats + res.insured_category
    subs_arr = np.array(table_subs, dtype=object)[key]
    trace_arr = np.array(table_trace, dtype=object)[key]
    coverage = [policy.plan_start] * n
    standard, personal, surcharge = res.standard_fen, res.personal_fen, res.surcharge_fen
    by_line = res.by_budget_line
    for i in res.per_person_rows:  # late payers and newborns: decided one by one
        person, paid_on = person_from_columns(chunk.columns, int(i))
        d = determine(policy, person, paid_on=paid_on)
        coverage[i] = d.coverage_start
        subs_arr[i] = _lines_json([(s.rule_id, s.funding_source, s.amount_fen)
                                   for s in d.subsidies])
        trace_arr[i] = orjson.dumps([t.to_dict() for t in d.trace]).decode()
    out = chunk.status
    if not out.all():  # stopped or ended: nothing is due
        off = ~out
        standard, personal, surcharge = (np.where(off, 0, a) for a in (standard, personal,
                                                                         surcharge))
        by_line = {k: np.where(off, 0, v) for k, v in by_line.items()}
        for i in np.flatnonzero(off):
            subs_arr[i] = "[]"
            trace_arr[i] = '[{"rule_id":"enrollment","matched":false,"outcome":"not enrolled",' \
                           '"reason":"enrollment stopped or ended; nothing is due"}]'
    return Results(enrolled=out, category=res.insured_category, standard=standard,
                   personal=personal, surcharge=surcharge, by_line=by_line,
                   subsidies=list(subs_arr), trace=list(trace_arr), coverage=coverage)


def category_names(codes: np.ndarray) -> list[str]:
    names = np.array(INSURED_CATEGORIES, dtype=object)
    return list(names[codes.astype(np.intp)])


def summarize(results: Results, townships: list[str | None], totals: dict[str, Any]) -> None:
    """Add headcount and money per budget line, overall and per township, into `totals`."""
    mask = results.enrolled
    keys = np.array([t or "" for t in townships], dtype=object)
    uniq, inv = np.unique(keys, return_inverse=True)
    for scope, sel in [("all", None), *((u, inv == k) for k, u in enumerate(uniq))]:
        m = mask if sel is None else (mask & sel)
        if scope == "all":
            target = totals.setdefault("total", _empty())
        else:
            target = totals.setdefault("townships", {}).setdefault(scope, _empty())
        target["headcount"] += int(m.sum())
        target["standard_fen"] += int(results.standard[m].sum())
        target["personal_fen"] += int(results.personal[m].sum())
        target["surcharge_fen"] += int(results.surcharge[m].sum())
        for line, arr in results.by_line.items():
            v = arr[m]
            if v.any():
                t = target["budget_lines"].setdefault(line, {"headcount": 0, "amount_fen": 0})
                t["headcount"] += int((v > 0).sum())
                t["amount_fen"] += int(v.sum())


def _empty() -> dict[str, Any]:
    return {"headcount": 0, "standard_fen": 0, "personal_fen": 0, "surcharge_fen": 0,
            "budget_lines": {}}


def day(n: int) -> dt.date:
    return _EPOCH + dt.timedelta(days=int(n))
