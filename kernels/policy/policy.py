"""A loaded, validated plan: the policy file plus derived integer-fen figures and its version."""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Any

from .schema import (
    Assumption,
    CategoryRule,
    LatePayment,
    Newborn,
    Periods,
    PolicyFile,
    SourceDocument,
    SubsidyRule,
)


def canonical_json(data: Any) -> str:
    """Key-sorted, compact JSON of the parsed YAML; dates become ISO strings."""

    def _default(value: object) -> str:
        if isinstance(value, (dt.date, dt.datetime)):
            return value.isoformat()
        raise TypeError(f"cannot serialise {type(value).__name__}")

    return json.dumps(
        data, sort_keys=True, ensure_ascii=False, separators=(",", ":"), default=_default
    )


def content_version(data: Any) -> str:
    return hashlib.sha256(canonical_json(data).encode("utf-8")).hexdigest()


@dataclass(frozen=True)
class Policy:
    model: PolicyFile
    version: str
    path: Path | None = None
    standards_fen: dict[str, int] = field(default_factory=dict)
    # the parsed file content the version is the hash of (what is stored with the plan)
    raw: Any = field(default=None, compare=False, repr=False)

    # --- identity -------------------------------------------------------------
    @property
    def region_code(self) -> str:
        return self.model.region_code

    @property
    def region_name(self) -> str:
        return self.model.region_name

    @property
    def plan_year(self) -> int:
        return self.model.plan_year

    @property
    def source(self) -> SourceDocument:
        return self.model.source

    @property
    def short_version(self) -> str:
        return self.version[:16]

    # --- money ----------------------------------------------------------------
    @property
    def fiscal_subsidy_fen(self) -> int:
        return self.model.fiscal_subsidy.fen

    def standard_fen(self, category: str) -> int:
        return self.standards_fen[category]

    # --- rules and periods ----------------------------------------------------
    @property
    def age_basis(self) -> str:
        return self.model.age_basis

    @property
    def category_rule(self) -> CategoryRule:
        return self.model.category_rule

    @cached_property
    def memo(self) -> dict[Any, Any]:
        """Derived answers that depend on this plan version alone (for example the last
        payable day of each on-time deadline), computed once per plan, not per person."""
        return {}

    @cached_property
    def rules(self) -> tuple[SubsidyRule, ...]:
        return tuple(self.model.subsidy_rules)

    @cached_property
    def rule_ids(self) -> tuple[str, ...]:
        return tuple(r.id for r in self.model.subsidy_rules)

    @cached_property
    def rule_groups(
        self,
    ) -> tuple[tuple[SubsidyRule, ...], tuple[SubsidyRule, ...], tuple[SubsidyRule, ...]]:
        """(primary, combination, fallback-only) rules, each in file order."""
        rules = self.rules
        return (
            tuple(r for r in rules if not r.fallback_only and not r.when.also_qualifies_for),
            tuple(r for r in rules if r.when.also_qualifies_for),
            tuple(r for r in rules if r.fallback_only),
        )

    @property
    def periods(self) -> Periods:
        return self.model.periods

    @property
    def collection_start(self) -> dt.date:
        return self.model.periods.collection.start

    @property
    def collection_end(self) -> dt.date:
        return self.model.periods.collection.end

    @property
    def in_period_until(self) -> dt.date:
        """Last payment date still counted as in the collection period (incl. publicity week)."""
        grace = self.model.periods.payable_until
        end = self.collection_end
        return max(end, grace.date) if grace is not None else end

    @property
    def subsidized_until(self) -> dt.date | None:
        ext = self.model.periods.subsidized_extension_until
        return ext.date if ext is not None else None

    @property
    def plan_start(self) -> dt.date:
        return self.model.periods.coverage.start

    @property
    def plan_end(self) -> dt.date:
        return self.model.periods.coverage.end

    @property
    def late_payment(self) -> LatePayment:
        return self.model.late_payment

    @property
    def newborn(self) -> Newborn | None:
        return self.model.newborn

    @property
    def assumptions(self) -> dict[str, Assumption]:
        return {a.id: a for a in self.model.assumptions}

    def describe_assumption(self, assumption_id: str, lang: str = "zh-CN") -> str:
        """'id: statement', the statement in Chinese (the file's statement_zh; its English
        statement where it has none) unless `lang` is en."""
        found = self.assumptions[assumption_id]
        if lang == "en" or not found.statement_zh:
            return f"{assumption_id}: {found.statement}"
        return f"{assumption_id}: {found.statement_zh}"

    def assumptions_in(self, texts: list[str], lang: str) -> list[str]:
        """Assumption texts as determinations store them ('id: ...'), in `lang`; a text whose
        id this policy does not declare stays as it is."""
        out = []
        for text in texts:
            aid = text.split(": ", 1)[0]
            out.append(self.describe_assumption(aid, lang) if aid in self.assumptions else text)
        return out

    def summary(self) -> dict[str, object]:
        return {
            "region_code": self.region_code,
            "region_name": self.region_name,
            "plan_year": self.plan_year,
            "version": self.version,
            "document": self.source.document_number,
            "issuer": self.source.issuer,
            "issued_on": self.source.issued_on.isoformat(),
            "file": self.path.name if self.path else None,
        }


def build_policy(model: PolicyFile, raw: Any, path: Path | None = None) -> Policy:
    standards: dict[str, int] = {cat: s.fen for s in model.standards for cat in s.categories}
    return Policy(
        model=model, version=content_version(raw), path=path, standards_fen=standards, raw=raw
    )
