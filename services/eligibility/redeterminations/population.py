"""A region's enrolled population, read in person_id order, as the columns determine_batch takes,
and the batch results turned into rows to write.

Two readers: `read_chunk` fetches rows into Python (the simulations use it); `stage_chunk` leaves
the chunk in a temporary table on the server and brings only the fixed-width facts the engine
needs into numpy, through a binary COPY (the redetermination job: the results go back the same
way and are joined to the staged rows in SQL, so no Python object is made per person)."""

from __future__ import annotations

import dataclasses
import datetime as dt
import uuid
from dataclasses import dataclass
from typing import Any

import asyncpg
import numpy as np
import orjson

from kernels.codes import category_name
from kernels.policy import (
    GROUP_CODES,
    INSURED_CATEGORIES,
    Policy,
    PolicyCatalog,
    determine,
    determine_batch,
)
from kernels.policy.batch import (
    NONE_DAY,
    BatchColumns,
    as_days,
    coverage_floor,
    person_from_columns,
)
from kernels.policy.coverage import last_payable_day
from kernels.policy.determine import payers_text
from kernels.policy.owed import late_payment_day
from kernels.policy.rules import (
    person_dependent_assumptions,
    rule_name,
    share_amounts,
    without_refused,
)
from kernels.policy.trace import PAYERS
from services.eligibility.redeterminations import repository as repo
from shared.i18n import Text
from shared.outbox import shards_of_uuids

_G = len(GROUP_CODES)
_GROUP_INDEX = {c: i for i, c in enumerate(GROUP_CODES)}
_CAT_INDEX = {c: i for i, c in enumerate(INSURED_CATEGORIES)}
_EPOCH = dt.date(1970, 1, 1)


async def counties_of(conn: asyncpg.Connection, catalog: PolicyCatalog, region_code: str,
                      plan_year: int) -> list[str]:
    """The county codes enrolled in the year whose plan is the region's (county->city->province)."""
    out = []
    for county in await repo.enrolled_counties(conn, plan_year):
        policy = catalog.find(county, plan_year)
        if policy is not None and policy.region_code == region_code:
            out.append(county)
    return sorted(out)


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
    rows = await repo.people(conn, plan_year, counties, after, limit,
                             registered_only=registered_only)
    if not rows:
        return None
    n = len(rows)
    ids = [r[0] for r in rows]
    birth = np.fromiter((r[1] for r in rows), np.int64, n)
    # -1 not declared, -2 a text that is no category (determine_batch marks it refused)
    cat = np.fromiter((-1 if r[2] is None else _CAT_INDEX.get(r[2], -2) for r in rows),
                      np.int8, n)
    status = np.fromiter((r[3] for r in rows), bool, n)
    registered = np.fromiter((r[4] for r in rows), np.int64, n)
    index = {pid: i for i, pid in enumerate(ids)}
    groups = await repo.groups_between(conn, ids[0], ids[-1])
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


_NOT_ENROLLED_TRACE = ('[{"rule_id":"enrollment","matched":false,"outcome":"not enrolled",'
                       '"reason":"参保登记已终止或已结束：无需缴费",'
                       '"reason_en":"enrollment stopped or ended; nothing is due"}]')


_TABLES: dict[str, tuple[tuple[str, ...], tuple[str, ...]]] = {}


def _tables(policy: Policy) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """Subsidy lines and a one-line trace for each (winning rule + 1) * categories + category:
    the same for everyone who shares them; the full trace of one person is the preview's job."""
    got = _TABLES.get(policy.version)
    if got is not None:
        return got
    table_subs: list[str] = []
    table_trace: list[str] = []
    for r in (None, *policy.rules):
        for c in INSURED_CATEGORIES:
            standard = policy.standard_fen(c)
            cat = category_name(c)
            if r is None:
                table_subs.append("[]")
                amounts: list[tuple[str, int]] = []
                reason = Text("没有适用的资助规定", "no subsidy rule matched")
                rid = "subsidy"
            else:
                amounts = share_amounts(r, standard)
                table_subs.append(_lines_json([(r.id, f, a) for f, a in amounts if a > 0]))
                reason = Text(f"{rule_name(r).zh}：对本人最优惠的一项",
                              "the most generous rule for the person")
                rid = r.id
            payers = payers_text(policy, standard - sum(a for _, a in amounts), amounts, r)
            table_trace.append(orjson.dumps([{
                "rule_id": rid, "matched": r is not None, "outcome": "won" if r else "note",
                "reason": f"{reason.zh}（批量重新确定；类别：{cat.zh}）",
                "reason_en": f"{reason.en} (bulk redetermination; category {c})"}, {
                "rule_id": "payers", "matched": True, "outcome": PAYERS, "reason": payers.zh,
                "reason_en": payers.en}]).decode())
    if len(_TABLES) > 32:
        _TABLES.clear()
    got = _TABLES[policy.version] = (tuple(table_subs), tuple(table_trace))
    return got


