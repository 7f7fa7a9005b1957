"""What a determination tells a clerk about how it was reached.

Each entry reads in Chinese (`reason`) and in English (`reason_en`); `localized` gives a stored
trace in the reader's language. rule_id and outcome are codes for programs."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass
from typing import Any

from shared.i18n import EN, Text


@dataclass(frozen=True, slots=True)
class TraceEntry:
    rule_id: str
    matched: bool
    outcome: str
    reason: str  # Chinese
    reason_en: str = ""

    @classmethod
    def of(cls, rule_id: str, matched: bool, outcome: str, text: Text) -> TraceEntry:
        return cls(rule_id, matched, outcome, text.zh, text.en)

    def to_dict(self) -> dict[str, object]:
        return asdict(self)


# Outcomes used in traces (plain words; rule_id names the rule or the step).
WON = "won"
LOST = "lost"
NOT_MATCHED = "not matched"
SKIPPED = "skipped"
NOT_COUNTED = "not counted"
APPLIED = "applied"
NOTE = "note"
FORFEITED = "forfeited"
PAYERS = "payers"


def join(parts: Iterable[Text], zh: str = "；", en: str = "; ") -> Text:
    items = [p for p in parts if p.zh or p.en]
    return Text(zh.join(p.zh for p in items), en.join(p.en for p in items))


def localized(entries: Iterable[Mapping[str, Any]], lang: str) -> list[dict[str, Any]]:
    """A stored trace (dicts) in `lang`: reason in that language, without reason_en (an entry
    stored before traces were bilingual keeps its one text)."""
    out = []
    for entry in entries:
        item = {k: v for k, v in entry.items() if k != "reason_en"}
        if lang == EN and entry.get("reason_en"):
            item["reason"] = entry["reason_en"]
        out.append(item)
    return out


def render(trace: list[TraceEntry], lang: str = "zh-CN") -> str:
    """One line per entry, for logs and the clerk's screen."""
    return "\n".join(f"[{t.outcome}] {t.rule_id}: {t.reason_en if lang == EN else t.reason}"
                     for t in trace)
