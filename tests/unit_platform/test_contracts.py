"""The event contracts (contracts/): one model per event type and version, each on a topic its
service produces; the payloads the services build in Python hold to them; typed delivery by the
EventRouter; docs/EVENTS.md is what the models say; migrations carry their own DDL."""

from __future__ import annotations

import ast
import datetime as dt
import uuid
from pathlib import Path
from types import SimpleNamespace

import pytest
from pydantic import ValidationError

import contracts
from contracts import MODELS, REGISTRY, eligibility, model_for, payments, registration
from contracts.docs import main as docs_main
from devtools.testing.events import cloud_event
from shared.events import CloudEvent
from shared.inbox import EventRouter
from shared.outbox import Outbox
from shared.topics import PRODUCED_BY

ROOT = Path(__file__).resolve().parents[2]
PID = uuid.UUID("0190e0f2-8f0e-7c3a-9d1e-2b3c4d5e6f70")


def test_every_model_is_one_type_and_version_on_a_topic_of_its_producer() -> None:
    assert len({m.TYPE for m in MODELS}) == len(MODELS) == len(REGISTRY)
    for (topic, name, version), model in REGISTRY.items():
        service = name.split(".")[0]
        assert topic in PRODUCED_BY[service], model
        assert model.TYPE == f"{name}.v{version}" and model_for(model.TYPE) is model
        assert model.KEY is None or model.KEY in model.model_fields
    with pytest.raises(contracts.UnknownEventType):
        model_for("registration.person_registered.v9")


def test_the_examples_in_the_docs_hold_to_their_models() -> None:
    for model in MODELS:
        assert model.EXAMPLE, model
        assert model.model_validate(model.EXAMPLE).wire() == model.EXAMPLE, model


def test_docs_events_md_is_generated_from_the_models() -> None:
    """Fails when docs/EVENTS.md differs from `python -m contracts.docs` (run it)."""
    assert docs_main(["--check"]) == 0


def _person() -> SimpleNamespace:
    return SimpleNamespace(
        id=PID, revision=2, birth_date=dt.date(1980, 1, 2), sex="female",
        id_number_hash="v1.aes:ab", id_number_masked="370481198001020021",
        name_masked="张*三", county_code="370481", township_code="370481001000",
        village_code=None, household_id=None, phone=None)


def test_registration_payloads_hold_to_their_contracts() -> None:
    from services.registration import events

    person = events.person_event(events.PersonChanged, _person())
    assert person.wire()["person_id"] == str(PID) and person.wire()["birth_date"] == "1980-01-02"
    assert person.wire()["id_number_masked"] != "370481198001020021"  # masked again
    enrollment = SimpleNamespace(
        person_id=PID, plan_year=2025, status="stopped", reason="moved_away",
        insured_category="adult", county_code="370481", township_code="370481001000",
        village_code="370481001001", registered_on=dt.date(2024, 10, 8), revision=3)
    e = events.enrollment_event(events.EnrollmentChanged, enrollment)
    assert e.key() == str(PID) and e.wire()["registered_on"] == "2024-10-08"
    # the payloads the COPY form writes unvalidated (rollover, list uploads) are the JSON forms
    assert events.enrollment_payload(enrollment) == e.wire()
    certified = SimpleNamespace(group_code="orphan", certified_on=dt.date(2024, 3, 1),
                                ends_on=None, later_birth_on=None)
    assert events.membership_payload(PID, certified, 5) == events.membership_event(
        events.GroupMembershipAdded, PID, certified, 5).wire()
    gone = SimpleNamespace(group_code="orphan", certified_on=None, ends_on=None,
                           later_birth_on=None)
    m = events.membership_event(events.GroupMembershipRemoved, str(PID), gone, 4)
    assert m.wire() == {"person_id": str(PID), "group_code": "orphan", "certified_on": None,
                        "ends_on": None, "later_birth_on": None, "revision": 4}
    with pytest.raises(ValidationError):
        events.membership_event(events.GroupMembershipAdded, str(PID),
                                SimpleNamespace(**{**vars(gone), "group_code": "poor"}), 4)


def test_a_determination_travels_with_its_timestamp_offset_and_iso_dates() -> None:
    from services.eligibility.determinations.service import event_payload

    at = dt.datetime(2024, 10, 8, 10, 0, tzinfo=dt.UTC)
    result = {"enrolled": True, "region_code": "370481", "county_code": "370481",
              "township_code": "370481001000", "village_code": None,
              "policy_version": "ab" * 32, "insured_category": "adult", "standard_fen": 40000,
              "personal_fen": 20000, "surcharge_fen": 0,
              "subsidies": [{"rule_id": "age_60_69", "funding_source": "city_finance",
                             "amount_fen": 20000}],
              "coverage_start": dt.date(2025, 1, 1), "on_time_until": dt.date(2024, 12, 31),
              "payable_until": dt.date(2025, 9, 30),
              "late": {"personal_fen": 40000, "surcharge_fen": 0, "subsidies": [],
                       "insured_category": "adult"}}
    payload = event_payload(PID, 2025, 17, result, at)
    event = eligibility.AdjustmentDue(**payload, paid_fen=40000, refund_due_fen=20000)
    wire = event.wire()
    assert wire == {**payload, "paid_fen": 40000, "refund_due_fen": 20000}
    assert wire["determined_at"] == "2024-10-08T10:00:00+00:00"  # not ...Z: as before
    with pytest.raises(ValidationError):  # a refund of nothing is no adjustment
        eligibility.AdjustmentDue(**payload, paid_fen=0, refund_due_fen=0)


