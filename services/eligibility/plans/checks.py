"""Checks an officer can read: every problem of a draft plan at once, each named by line and
field, in Chinese.

Errors refuse the draft (the schema, and what no determination could use); warnings are shown
with the draft and may be accepted by its approver. Schema errors come from the kernel's parser
(all of them at once); the checks below run on a plan that passed the schema.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import asdict, dataclass
from typing import Any

import yaml

from kernels.policy import Policy, PolicyFileError, parse_policy
from kernels.policy.rules import could_overlap, share_amounts
from kernels.policy.schema import SubsidyRule
from kernels.policy.yamlload import YamlProblem, format_loc, load_yaml
from shared.money import fen_to_yuan

LINE_NAMES = {
    "medical_assistance_fund": "医疗救助资金", "city_finance": "市财政",
    "county_finance": "县财政", "township_finance": "镇街财政",
    "rural_revitalization": "乡村振兴资金",
}
ERROR, WARNING = "error", "warning"
_SCHEMA_LINE = re.compile(r"^(?:第(\d+)行(?:第\d+列)?[，：])?(?:(\S+?)：)?(.*)$", re.S)


@dataclass(frozen=True)
class Problem:
    severity: str
    field: str
    message: str
    line: int | None = None

    def text(self) -> str:
        where = f"第{self.line}行，" if self.line else ""
        return f"{where}{self.field}：{self.message}"

    def to_dict(self) -> dict[str, Any]:
        return {**asdict(self), "text": self.text()}


def line_name(code: str) -> str:
    return LINE_NAMES.get(code, code)


def yuan(fen: int) -> str:
    return f"{fen_to_yuan(fen)}元"


class _Lines:
    """YAML line numbers of fields (none when the draft came as JSON)."""

    def __init__(self, content: str | dict[str, Any]) -> None:
        self.node: yaml.Node | None = None
        if isinstance(content, str):
            try:
                self.node = load_yaml(content)[1]
            except YamlProblem:
                self.node = None

    def of(self, loc: tuple[int | str, ...]) -> int | None:
        found = self.node
        for part in loc:
            if isinstance(found, yaml.MappingNode) and isinstance(part, str):
                found = next((v for k, v in found.value
                              if isinstance(k, yaml.ScalarNode) and k.value == part), None)
            elif isinstance(found, yaml.SequenceNode) and isinstance(part, int):
                found = found.value[part] if 0 <= part < len(found.value) else None
            else:
                found = None
            if found is None:
                return None
        return found.start_mark.line + 1 if found is not None else None


def _schema_problems(exc: PolicyFileError) -> list[Problem]:
    out = []
    for text in exc.problems:
        m = _SCHEMA_LINE.match(text)
        line = int(m.group(1)) if m and m.group(1) else None
        field = m.group(2) if m and m.group(2) else "(方案)"
        message = m.group(3) if m else text
        out.append(Problem(ERROR, field, message, line))
    return out


def check_plan(content: str | dict[str, Any], previous: Policy | None = None,
               ) -> tuple[Policy | None, list[Problem]]:
    """(the plan if it passed the schema, every problem found). `previous`: the region's plan
    of the year before, to find gaps and overlaps between the two coverage periods."""
    try:
        policy = parse_policy(content, "draft")
    except PolicyFileError as exc:
        return None, _schema_problems(exc)
    lines = _Lines(content)
    problems: list[Problem] = []

    def add(severity: str, loc: tuple[int | str, ...], message: str) -> None:
        problems.append(Problem(severity, format_loc(loc), message, lines.of(loc)))

    _figure_sources(policy, add)
    _rules(policy, add)
    _periods(policy, previous, add)
    return policy, problems


def _quotes(source: str, figure: str, unit: str) -> bool:
    """Whether the source quotes the figure with its unit ("50%", "400元")."""
    digits = re.escape(re.sub(r"\.0+$", "", str(figure)))
    units = r"\s*[%％]" if unit == "%" else r"(?:\.0+)?\s*(?:元|yuan)"
    return re.search(rf"(?<![\d.]){digits}{units}", source.replace(",", "")) is not None


def _figure_sources(policy: Policy, add: Any) -> None:
    """A figure whose source quotes no such figure (with its unit) and that rests on no declared
    assumption: the officer must quote the plan sentence, or declare why it is silent."""
    m = policy.model
    if not _quotes(m.fiscal_subsidy.source, str(m.fiscal_subsidy.yuan), "元") \
            and not m.fiscal_subsidy.assumptions:
        add(ERROR, ("fiscal_subsidy", "source"),
            f"财政补助标准 {m.fiscal_subsidy.yuan} 元的出处没有引用这个数字：请引用方案原文，"
            "方案没有写明时声明一项假设（assumptions）")
    for i, standard in enumerate(m.standards):
        if not _quotes(standard.source, str(standard.yuan), "元"):
            add(ERROR, ("standards", i, "source"),
                f"个人缴费标准 {standard.yuan} 元的出处没有引用这个数字，请引用方案原文")
    for r, rule in enumerate(m.subsidy_rules):
        for s, share in enumerate(rule.shares):
            figure = share.percent if share.kind == "percent" else (
                share.yuan if share.kind == "fixed" else None)
            unit = "%" if share.kind == "percent" else "元"
            if figure is not None and not _quotes(share.source, str(figure), unit) \
                    and not share.assumptions:
                add(ERROR, ("subsidy_rules", r, "shares", s, "source"),
                    f"规则 {rule.id} 的{line_name(share.funding_source)}份额 {figure}{unit} "
                    "的出处没有引用这个数字：请引用方案原文，方案没有写明时声明一项假设")


def _implies(b: SubsidyRule, a: SubsidyRule) -> bool:
    """Whoever matches b also matches a (a asks for nothing b does not)."""
    wa, wb = a.when, b.when
    if wa.exclude_groups or wa.group_dates or wa.paid_within_collection_period \
            or wa.also_qualifies_for:
        return False
    if wa.groups_any and not (wb.groups_any and set(wb.groups_any) <= set(wa.groups_any)):
        return False
    if wa.age is not None:
        if wb.age is None:
            return False
        if wa.age.min is not None and (wb.age.min is None or wb.age.min < wa.age.min):
            return False
        if wa.age.max is not None and (wb.age.max is None or wb.age.max > wa.age.max):
            return False
    return True


def _rules(policy: Policy, add: Any) -> None:
    rules = list(policy.model.subsidy_rules)
    standards = sorted(set(policy.standards_fen.values()))
    index = {r.id: i for i, r in enumerate(rules)}
    for rule in rules:
        i = index[rule.id]
        # a budget line nobody pays: a share that is zero for every standard
        for s, share in enumerate(rule.shares):
            if all(share_amounts(rule, fen)[s][1] == 0 for fen in standards):
                add(ERROR, ("subsidy_rules", i, "shares", s),
                    f"规则 {rule.id} 中{line_name(share.funding_source)}的份额对任何人都是 0 元"
                    "（前面的份额已付清全部个人缴费，或比例、金额为 0）：这条预算科目没有人支付")
        # a rule that can never apply: a rule that matches everyone it matches always pays more
        if rule.fallback_only or rule.when.also_qualifies_for:
            continue
        for other in rules:
            if other is rule or other.fallback_only or other.when.also_qualifies_for:
                continue
            if not _implies(rule, other):
                continue
            beats = all(
                (sum(x for _, x in share_amounts(other, fen)), -other.priority)
                > (sum(x for _, x in share_amounts(rule, fen)), -rule.priority)
                for fen in standards)
            if beats:
                add(ERROR, ("subsidy_rules", i, "when"),
                    f"规则 {rule.id} 永远不会适用：符合它的人也都符合规则 {other.id}，"
                    f"而规则 {other.id} 资助更多（或金额相同且优先）")
                break
        # a tie order nobody reaches: tie_break on a rule that never ties
        if rule.tie_break is not None:
            ties = any(
                could_overlap(rule, other) and any(
                    sum(x for _, x in share_amounts(rule, fen))
                    == sum(x for _, x in share_amounts(other, fen)) for fen in standards)
                for other in rules if other is not rule and not other.fallback_only)
            if not ties:
                add(WARNING, ("subsidy_rules", i, "tie_break"),
                    f"规则 {rule.id} 写了同额时的先后（tie_break），但没有任何规则会与它同额："
                    "这个先后永远用不到")


def _periods(policy: Policy, previous: Policy | None, add: Any) -> None:
    p = policy.model.periods
    if p.collection.start > p.collection.end:
        add(ERROR, ("periods", "collection"),
            f"集中缴费期开始 {p.collection.start} 晚于结束 {p.collection.end}")
    if p.coverage.start > p.coverage.end:
        add(ERROR, ("periods", "coverage"),
            f"待遇期开始 {p.coverage.start} 晚于结束 {p.coverage.end}")
    if p.collection.end > p.coverage.end:
        add(ERROR, ("periods", "collection", "end"),
            f"集中缴费期结束 {p.collection.end} 晚于待遇期结束 {p.coverage.end}")
    year = policy.plan_year
    if p.coverage.start != dt.date(year, 1, 1) or p.coverage.end != dt.date(year, 12, 31):
        add(WARNING, ("periods", "coverage"),
            f"待遇期 {p.coverage.start}—{p.coverage.end} 不是 {year} 年全年：其余日子没有待遇期")
    if p.payable_until is not None and p.payable_until.date < p.collection.end:
        add(ERROR, ("periods", "payable_until", "date"),
            f"缴费截止 {p.payable_until.date} 早于集中缴费期结束 {p.collection.end}")
    ext = p.subsidized_extension_until
    if ext is not None and ext.date < p.collection.end:
        add(ERROR, ("periods", "subsidized_extension_until", "date"),
            f"资助人员延期 {ext.date} 早于集中缴费期结束 {p.collection.end}")
    pub = p.publicity
    if pub is not None and pub.starts_on and pub.ends_on and pub.starts_on > pub.ends_on:
        add(ERROR, ("periods", "publicity"), f"公示开始 {pub.starts_on} 晚于结束 {pub.ends_on}")
    if previous is not None and previous.plan_year == year - 1:
        before = previous.plan_end
        if p.coverage.start > before + dt.timedelta(days=1):
            add(ERROR, ("periods", "coverage", "start"),
                f"与{previous.plan_year}年度方案之间有空档：上一年待遇期到 {before} 结束，"
                f"本年度从 {p.coverage.start} 才开始")
        elif p.coverage.start <= before:
            add(ERROR, ("periods", "coverage", "start"),
                f"与{previous.plan_year}年度方案重叠：上一年待遇期到 {before} 才结束，"
                f"本年度从 {p.coverage.start} 已开始")
        if p.collection.start <= previous.collection_end:
            add(ERROR, ("periods", "collection", "start"),
                f"与{previous.plan_year}年度的集中缴费期重叠（上一年到 "
                f"{previous.collection_end} 结束）")
