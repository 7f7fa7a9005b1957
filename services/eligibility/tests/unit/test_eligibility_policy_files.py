"""Policy files: loading, versions, clear errors for bad files, no fallback between years."""

from __future__ import annotations

import datetime as dt
import hashlib
import re
import shutil
from pathlib import Path

import pytest
import yaml
from eligibility_testdata import person

from kernels.policy import (
    BUDGET_LINES,
    GROUP_CODES,
    INSURED_CATEGORIES,
    PlanNotFound,
    PolicyCatalog,
    PolicyFileError,
    UnknownGroupCode,
    determine,
)
from kernels.policy.policy import canonical_json
from services.eligibility.plans.registry import SEED_DIR

TENGZHOU = SEED_DIR / "370481-2025.yaml"


def test_all_five_plans_load(catalog):
    assert [(p.region_code, p.plan_year) for p in catalog.plans()] == [
        ("140600", 2025),
        ("370124", 2025),
        ("370481", 2021),
        ("370481", 2025),
        ("370827", 2024),
    ]


def test_codes_exported():
    assert len(GROUP_CODES) == 12 and "family_planning_household" in GROUP_CODES
    assert BUDGET_LINES == (
        "medical_assistance_fund",
        "city_finance",
        "county_finance",
        "township_finance",
        "rural_revitalization",
    )
    assert INSURED_CATEGORIES == ("adult", "minor", "student")


def test_missing_year_is_plan_not_found(catalog):
    with pytest.raises(PlanNotFound) as err:
        catalog.get("370481", 2024)  # 2021 and 2025 exist; never fall back to either
    assert (err.value.region_code, err.value.plan_year) == ("370481", 2024)
    with pytest.raises(PlanNotFound):
        catalog.get("999999", 2025)


def test_version_is_sha256_of_canonical_content(tengzhou_2025):
    raw = yaml.safe_load(TENGZHOU.read_text(encoding="utf-8"))
    assert tengzhou_2025.version == hashlib.sha256(canonical_json(raw).encode()).hexdigest()
    assert re.fullmatch(r"[0-9a-f]{64}", tengzhou_2025.version)
    assert tengzhou_2025.short_version == tengzhou_2025.version[:16]


def test_version_ignores_comments_but_not_content(tmp_path: Path, tengzhou_2025):
    text = TENGZHOU.read_text(encoding="utf-8")
    (tmp_path / TENGZHOU.name).write_text("# a comment\n" + text, encoding="utf-8")
    assert PolicyCatalog.load(tmp_path).get("370481", 2025).version == tengzhou_2025.version
    (tmp_path / TENGZHOU.name).write_text(
        text.replace('yuan: "670"', 'yuan: "671"'), encoding="utf-8"
    )
    assert PolicyCatalog.load(tmp_path).get("370481", 2025).version != tengzhou_2025.version


def test_every_rule_and_share_has_a_source(catalog):
    for policy in catalog:
        assert policy.model.age_basis_source
        for rule in policy.rules:
            assert rule.source
            assert all(share.source for share in rule.shares)


def test_unknown_group_code_raises(tengzhou_2025):
    with pytest.raises(UnknownGroupCode) as err:
        determine(tengzhou_2025, person("1980-01-01", "dibao"))
    assert err.value.code == "dibao"


def _write_bad(tmp_path: Path, edit) -> Path:  # type: ignore[no-untyped-def]
    data = yaml.safe_load(TENGZHOU.read_text(encoding="utf-8"))
    edit(data)
    path = tmp_path / "370481-2025.yaml"
    path.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
    return path


def _error(tmp_path: Path) -> str:
    with pytest.raises(PolicyFileError) as err:
        PolicyCatalog.load(tmp_path)
    message = str(err.value)
    assert "370481-2025.yaml" in message
    return message


def test_missing_age_basis_is_refused(tmp_path):
    _write_bad(tmp_path, lambda d: d.pop("age_basis"))
    assert "age_basis" in _error(tmp_path)


