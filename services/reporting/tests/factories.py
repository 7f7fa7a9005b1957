"""Event factories for reporting tests: events built from their contracts (contracts/)."""

from __future__ import annotations

import datetime as dt
import random
import uuid
from typing import Any

from contracts import eligibility, model_for, payments, registration
from devtools.testing.events import cloud_event
from shared.events import CloudEvent


def event(type_: str, data: dict[str, Any], key: str | None = None, **kw: Any) -> CloudEvent:
    """An event of `type_` whose payload its contract validates (`key`: the partition key,
    else the contract's)."""
    ev = cloud_event(model_for(type_).model_validate(data), **kw)
    return ev.model_copy(update={"partitionkey": key}) if key else ev


def person(person_id: str, *, village: str, birth_date: str = "1980-01-01", revision: int = 1,
           name: str = "张*三", id_masked: str = "370481********123X") -> CloudEvent:
    return cloud_event(registration.PersonRegistered(
        person_id=person_id, revision=revision, birth_date=birth_date, sex="male",
        id_number_hash="ab" * 16, id_number_masked=id_masked, name_masked=name,
        county_code=village[:6], township_code=village[:9] + "000",
        village_code=village, household_id=None))


def enrollment(person_id: str, plan_year: int, *, village: str, status: str = "registered",
               category: str = "adult", revision: int = 1) -> CloudEvent:
    model = (registration.EnrollmentRegistered if revision == 1
             else registration.EnrollmentChanged)
    return cloud_event(model.model_validate({
        "person_id": person_id, "plan_year": plan_year, "status": status,
        "reason": None if status == "registered" else "moved_away",
        "insured_category": category, "county_code": village[:6],
        "township_code": village[:9] + "000", "village_code": village,
        "registered_on": f"{plan_year - 1}-10-08", "revision": revision}))


def determination(person_id: str, plan_year: int, *, village: str, revision: int = 1,
                  subsidies: list[tuple[str, str, int]] = (), enrolled: bool = True,
                  standard_fen: int = 40000, category: str = "adult",
                  late: dict[str, Any] | None = None, on_time_until: str | None = None,
                  ) -> CloudEvent:
    """Without `late`/`on_time_until` the payload is an older event's (fields absent)."""
    lines = [{"rule_id": r, "funding_source": b, "amount_fen": a} for b, r, a in subsidies]
    extra: dict[str, Any] = {}
    if late is not None or on_time_until is not None:
        if late is not None:  # as eligibility writes it: with the late outcome's category
            late = {"insured_category": category, **late}
        extra = {"late": late, "on_time_until": on_time_until,
                 "payable_until": f"{plan_year}-12-31"}
    model = eligibility.DeterminationChanged.model_validate({**extra,
        "person_id": person_id, "plan_year": plan_year, "revision": revision,
        "enrolled": enrolled, "region_code": village[:6], "county_code": village[:6],
        "township_code": village[:9] + "000", "village_code": village,
        "policy_version": "0" * 64, "insured_category": category,
        "standard_fen": standard_fen,
        "personal_fen": standard_fen - sum(a for _, _, a in subsidies), "surcharge_fen": 0,
        "subsidies": lines, "coverage_start": f"{plan_year}-01-01",
        "determined_at": f"{plan_year - 1}-10-08T10:00:00+00:00"})
    ev = cloud_event(model)
    if not extra:  # an older event: the fields are absent, not null
        data = {k: v for k, v in ev.data.items()
                if k not in ("late", "on_time_until", "payable_until")}
        ev = ev.model_copy(update={"data": data})
    return ev


def payment(person_id: str, plan_year: int, *, village: str, order_no: str | None = None,
            kind: str = "paid", payer: str = "person", amount_fen: int = 40000,
            paid_at: str | None = None, revision: int = 1, funding_source: str | None = None,
            timing: str | None = None) -> CloudEvent:
    """`funding_source`/`timing` None: the field is absent (an older event)."""
    models = {"paid": payments.PaymentReceived, "refunded": payments.PaymentRefunded,
              "reversed": payments.PaymentReversed}
    ev = cloud_event(models[kind].model_validate({
        "person_id": person_id, "plan_year": plan_year,
        "order_no": order_no or f"CB{uuid.uuid4().hex[:16]}", "channel": "wechatpay",
        "channel_txn_id": uuid.uuid4().hex, "kind": kind, "payer": payer,
        "amount_fen": amount_fen,
        "paid_at": paid_at or f"{plan_year - 1}-12-01T10:00:00+08:00",
        "coverage_start": f"{plan_year}-01-01", "county_code": village[:6],
        "township_code": village[:9] + "000", "village_code": village, "revision": revision,
        "funding_source": funding_source, "timing": timing}))
    absent = [k for k, v in (("funding_source", funding_source), ("timing", timing)) if not v]
    return ev.model_copy(update={"data": {k: v for k, v in ev.data.items() if k not in absent}})


def target(township: str, plan_year: int, value: int,
           time: dt.datetime | None = None) -> CloudEvent:
    return cloud_event(registration.TargetSet(
        plan_year=plan_year, township_code=township, county_code=township[:6], target=value),
        time=time)


def new_id() -> str:
    return str(uuid.uuid4())


def new_county() -> str:
    """A county code of no real county (9xxxxx), never ending in 00 (that would be a city)."""
    return f"9{random.randint(100, 999)}{random.randint(1, 99):02d}"
