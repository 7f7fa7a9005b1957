"""The exchange file reader and the reconciliation's comparison, without I/O."""

from __future__ import annotations

import datetime as dt
import uuid

import pytest

from services.payments.tax import files as f
from services.payments.tax.reconciliation import Side, compare

P = [uuid.UUID(int=i) for i in range(1, 7)]
D = dt.date(2024, 12, 1)


def test_unreadable_files_are_named_in_chinese() -> None:
    with pytest.raises(f.FileFormatError, match="文件不完整"):
        f.parse_csv("文件类型\n")
    with pytest.raises(f.FileFormatError, match="第1行应为控制信息列名"):
        f.parse_csv("a,b\n1,2\nx\n")
    good = f.ExchangeFile(f.control(f.PAYMENTS_FILE, 1, "370481", records=0, total_fen=0))
    text = good.render_csv(f.PAYMENT_COLUMNS) + "缴费,T1\n"
    with pytest.raises(f.FileFormatError, match="第4行有 2 项"):
        f.parse_csv(text)
    with pytest.raises(f.FileFormatError, match="应为文本"):
        f.parse_json({f.FILE_TYPE: f.PAYMENTS_FILE, f.TOTAL: 400.0, f.ROWS_KEY: []})
    with pytest.raises(f.FileFormatError, match="不认识的控制项"):
        f.parse_json({"x": "1", f.ROWS_KEY: []})


def test_each_kind_of_difference_and_the_matches() -> None:
    tax, ledger = Side(), Side()
    tax.add((P[0], 2025), "payment", 40000, D, "T0")          # matched
    ledger.add((P[0], 2025), "payment", 40000, D, 1)
    tax.add((P[1], 2025), "payment", 40000, D, "T1")          # tax only
    ledger.add((P[2], 2025), "payment", 40000, D, 3)          # ledger only
    tax.add((P[3], 2025), "payment", 38000, D, "T3")          # amounts differ
    ledger.add((P[3], 2025), "payment", 40000, D, 4)
    tax.add((P[4], 2025), "payment", 40000, D + dt.timedelta(days=1), "T4")  # dates differ
    ledger.add((P[4], 2025), "payment", 40000, D, 5)
    tax.add((P[5], 2025), "payment", 40000, D, "T5")          # paid and reversed at tax,
    tax.add((P[5], 2025), "reversal", 40000, D, "T5R")        # nothing booked here: matched
    matched, diffs = compare(tax, ledger)
    assert matched == 2
    assert {d["person_id"]: d["kind"] for d in diffs} == {
        P[1]: "tax_only", P[2]: "ledger_only", P[3]: "amount_differs", P[4]: "dates_differ"}
    assert tax.totals() == {"count": 6, "net_fen": 40000 * 3 + 38000, "persons": 4}
    assert tax.daily[D] == 40000 * 2 + 38000