def test_unknown_field_is_refused(tmp_path):
    _write_bad(tmp_path, lambda d: d["subsidy_rules"][0].update(pirority=3))
    msg = _error(tmp_path)
    assert "subsidy_rules[0].pirority" in msg and "Extra inputs are not permitted" in msg


def test_float_amount_is_refused(tmp_path):
    _write_bad(tmp_path, lambda d: d["standards"][0].update(yuan=400.5))
    msg = _error(tmp_path)
    assert "standards[0].yuan" in msg and "float" in msg


def test_unknown_group_and_budget_line_are_refused(tmp_path):
    def edit(d):  # type: ignore[no-untyped-def]
        d["subsidy_rules"][0]["when"]["groups_any"].append("dibao")
        d["subsidy_rules"][0]["shares"][0]["funding_source"] = "province_finance"

    _write_bad(tmp_path, edit)
    msg = _error(tmp_path)
    assert "subsidy_rules[0].when.groups_any[8]" in msg
    assert "subsidy_rules[0].shares[0].funding_source" in msg


def test_duplicate_priorities_are_refused(tmp_path):
    _write_bad(
        tmp_path, lambda d: d["subsidy_rules"][1].update(priority=d["subsidy_rules"][0]["priority"])
    )
    assert "priorities must be distinct" in _error(tmp_path)


def test_undeclared_assumption_is_refused(tmp_path):
    _write_bad(tmp_path, lambda d: d["subsidy_rules"][0].update(assumptions=["made_up"]))
    assert "made_up" in _error(tmp_path)


def test_percent_share_without_percent(tmp_path):
    _write_bad(tmp_path, lambda d: d["subsidy_rules"][2]["shares"][0].pop("percent"))
    assert "subsidy_rules[2].shares[0]" in _error(tmp_path)


def test_file_name_must_match_content(tmp_path):
    shutil.copy(TENGZHOU, tmp_path / "370481-2026.yaml")
    with pytest.raises(PolicyFileError) as err:
        PolicyCatalog.load(tmp_path)
    assert "370481-2026.yaml" in str(err.value) and "370481-2025.yaml" in str(err.value)


def test_duplicate_yaml_key_is_refused(tmp_path):
    text = TENGZHOU.read_text(encoding="utf-8")
    (tmp_path / TENGZHOU.name).write_text(text + "\nplan_year: 2026\n", encoding="utf-8")
    assert "键 'plan_year' 写了两次" in _error(tmp_path)


def test_broken_yaml_is_refused(tmp_path):
    (tmp_path / TENGZHOU.name).write_text("region_code: [unclosed\n", encoding="utf-8")
    assert "第2行" in _error(tmp_path) and "YAML 格式错误" in _error(tmp_path)


def test_wrong_type_date(tmp_path):
    _write_bad(tmp_path, lambda d: d["periods"]["collection"].update(start="first of October"))
    assert "periods.collection.start" in _error(tmp_path)


def test_period_order_checked(tmp_path):
    _write_bad(tmp_path, lambda d: d["periods"]["collection"].update(start=dt.date(2025, 1, 5)))
    assert "periods.collection" in _error(tmp_path)


def test_every_seed_assumption_reads_in_chinese() -> None:
    """#14: determinations list assumptions in Chinese; each seed file's assumptions carry a
    Chinese statement, and describe_assumption gives it by default, the English on request."""
    import re
    from pathlib import Path

    from kernels.policy import load_policy_file

    folder = Path(__file__).resolve().parents[2] / "policies"
    files = sorted(folder.glob("*.yaml"))
    assert files
    for path in files:
        policy = load_policy_file(path)
        for aid, assumption in policy.assumptions.items():
            assert assumption.statement_zh and re.search(r"[\u4e00-\u9fff]{4}",
                                                         assumption.statement_zh), (path, aid)
            assert policy.describe_assumption(aid) == f"{aid}: {assumption.statement_zh}"
            assert policy.describe_assumption(aid, "en") == f"{aid}: {assumption.statement}"
            stored = [policy.describe_assumption(aid)]
            assert policy.assumptions_in(stored, "en") == [policy.describe_assumption(aid, "en")]