def _one_by_one(policy: Policy, columns: BatchColumns, i: int) -> tuple[dt.date, str, str]:
    """Coverage start, subsidy lines and full trace of a row the batch path hands to determine()."""
    cov, subs, trace, _ = _determined(policy, columns, i)
    return cov, subs, trace


def as_days_of(columns: BatchColumns) -> np.ndarray:
    """The birth dates of the columns as day numbers."""
    days = as_days(columns.birth_date)
    assert days is not None
    return days


def _with_terms(policy: Policy, columns: BatchColumns, i: int,
                ) -> tuple[dt.date, str, str, str, dt.date, dt.date, str | None]:
    """A row decided one by one: _determined's (coverage start, subsidy lines, trace,
    assumptions) and its (on_time_until, payable_until, late JSON)."""
    # the stored determination is the on-time outcome whenever the person paid (as the
    # per-person path's determine_terms): the late one travels beside it, and owed_on picks
    # between them for a payment date
    person, _ = person_from_columns(columns, i)
    d = on_time = determine(policy, person)
    return (d.coverage_start,
            _lines_json([(s.rule_id, s.funding_source, s.amount_fen) for s in d.subsidies]),
            orjson.dumps([t.to_dict() for t in d.trace]).decode(),
            orjson.dumps(list(d.assumptions)).decode(),
            *_late_terms(policy, person, on_time))


def _late_terms(policy: Policy, person: Any, on_time: Any,
                ) -> tuple[dt.date, dt.date, str | None]:
    """(on_time_until, payable_until, late JSON) of a person and their on-time determination."""
    day = late_payment_day(on_time, policy)
    until = on_time.on_time_until or policy.in_period_until
    if day is None:
        return until, max(until, policy.plan_end), None
    late = determine(policy, person, paid_on=day)
    subs = _lines_json([(s.rule_id, s.funding_source, s.amount_fen) for s in late.subsidies])
    return (until, last_payable_day(policy, until),
            _late_json(late.insured_category, late.personal_fen, late.surcharge_fen, subs))


def _determined(policy: Policy, columns: BatchColumns, i: int) -> tuple[dt.date, str, str, str]:
    """_one_by_one and the assumptions the determination rests on (JSON list)."""
    person, _ = person_from_columns(columns, i)
    d = determine(policy, person)  # the on-time outcome, as in _with_terms
    return (d.coverage_start,
            _lines_json([(s.rule_id, s.funding_source, s.amount_fen) for s in d.subsidies]),
            orjson.dumps([t.to_dict() for t in d.trace]).decode(),
            orjson.dumps(list(d.assumptions)).decode())


_LINE_ASSUMPTIONS: dict[tuple[str, int], str] = {}


def _line_assumptions(policy: Policy, columns: BatchColumns, i: int, line: int) -> str:
    """The assumptions of everyone on one (winning rule, category) line, from determine() of
    one of them (the category rule, the winning rule and its shares, the fiscal subsidy are
    the same for all of them). Whether the age basis is among them depends on each person's
    age near a rule's boundary: it is listed for the whole line whenever a rule has an age
    condition, so a stored determination may name it where the preview would not."""
    key = (policy.version, line)
    got = _LINE_ASSUMPTIONS.get(key)
    if got is None:
        _, _, _, found = _determined(policy, columns, i)
        texts = orjson.loads(found)
        if any(r.when.age is not None for r in policy.rules):
            for aid in policy.model.age_basis_assumptions:
                text = policy.describe_assumption(aid)
                if text not in texts:
                    texts.append(text)
        # and those that depend on each person's memberships (rules.person_dependent_...)
        won, cat = divmod(line, len(INSURED_CATEGORIES))
        for text in person_dependent_assumptions(
                policy, policy.rules[won - 1] if won > 0 else None, INSURED_CATEGORIES[cat]):
            if text not in texts:
                texts.append(text)
        if len(_LINE_ASSUMPTIONS) > 4096:
            _LINE_ASSUMPTIONS.clear()
        got = _LINE_ASSUMPTIONS[key] = orjson.dumps(texts).decode()
    return got


