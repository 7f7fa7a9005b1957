"""What payments, reporting and registration accept from `eligibility.plan.v1`: the payload of
contracts/plan.py whose content is a valid plan hashing to its version."""

from __future__ import annotations

import pytest

from devtools.testing.plans import plan_event, seed_catalog
from kernels.policy import parse_policy
from shared.plan_copies import InvalidPlanEvent, read_event


def test_a_seed_plan_travels_as_data_and_keeps_its_version() -> None:
    for policy in seed_catalog():
        payload, copy = read_event(plan_event(policy, 1).data, parse_policy)
        assert (copy.version, copy.region_code, copy.plan_year) == (
            policy.version, policy.region_code, policy.plan_year)
        assert copy.standards_fen == policy.standards_fen
        assert payload.key() == f"{policy.region_code}-{policy.plan_year}"


def test_content_that_does_not_hash_to_its_version_is_refused() -> None:
    policy = seed_catalog().get("370481", 2025)
    data = plan_event(policy, 1).data
    data["content"]["standards"][0]["yuan"] = "1"
    with pytest.raises(InvalidPlanEvent, match="version"):
        read_event(data, parse_policy)


def test_content_that_is_not_a_plan_is_refused() -> None:
    policy = seed_catalog().get("370481", 2025)
    data = plan_event(policy, 1).data
    data["content"]["bogus"] = 1
    with pytest.raises(InvalidPlanEvent):
        read_event(data, parse_policy)
