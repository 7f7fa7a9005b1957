"""Our generic daily statement for banks, POS terminal operators and tax halls.

UTF-8 CSV (a BOM is tolerated), RFC 4180 quoting, this exact header:

    channel_txn_id,order_no,kind,amount_yuan,status,occurred_at

- kind: payment | refund | close
- amount_yuan: positive yuan with at most two decimals ("400.00"); close lines may be 0
- status: succeeded | pending | failed | closed
- occurred_at: RFC 3339 with an offset ("2024-12-01T10:00:00+08:00")

and, as the last non-blank row, the summary:

    #summary,<line count>,<sum of payment amount_yuan>,<sum of refund amount_yuan>
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable
from datetime import datetime

from shared.money import fen_to_yuan

from ..channels._support import in_calendar
from ..channels.base import PayloadInvalid
from .base import (
    STATUSES,
    LineKind,
    Statement,
    StatementInvalid,
    StatementLine,
    StatementSummary,
    checked_statement,
    decode,
    parse_yuan,
    summarize,
)

HEADER = ("channel_txn_id", "order_no", "kind", "amount_yuan", "status", "occurred_at")
SUMMARY_MARK = "#summary"
KINDS: tuple[LineKind, ...] = ("payment", "refund", "close")


def parse_bank_statement(data: bytes, channel: str) -> Statement:
    text = decode(data, "utf-8-sig", f"{channel} statement")
    rows = _rows(text)
    if not rows or tuple(cell.strip() for cell in rows[0][1]) != HEADER:
        raise StatementInvalid(f"the header must be exactly {','.join(HEADER)}", 1,
                               zh=f"表头应为 {','.join(HEADER)}")
    *details, (summary_number, summary) = rows[1:] or [(1, [])]
    if not summary or summary[0] != SUMMARY_MARK:
        raise StatementInvalid(f"the last row must be the {SUMMARY_MARK} row", summary_number,
                               zh=f"最后一行应为 {SUMMARY_MARK} 汇总行")
    lines = [_line(row, number, channel) for number, row in details]
    if len(summary) != 4:
        raise StatementInvalid(
            f"{SUMMARY_MARK} has {len(summary)} fields, expected 4", summary_number,
            zh=f"{SUMMARY_MARK} 行有 {len(summary)} 个字段，应为 4 个")
    count = summary[1]
    if not (count.isascii() and count.isdigit()):
        raise StatementInvalid(f"line count {count!r} is not a number", summary_number,
                               zh=f"笔数 {count!r} 不是数字")
    declared = StatementSummary(
        count=int(count),
        total_fen=parse_yuan(summary[2], "payment total", summary_number),
        refund_total_fen=parse_yuan(summary[3], "refund total", summary_number),
    )
    return checked_statement(channel, lines, declared, summary_number)


def _rows(text: str) -> list[tuple[int, list[str]]]:
    reader = csv.reader(io.StringIO(text, newline=""))
    rows: list[tuple[int, list[str]]] = []
    try:
        for row in reader:
            if row:
                rows.append((reader.line_num, row))
    except csv.Error as exc:
        raise StatementInvalid(f"not valid CSV: {exc}", reader.line_num,
                               zh=f"不是有效的 CSV：{exc}") from exc
    return rows


def _line(row: list[str], number: int, channel: str) -> StatementLine:
    if row[0].startswith("#"):
        raise StatementInvalid("a '#' row before the end of the file", number,
                               zh="文件结束前出现了以 '#' 开头的行")
    if len(row) != len(HEADER):
        raise StatementInvalid(f"{len(row)} fields, expected {len(HEADER)}", number,
                               zh=f"有 {len(row)} 个字段，应为 {len(HEADER)} 个")
    txn_id, order_no, kind, amount_yuan, status, occurred_at = (cell.strip() for cell in row)
    if not txn_id or not order_no:
        raise StatementInvalid("channel_txn_id and order_no are required", number,
                               zh="channel_txn_id 和 order_no 不能为空")
    if kind not in KINDS:
        raise StatementInvalid(f"kind {kind!r} is not one of {', '.join(KINDS)}", number,
                               zh=f"kind {kind!r} 只能是 {', '.join(KINDS)} 之一")
    if status not in STATUSES:
        raise StatementInvalid(
            f"status {status!r} is not one of {', '.join(sorted(STATUSES))}", number,
            zh=f"status {status!r} 只能是 {', '.join(sorted(STATUSES))} 之一")
    amount = parse_yuan(amount_yuan, "amount_yuan", number)
    if amount == 0 and kind != "close":
        raise StatementInvalid(f"amount_yuan of a {kind} must be positive", number,
                               zh=f"{kind} 的 amount_yuan 应为正数")
    return StatementLine(
        channel=channel,
        channel_txn_id=txn_id,
        order_no=order_no,
        kind=kind,
        amount_fen=amount,
        status=status,
        occurred_at=_timestamp(occurred_at, number),
    )


def _timestamp(text: str, number: int) -> datetime:
    try:
        parsed = datetime.fromisoformat(text)
    except ValueError as exc:
        raise StatementInvalid(f"occurred_at {text!r} is not RFC 3339", number,
                               zh=f"occurred_at {text!r} 不是 RFC 3339 时间") from exc
    if parsed.tzinfo is None:
        raise StatementInvalid(f"occurred_at {text!r} has no UTC offset", number,
                               zh=f"occurred_at {text!r} 缺少时区（UTC 偏移）")
    try:
        return in_calendar(parsed, "occurred_at")
    except PayloadInvalid as exc:
        raise StatementInvalid(exc.reason, number) from exc


def write_bank_statement(lines: Iterable[StatementLine]) -> bytes:
    """The file a bank sends (used by partner test kits and our own tests)."""
    items = list(lines)
    summary = summarize(items)
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(HEADER)
    for line in items:
        writer.writerow(
            (
                line.channel_txn_id,
                line.order_no,
                line.kind,
                fen_to_yuan(line.amount_fen),
                line.status,
                line.occurred_at.isoformat(),
            )
        )
    writer.writerow(
        (
            SUMMARY_MARK,
            summary.count,
            fen_to_yuan(summary.total_fen),
            fen_to_yuan(summary.refund_total_fen),
        )
    )
    return out.getvalue().encode("utf-8")