def test_the_webhook_work_item_holds_to_its_contract() -> None:
    from services.payments.channels import PaymentNotification
    from services.payments.webhooks.ingest import work_item

    n = PaymentNotification(channel="wechatpay", event_id="e1", kind="refund",
                            channel_txn_id="R1", order_no="CB2025X", amount_fen=100,
                            paid_at=dt.datetime(2024, 12, 1, 2, tzinfo=dt.UTC),
                            status="succeeded", raw={"resource": {"transaction_id": "T1"}},
                            refunds_txn_id="T1")  # the adapter names the refunded payment
    item = work_item(n, PID, "webhook")
    assert payments.NotificationReceived.model_validate(item).wire() == item
    assert item["refunds_txn_id"] == "T1"


def test_suspense_is_keyed_by_person_else_order() -> None:
    base = {"suspense_id": 1, "channel": "bank_ccb", "channel_txn_id": "T", "kind": "payment",
            "order_no": "CB1", "person_id": None, "plan_year": None, "amount_fen": 1,
            "reason": "unknown_order", "status": "open", "resolution": None,
            "opened_at": "2024-12-01T10:00:00+00:00", "resolved_at": None, "revision": 1}
    assert payments.SuspenseOpened.model_validate(base).key() == "CB1"
    assert payments.SuspenseOpened.model_validate({**base, "person_id": str(PID)}).key() == \
        str(PID)
    assert payments.SuspenseOpened.model_validate({**base, "order_no": None}).key() is None


async def test_the_router_hands_each_handler_its_model_and_refuses_a_bad_payload() -> None:
    router = EventRouter()
    got: list[object] = []

    @router.on(registration.TargetSet)
    async def on_target(session: object, data: registration.TargetSet,
                        event: CloudEvent) -> None:
        got.append(data)

    target = registration.TargetSet(plan_year=2025, township_code="370481001000",
                                    county_code="370481", target=100)
    await router(None, cloud_event(target))  # type: ignore[arg-type]
    assert got == [target] and router.topics == (target.TOPIC,)
    await router(None, cloud_event(registration.VillageAdded(  # type: ignore[arg-type]
        code="370481001001", township_code="370481001000", county_code="370481", name="村")))
    assert got == [target]  # a type nobody handles is skipped
    bad = CloudEvent(source="canbao/registration", type=target.TYPE,
                     data={**target.wire(), "target": "many"})
    with pytest.raises(ValidationError):
        await router(None, bad)  # type: ignore[arg-type]


def test_the_insert_select_form_names_the_models_topic_type_and_source() -> None:
    sql = Outbox("eligibility").insert_select(
        eligibility.DeterminationChanged, event_id="x.id", key="x.k", shard="x.s",
        data="x.d", source_rows="x")
    assert sql.startswith("INSERT INTO eligibility.outbox (event_id, topic, partition_key, "
                          "shard, event_type, source, subject, correlation_id, data)")
    assert ("SELECT x.id, 'eligibility.determination.v1', x.k, x.s, "
            "'eligibility.determination_changed.v1', 'canbao/eligibility', x.k, NULL, "
            "CAST(x.d AS jsonb)\nFROM x") in sql


def test_migrations_import_nothing_of_the_running_code() -> None:
    """Frozen migrations: each revision carries the DDL it ran; only alembic, sqlalchemy and
    the standard library are imported."""
    allowed = {"alembic", "sqlalchemy", "__future__", "datetime", "json", "textwrap"}
    files = sorted(ROOT.glob("services/*/migrations/versions/*.py"))
    assert len(files) >= 4
    for path in files:
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom):
                names = [node.module or ""]
            else:
                continue
            assert all(n.split(".")[0] in allowed for n in names), (path, names)


def test_each_consumer_subscribes_to_the_topics_of_the_contracts_it_handles() -> None:
    from kernels.policy import PolicyCatalog
    from services.eligibility.facts.handlers import TOPICS, build_router
    from services.eligibility.plans.registry import SEED_DIR, PlanRegistry
    from services.reporting.projections import handlers as reporting

    router = build_router(PlanRegistry(PolicyCatalog.load(SEED_DIR)), Outbox("eligibility"))
    assert set(router.topics) == set(TOPICS)
    assert set(reporting.TOPICS) == {m.TOPIC for m, _ in reporting.router.handlers.values()}
