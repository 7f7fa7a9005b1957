"""A readable diff of a plan against the version in force: what each change means in money.

    60-69 周岁（elderly_60_69）：市财政由 50% 改为 60%（每人 200元 改为 240元）
"""

from __future__ import annotations

from typing import Any

from kernels.policy import Policy
from kernels.policy.rules import share_amounts
from kernels.policy.schema import Share, SubsidyRule
from services.eligibility.plans.checks import line_name, yuan

CATEGORY_ZH = {"adult": "成年人", "minor": "未成年人", "student": "学生"}


def who(rule: SubsidyRule) -> str:
    """The people a rule is for, in a few words."""
    parts = []
    age = rule.when.age
    if age is not None:
        if age.min is not None and age.max is not None:
            parts.append(f"{age.min}-{age.max} 周岁")
        elif age.min is not None:
            parts.append(f"{age.min} 周岁以上")
        else:
            parts.append(f"{age.max} 周岁以下")
    if rule.when.groups_any:
        parts.append("、".join(rule.when.groups_any))
    return f"{'，'.join(parts) or rule.label}（{rule.id}）"


def _share_text(share: Share | None) -> str:
    if share is None:
        return "不承担"
    if share.kind == "full":
        return "全额"
    if share.kind == "percent":
        return f"{share.percent}%"
    if share.kind == "fixed":
        return f"{share.yuan}元"
    return "余额"


def _by_line(rule: SubsidyRule, fen: int) -> dict[str, tuple[Share, int]]:
    out: dict[str, tuple[Share, int]] = {}
    for share, (line, amount) in zip(rule.shares, share_amounts(rule, fen), strict=True):
        prior = out.get(line)
        out[line] = (share, amount + (prior[1] if prior else 0))
    return out


def plan_diff(new: Policy, old: Policy | None) -> list[dict[str, Any]]:
    """One entry per change: the field and a sentence in money terms."""
    if old is None:
        return [{"field": "(方案)", "text": f"{new.region_name}{new.plan_year}年度尚无在用方案："
                 "这是第一版"}]
    out: list[dict[str, Any]] = []

    def add(field: str, text: str) -> None:
        out.append({"field": field, "text": text})

    for cat in ("adult", "minor", "student"):
        a, b = old.standards_fen.get(cat), new.standards_fen.get(cat)
        if a != b and a is not None and b is not None:
            add("standards", f"{CATEGORY_ZH[cat]}个人缴费标准由 {yuan(a)} 改为 {yuan(b)}"
                f"（每人{'多' if b > a else '少'}缴 {yuan(abs(b - a))}）")
    if old.fiscal_subsidy_fen != new.fiscal_subsidy_fen:
        add("fiscal_subsidy", f"财政补助标准由 {yuan(old.fiscal_subsidy_fen)} 改为 "
            f"{yuan(new.fiscal_subsidy_fen)}")
    standard = new.standards_fen.get("adult", 0)
    old_standard = old.standards_fen.get("adult", 0)
    before = {r.id: r for r in old.rules}
    after = {r.id: r for r in new.rules}
    for i, rule in enumerate(new.rules):
        field = f"subsidy_rules[{i}]"
        prior = before.get(rule.id)
        if prior is None:
            lines = "，".join(f"{line_name(line)} {_share_text(s)}（每人 {yuan(x)}）"
                             for line, (s, x) in _by_line(rule, standard).items())
            add(field, f"新增 {who(rule)}：{lines}")
            continue
        if prior.when != rule.when:
            add(f"{field}.when", f"{who(prior)} 的适用条件改为 {who(rule)}")
        was, now = _by_line(prior, old_standard), _by_line(rule, standard)
        for line in sorted(set(was) | set(now)):
            s0, x0 = was.get(line, (None, 0))
            s1, x1 = now.get(line, (None, 0))
            if _share_text(s0) == _share_text(s1) and x0 == x1:
                continue
            add(f"{field}.shares", f"{who(rule)}：{line_name(line)}由 {_share_text(s0)} 改为 "
                f"{_share_text(s1)}（每人 {yuan(x0)} 改为 {yuan(x1)}）")
    for rid, rule in before.items():
        if rid not in after:
            add("subsidy_rules", f"删除 {who(rule)}：原由"
                + "，".join(f"{line_name(line)}每人 {yuan(x)}"
                           for line, (_, x) in _by_line(rule, old_standard).items()) + " 资助")
    po, pn = old.periods, new.periods
    if (po.collection.start, po.collection.end) != (pn.collection.start, pn.collection.end):
        add("periods.collection", f"集中缴费期由 {po.collection.start}—{po.collection.end} 改为 "
            f"{pn.collection.start}—{pn.collection.end}")
    if (po.coverage.start, po.coverage.end) != (pn.coverage.start, pn.coverage.end):
        add("periods.coverage", f"待遇期由 {po.coverage.start}—{po.coverage.end} 改为 "
            f"{pn.coverage.start}—{pn.coverage.end}")
    if old.late_payment != new.late_payment:
        add("late_payment", "逾期缴费的规定有改动（加收、资助是否取消或等待期）")
    if not out:
        add("(方案)", "与在用方案相比，金额与期间没有改动")
    return out