def compute(policy: Policy, chunk: Chunk) -> Results:
    res = determine_batch(policy, chunk.columns)
    if res.refused.any():  # declarations determine() refuses (rules.derive_category): until
        # they are corrected, the rows decided one by one use the category derived from the
        # birth date, as the batch's figures do, instead of failing the whole chunk
        chunk = dataclasses.replace(chunk, columns=without_refused(chunk.columns, res))
    cats = len(INSURED_CATEGORIES)
    table_subs, table_trace = _tables(policy)
    key = (res.winning_rule.astype(np.int64) + 1) * cats + res.insured_category
    subs_arr = np.array(table_subs, dtype=object)[key]
    trace_arr = np.array(table_trace, dtype=object)[key]
    coverage = [day(int(c)) for c in coverage_floor(policy, as_days_of(chunk.columns))]
    standard, personal, surcharge = res.standard_fen, res.personal_fen, res.surcharge_fen
    by_line = res.by_budget_line
    for i in res.per_person_rows:  # late payers and newborns: decided one by one
        coverage[i], subs_arr[i], trace_arr[i] = _one_by_one(policy, chunk.columns, int(i))
    out = chunk.status
    if not out.all():  # stopped or ended: nothing is due
        off = ~out
        standard, personal, surcharge = (np.where(off, 0, a) for a in (standard, personal,
                                                                         surcharge))
        by_line = {k: np.where(off, 0, v) for k, v in by_line.items()}
        for i in np.flatnonzero(off):
            subs_arr[i] = "[]"
            trace_arr[i] = _NOT_ENROLLED_TRACE
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


# --- the chunk staged on the server (redetermination) -----------------------------------------


@dataclass
class Staged:
    """A chunk whose rows wait in the temporary table redet_in (ON COMMIT DROP), row i = i-th
    person in person_id order, and the engine's columns for it."""

    n: int
    last_person_id: uuid.UUID
    enrolled: np.ndarray  # bool: registered
    shard: np.ndarray  # int16: the outbox shard of str(person_id)
    columns: BatchColumns

    def __len__(self) -> int:
        return self.n


async def stage_chunk(conn: asyncpg.Connection, plan_year: int, counties: list[str],
                      after: uuid.UUID | None, upto: uuid.UUID | None) -> Staged | None:
    """Stage the persons enrolled with after < person_id <= upto (None: no bound) in redet_in;
    None when there are none.

    redet_in(i, person_id, county_code, township_code, village_code, enrolled, ...) stays on the
    server for the writes, row i = the i-th person in person_id order; the facts come to numpy
    through one binary COPY each for the people and their group memberships."""
    n = await repo.stage_people(conn, plan_year, counties, after, upto)
    if n == 0:
        return None
    i, pid, birth, cat, enrolled, registered = await repo.staged_people(conn)
    if len(i) != n:
        raise RuntimeError(f"staged {n} persons, read {len(i)}")
    order = np.empty(n, np.intp)
    order[i] = np.arange(n)  # usually the identity: the table is written in order

    def days(a: np.ndarray) -> np.ndarray:
        out = a.astype(np.int64)
        out[out == repo.NULL_DAY] = NONE_DAY
        return out

    raw = pid[order].view(np.uint8).reshape(n, 16)
    gi, gcode, gcert, gends, glater = await repo.staged_groups(
        conn, uuid.UUID(bytes=raw[0].tobytes()), uuid.UUID(bytes=raw[-1].tobytes()))
    bits = np.zeros(n, np.uint32)
    cert = later = ends = None
    if len(gi):
        rows, g = gi.astype(np.intp), gcode.astype(np.intp)
        np.bitwise_or.at(bits, rows, (np.uint32(1) << g.astype(np.uint32)))
        cert = np.full((n, _G), NONE_DAY, np.int64)
        ends = np.full((n, _G), NONE_DAY, np.int64)
        later = np.full((n, _G), NONE_DAY, np.int64)
        cert[rows, g] = days(gcert)
        ends[rows, g] = days(gends)
        later[rows, g] = days(glater)
    return Staged(
        n=n, last_person_id=uuid.UUID(bytes=raw[-1].tobytes()),
        enrolled=enrolled[order].astype(bool), shard=shards_of_uuids(raw),
        columns=BatchColumns(birth_date=days(birth[order]),
                             insured_category=cat[order].astype(np.int8), groups=bits,
                             certified_on=cert, later_birth_on=later, ends_on=ends,
                             registered_on=days(registered[order])),
    )


@dataclass
class Outcome:
    """The results of a staged chunk: row i of redet_in gets results[key[i]].

    Most people share their result with many others (the winning rule and the category decide
    it), so the distinct results go to the server once per chunk and each person only as a key.
    """

    key: np.ndarray  # int32, per person
    # distinct results: (insured category, standard, personal, surcharge, coverage start,
    # subsidies JSON, trace JSON, assumptions JSON, on_time_until, payable_until, late JSON)
    results: list[tuple[str, int, int, int, dt.date, str, str, str, dt.date | None,
                        dt.date | None, str | None]]


