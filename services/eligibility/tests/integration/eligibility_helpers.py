from __future__ import annotations

import datetime as dt
import uuid
from typing import Any

from contracts import model_for
from devtools.testing.events import cloud_event
from shared.events import CloudEvent
from shared.idnumber import check_character


def _event(event_type: str, data: dict[str, Any]) -> CloudEvent:
    """An event built by its contract (contracts/), as the producer's outbox would send it."""
    return cloud_event(model_for(event_type).model_validate(data))


def new_id_number(first17: str) -> str:
    return first17 + check_character(first17)


def person_event(pid: uuid.UUID, rev: int, birth: str = "1980-06-01", county: str = "370481",
                 township: str = "370481001000", type_: str = "registered") -> CloudEvent:
    return _event(f"registration.person_{type_}.v1", {
        "person_id": str(pid), "revision": rev, "birth_date": birth, "sex": "male",
        "id_number_hash": "x", "id_number_masked": "370481********0012", "name_masked": "张*三",
        "county_code": county, "township_code": township, "village_code": None,
        "household_id": None})


def enrollment_event(pid: uuid.UUID, rev: int, year: int = 2025, status: str = "registered",
                     county: str = "370481", township: str = "370481001000",
                     category: str = "adult") -> CloudEvent:
    return _event("registration.enrollment_changed.v1", {
        "person_id": str(pid), "plan_year": year, "status": status,
        "reason": None if status == "registered" else "moved_away",
        "insured_category": category, "county_code": county, "township_code": township,
        "village_code": None, "registered_on": "2024-10-08", "revision": rev})


def group_event(pid: uuid.UUID, rev: int, code: str = "minimum_living_allowance",
                removed: bool = False, certified_on: str | None = "2024-10-01") -> CloudEvent:
    kind = "removed" if removed else "added"
    return _event(f"registration.group_membership_{kind}.v1", {"person_id": str(pid), "group_code": code,
                            "certified_on": certified_on, "ends_on": None,
                            "later_birth_on": None, "revision": rev})


def payment_event(pid: uuid.UUID, amount: int = 40000, year: int = 2025, rev: int = 1,
                  kind: str = "paid") -> CloudEvent:
    return _event(f"payments.payment_{'received' if kind == 'paid' else kind}.v1", {
        "person_id": str(pid), "plan_year": year, "order_no": f"CB{pid.hex[:12]}",
        "channel": "wechatpay", "channel_txn_id": "t", "kind": kind, "payer": "person",
        "amount_fen": amount, "paid_at": dt.datetime(2024, 12, 1, tzinfo=dt.UTC).isoformat(),
        "coverage_start": "2025-01-01", "county_code": "370481", "township_code": None,
        "village_code": None, "revision": rev})


def outbox_events(rows: list[Any]) -> list[tuple[str, dict[str, Any]]]:
    return [(r[0], r[1]) for r in rows]
