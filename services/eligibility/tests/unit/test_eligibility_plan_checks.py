"""Declared categories checked against each plan's own definition, the assumptions each plan
declares where its text is silent (and the answers that list them), the plan's 参保范围, and
malformed plan YAML: each test quotes the plan sentence it is written from."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pytest
import yaml
from eligibility_testdata import lines, person, reason

from kernels.policy import (
    GroupMembership,
    PolicyFileError,
    determine,
    determine_batch,
    parse_policy,
)
from kernels.policy.batch import BatchColumns, day_number
from kernels.policy.errors import ImpossibleCategory, UnknownInsuredCategory
from kernels.policy.rules import category_codes
from kernels.policy.scope import ScopeBasis, scope_warning
from services.eligibility.determinations.preview import preview
from services.eligibility.determinations.schemas import PreviewRequest
from services.eligibility.plans.registry import SEED_DIR
from shared.errors import Invalid
from shared.idnumber import check_character

D = dt.date


def texts(policy, *ids: str) -> set[str]:
    return {policy.describe_assumption(i) for i in ids}


def new_id_number(first17: str) -> str:
    return first17 + check_character(first17)


# --- 1. declared categories -------------------------------------------------------------


def test_a_ten_year_old_cannot_be_a_pingyin_university_student(pingyin_2025):
    """三(三) "驻济高校大学生个人缴费标准不变，仍为240元": a 10-year-old declared `student` is no
    university student; the declaration is refused (it used to pay 240 instead of 390)."""
    with pytest.raises(ImpossibleCategory) as err:
        determine(pingyin_2025, person("2015-03-01", category="student"))
    assert isinstance(err.value, Invalid) and err.value.details == {"field": "insured_category"}
    assert err.value.code == "impossible_insured_category"
    assert "学生" in err.value.message and "驻济高校大学生" in err.value.message
    # a real university student still pays the 240 of 三(三)
    d = determine(pingyin_2025, person("2005-09-01", category="student"))
    assert (d.insured_category, d.personal_fen) == ("student", 24000)


def test_a_forty_year_old_cannot_be_a_pingyin_minor(pingyin_2025):
    """二 "少年儿童（含中小学生）（1-19岁）"; 三(一) "年满18周岁…的居民" pay 440: a 40-year-old
    declared `minor` is refused (it used to pay 390 instead of 440); a 19-year-old pupil may
    be declared one."""
    with pytest.raises(ImpossibleCategory) as err:
        determine(pingyin_2025, person("1985-03-01", category="minor"))
    assert "少年儿童" in err.value.message and "1-19岁" in err.value.message
    pupil = determine(pingyin_2025, person("2006-03-01", category="minor"))
    assert (pupil.insured_category, pupil.personal_fen) == ("minor", 39000)
    assert determine(pingyin_2025, person("1985-03-01")).personal_fen == 44000


def test_declared_adult_for_a_child_is_refused_everywhere(catalog):
    """Every plan's minors are under 18 (Pingyin 三(一) "18周岁以下"): a 9-year-old declared
    `adult` cannot be true under any plan."""
    for policy in catalog:
        with pytest.raises(ImpossibleCategory):
            determine(policy, person(f"{policy.plan_year - 9}-05-01", category="adult"))


def test_unknown_category_is_refused_by_both_paths(tengzhou_2025):
    """A category that is none of adult, minor, student is refused, per person and in bulk
    (the bulk path used to treat it as undeclared)."""
    with pytest.raises(UnknownInsuredCategory) as err:
        determine(tengzhou_2025, person("1980-01-01", category="pupil"))
    assert err.value.details == {"field": "insured_category"}
    codes = category_codes(["pupil", None, "adult"])
    cols = BatchColumns(birth_date=np.array([day_number(D(1980, 1, 1))] * 3, np.int64),
                        insured_category=codes)
    assert determine_batch(tengzhou_2025, cols).refused.tolist() == [True, False, False]


def test_bulk_path_refuses_the_same_declarations(pingyin_2025):
    """The bulk path takes its categories from the same definition: the 10-year-old
    `student` and the 40-year-old `minor` are refused there too, the others priced as per
    person (240 student, 390 pupil declared minor, 440 adult)."""
    births = ["2015-03-01", "1985-03-01", "2005-09-01", "2006-03-01", "1985-03-01"]
    declared = ["student", "minor", "student", "minor", None]
    cols = BatchColumns(
        birth_date=np.array([day_number(D.fromisoformat(b)) for b in births], np.int64),
        insured_category=category_codes(declared))
    result = determine_batch(pingyin_2025, cols)
    assert result.refused.tolist() == [True, True, False, False, False]
    assert result.personal_fen[2:].tolist() == [24000, 39000, 44000]


def test_preview_names_the_field(pingyin_2025, catalog):
    """The preview answers 422 naming person.insured_category."""
    body = PreviewRequest(region_code="370124", plan_year=2025,
                          person={"birth_date": "2015-03-01", "insured_category": "student"})
    with pytest.raises(Invalid) as err:
        preview(catalog, body)
    assert err.value.status_code == 422
    assert err.value.details == {"field": "person.insured_category"}
    assert err.value.message.startswith("person.insured_category：")


# --- 2. assumptions, each listed by the answers it decides ------------------------------


def test_tengzhou_family_planning_is_for_households_before_the_two_child_policy(tengzhou_2025):
    """二(三)2 "全面两孩政策实施前的农村自愿放弃二孩生育计划终身只要一个女孩家庭…个人缴费部分由市、
    镇街财政各承担50%": certified before 2016-01-01 counts, certified after does not, and both
    answers list the date assumption."""
    before = GroupMembership("family_planning_household", certified_on=D(2015, 12, 31))
    after = GroupMembership("family_planning_household", certified_on=D(2016, 3, 1))
    yes = determine(tengzhou_2025, person("1985-06-01", before))
    no = determine(tengzhou_2025, person("1985-06-01", after))
    assert lines(yes) == {"city_finance": 200, "township_finance": 200}
    assert (lines(no), no.personal_fen) == ({}, 40000)
    assert "not before 2016-01-01" in reason(no, "family_planning")
    for d in (yes, no):
        assert texts(tengzhou_2025, "two_child_policy_date") <= set(d.assumptions)


def test_yutai_family_planning_reads_the_list_as_parents(yutai_2024):
    """六2 "2016年1月22日前确定的农村独女及双女户父母个人缴费部分继续享受政府补助": the group code
    cannot tell a parent from a child, so the answer lists the reading that it holds parents."""
    fp = GroupMembership("family_planning_household", certified_on=D(2010, 5, 1))
    d = determine(yutai_2024, person("1970-06-01", fp))
    assert d.personal_fen == 0 and lines(d) == {"county_finance": 380}
    assert texts(yutai_2024, "family_planning_parents") <= set(d.assumptions)


def test_shuozhou_280_lists_the_poverty_monitoring_reading(shuozhou_2025):
    """二(二) "易返贫致贫人口（包括脱贫不稳定人口和边缘易致贫人口…）按每人每年280元的标准定额资助":
    poverty_monitoring also holds 突发严重困难户; the 280 answer lists that reading."""
    d = determine(shuozhou_2025, person("1985-06-01", "poverty_monitoring"))
    assert lines(d) == {"medical_assistance_fund": 280}
    assert texts(shuozhou_2025, "poverty_monitoring_is_at_risk") <= set(d.assumptions)


def test_pingyin_final_list_is_no_cut_off(pingyin_2025):
    """四(六) "县医保局将以此最终名单核对政府资助人员参保情况，防止政府资助人员漏缴": the 12-20 list
    finds missed payments; someone certified after it is still subsidized."""
    late = GroupMembership("orphan", certified_on=D(2024, 12, 28))
    assert determine(pingyin_2025, person("2012-06-01", late)).personal_fen == 0


def test_a_tie_that_decides_the_budget_line_is_listed(tengzhou_2025, pingyin_2025):
    """Tengzhou 二(三) "符合多个代缴政策的，按最高代缴标准认定，不得重复享受" settles the amount,
    not who pays: a 低保 person of 72 has the whole 400 from the medical assistance fund (二(二))
    rather than city finance (二(三)1), and the answer lists the tie assumption; 70+ with
    重度残疾 (both city finance) is no such tie."""
    d = determine(tengzhou_2025, person("1953-06-01", "minimum_living_allowance"))
    assert lines(d) == {"medical_assistance_fund": 400}
    assert texts(tengzhou_2025, "tie_budget_line") <= set(d.assumptions)
    same = determine(tengzhou_2025, person("1953-06-01", "severe_disability"))
    assert lines(same) == {"city_finance": 400}
    assert not texts(tengzhou_2025, "tie_budget_line") & set(same.assumptions)
    # Pingyin 三(三) "上述政府资助人员个人不缴费，由政府给予全额补助" for both groups
    both = determine(pingyin_2025, person("1980-06-01", "minimum_living_allowance",
                                          "severe_disability"))
    assert lines(both) == {"medical_assistance_fund": 440}
    assert texts(pingyin_2025, "tie_budget_line") <= set(both.assumptions)


def test_a_plan_must_say_why_a_rule_wins_a_tie_between_budget_lines():
    """A plan in which two rules of equal value paid by different lines can both match and
    the winner gives no tie_break is refused when loaded."""
    raw = yaml.safe_load((SEED_DIR / "370481-2025.yaml").read_text(encoding="utf-8"))
    del raw["subsidy_rules"][0]["tie_break"]
    with pytest.raises(PolicyFileError) as err:
        parse_policy(raw)
    assert "tie_break" in str(err.value) and "hardship_full" in str(err.value)


def test_membership_starting_during_the_year_is_listed(tengzhou_2025, catalog):
    """Every plan declares what a membership starting or ending in the year counts for
    (the plans are silent); an answer resting on it lists it, one that does not, does not."""
    for policy in catalog:
        assert policy.model.membership_in_year.assumptions
    mid = GroupMembership("minimum_living_allowance", certified_on=D(2025, 6, 1))
    d = determine(tengzhou_2025, person("1980-06-01", mid))
    assert d.personal_fen == 0
    assert texts(tengzhou_2025, "membership_during_year") <= set(d.assumptions)
    ends = GroupMembership("minimum_living_allowance", certified_on=D(2024, 6, 1),
                           ends_on=D(2025, 3, 31))
    assert texts(tengzhou_2025, "membership_during_year") <= set(
        determine(tengzhou_2025, person("1980-06-01", ends)).assumptions)
    whole = GroupMembership("minimum_living_allowance", certified_on=D(2024, 6, 1))
    assert not texts(tengzhou_2025, "membership_during_year") & set(
        determine(tengzhou_2025, person("1980-06-01", whole)).assumptions)


# --- 3. who may enroll under the plan ---------------------------------------------------


def test_a_beijing_id_under_tengzhou_is_warned(tengzhou_2025, catalog):
    """二(五) "征缴范围：具有枣庄市户籍…、…非枣庄市户籍学生、在枣庄市行政区域内长期居住且取得
    居住证的非枣庄市户籍人员及其随迁子女": a Beijing ID without a permit or a local school gets a
    warning quoting that sentence; with a permit, or a Zaozhuang (3704..) ID, none."""
    beijing = ScopeBasis(hukou_region="110101")
    warning = scope_warning(tengzhou_2025, beijing)
    assert warning is not None and "110101" in warning and "具有枣庄市户籍" in warning
    assert scope_warning(tengzhou_2025, ScopeBasis("110101", residence_permit=True)) is None
    assert scope_warning(tengzhou_2025, ScopeBasis("110101", local_student=True)) is None
    assert scope_warning(tengzhou_2025, ScopeBasis("370402")) is None  # 枣庄市市中区
    # Tengzhou 2021 二(四) "具有我市户籍": another Zaozhuang district is outside it
    assert scope_warning(catalog.get("370481", 2021), ScopeBasis("370402")) is not None
    answer = preview(catalog, PreviewRequest(
        region_code="370481", plan_year=2025,
        person={"id_number": new_id_number("11010119850301123")}))
    assert answer["personal_fen"] == 40000 and len(answer["warnings"]) == 1
    assert "参保范围" in answer["warnings"][0]
    local = preview(catalog, PreviewRequest(
        region_code="370481", plan_year=2025,
        person={"id_number": new_id_number("37048119850301123")}))
    assert local["warnings"] == []


# --- 5. malformed plan YAML -------------------------------------------------------------


@pytest.mark.parametrize(
    "text,expect",
    [
        ("region_code: '370481'\n? [a, b]\n: c\n", "第2行"),
        ("? {a: 1}\n: c\n", "复杂键"),
        ("a: !!binary aGVsbG8=\n", "二进制"),
        ("a: 2024-13-45\n", "日期"),
        ("a: &x [*x]\n", "自身"),
        ("a: 1\na: 2\n", "写了两次"),
        ("a: b: c\n", "第1行"),
        ("1: 2\n", "必须是文字"),
        ("- just\n- a list\n", "最外层"),
    ],
)
def test_malformed_yaml_is_a_problem_list_in_chinese(text, expect):
    """Complex keys and other malformed YAML are refused as PolicyFileError (the API's 422),
    naming the line where there is one, never another exception."""
    with pytest.raises(PolicyFileError) as err:
        parse_policy(text)
    assert any(expect in p for p in err.value.problems), err.value.problems


def test_schema_errors_name_the_yaml_line():
    """A misspelt field in a plan names its YAML line and the field, in Chinese."""
    text = (SEED_DIR / "370481-2025.yaml").read_text(encoding="utf-8")
    bad = text.replace("region_name: 滕州市", "region_nam: 滕州市")
    line = next(i for i, t in enumerate(bad.splitlines(), 1) if t.startswith("region_nam:"))
    with pytest.raises(PolicyFileError) as err:
        parse_policy(bad)
    assert f"第{line}行，region_nam：不认识的字段（拼写错误？）" in err.value.problems[-1]


def test_an_accepted_declaration_lists_the_limit_it_rests_on(pingyin_2025):
    """Pingyin 二 "少年儿童（含中小学生）（1-19岁）": a 19-year-old pupil declared `minor` pays the
    390 of 三(三) because of the declared_minor_age reading, which the answer lists; an
    undeclared adult's answer does not."""
    pupil = determine(pingyin_2025, person("2006-03-01", category="minor"))
    assert texts(pingyin_2025, "declared_minor_age") <= set(pupil.assumptions)
    adult = determine(pingyin_2025, person("1985-03-01"))
    assert not texts(pingyin_2025, "declared_minor_age") & set(adult.assumptions)