def _late_json(category: str, personal: int, surcharge: int, subsidies: str) -> str:
    """The late outcome as eligibility.determination.v1 carries it (subsidies: JSON text)."""
    return (f'{{"personal_fen":{personal},"surcharge_fen":{surcharge},'
            f'"subsidies":{subsidies},"insured_category":{orjson.dumps(category).decode()}}}')


def _windows(policy: Policy) -> tuple[tuple[dt.date, dt.date], tuple[dt.date, dt.date]]:
    """(on_time_until, payable_until) for people without and with a subsidy rule that matched."""
    plain = policy.in_period_until
    ext = policy.subsidized_until
    subsidized = ext if ext is not None and ext > plain else plain
    return ((plain, last_payable_day(policy, plain)),
            (subsidized, last_payable_day(policy, subsidized)))


def compute_staged(policy: Policy, staged: Staged) -> Outcome:
    """What compute() gives (the same figures, lines and traces), as a key per person into the
    distinct results."""
    cols = staged.columns
    n = staged.n
    res = determine_batch(policy, cols)
    if res.refused.any():  # declarations determine() refuses (rules.derive_category): until
        # they are corrected, the rows decided one by one use the category derived from the
        # birth date, as the batch's figures do, instead of failing the whole chunk
        cols = without_refused(cols, res)
    late_res = determine_batch(policy, cols, late=True)
    cats = len(INSURED_CATEGORIES)
    table_subs, table_trace = _tables(policy)
    width = len(table_subs)
    on_line = (res.winning_rule.astype(np.int64) + 1) * cats + res.insured_category
    late_line = (late_res.winning_rule.astype(np.int64) + 1) * cats + late_res.insured_category
    # a result is decided by the on-time line and the late line (the late winner can differ
    # where a rule is only for payments in the period, or subsidies are forfeited)
    line = on_line * width + late_line
    windows = _windows(policy)
    coverage = coverage_floor(policy, as_days_of(cols))
    standard, personal, surcharge = res.standard_fen, res.personal_fen, res.surcharge_fen
    enrolled = staged.enrolled
    # the usual case: the table's line for (winning rule, category) and figures that are the
    # same for everyone on that line (checked, not assumed)
    regular = enrolled & (coverage == (policy.plan_start - _EPOCH).days)  # born later: own day
    regular[res.per_person_rows] = False
    uniq, first = np.unique(line[regular], return_index=True)
    rows = np.flatnonzero(regular)[first]
    key = np.full(n, -1, np.int32)
    key[regular] = np.searchsorted(uniq, line[regular])
    late_personal, late_surcharge = late_res.personal_fen, late_res.surcharge_fen
    if len(rows):
        for a in (standard, personal, surcharge, res.insured_category, late_personal,
                  late_surcharge):
            regular &= a == a[rows][np.maximum(key, 0)]
    key[~regular] = -1

    def regular_result(r: int) -> tuple[Any, ...]:
        cat = INSURED_CATEGORIES[res.insured_category[r]]
        until, payable = windows[int(res.winning_rule[r] >= 0)]
        return (cat, int(standard[r]), int(personal[r]), int(surcharge[r]),
                day(int(coverage[r])),
                table_subs[on_line[r]], table_trace[on_line[r]],
                _line_assumptions(policy, cols, r, int(on_line[r])), until, payable,
                _late_json(INSURED_CATEGORIES[late_res.insured_category[r]],
                           int(late_personal[r]), int(late_surcharge[r]),
                           table_subs[late_line[r]]))

    results = [regular_result(r) for r in rows.tolist()]
    # the rest, one by one: late payers and newborns (determine()), and people whose enrollment
    # was stopped or ended (nothing is due; their category and coverage start are kept)
    subs_of: dict[int, tuple[str, str, str, dt.date, dt.date, str | None]] = {}
    for i in res.per_person_rows.tolist():
        cov, *rest = _with_terms(policy, cols, i)
        coverage[i] = (cov - _EPOCH).days
        subs_of[i] = tuple(rest)  # type: ignore[assignment]
    seen: dict[tuple[Any, ...], int] = {}
    for i in np.flatnonzero(key < 0).tolist():
        if not enrolled[i]:
            r: tuple[Any, ...] = (INSURED_CATEGORIES[res.insured_category[i]], 0, 0, 0,
                                  day(int(coverage[i])), "[]", _NOT_ENROLLED_TRACE, "[]", None,
                                  None, None)
        elif i in subs_of:
            r = (INSURED_CATEGORIES[res.insured_category[i]], int(standard[i]),
                 int(personal[i]), int(surcharge[i]), day(int(coverage[i])), *subs_of[i])
        else:
            r = regular_result(i)
        k = seen.get(r)
        if k is None:
            k = seen[r] = len(results)
            results.append(r)
        key[i] = k
    return Outcome(key=key, results=results)
