"""What a determination tells a clerk about how it was reached."""

from __future__ import annotations

from dataclasses import asdict, dataclass


@dataclass(frozen=True, slots=True)
class TraceEntry:
    rule_id: str
    matched: bool
    outcome: str
    reason: str

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


def render(trace: list[TraceEntry]) -> str:
    """One line per entry, for logs and the clerk's screen."""
    return "\n".join(f"[{t.outcome}] {t.rule_id}: {t.reason}" for t in trace)
