"""A daily channel statement, normalized: lines plus the totals the channel declares for them."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime
from typing import Literal

from shared.i18n import Text
from shared.money import fen_to_yuan, yuan_to_fen

from ..channels._support import MAX_AMOUNT_FEN, china_local_time
from ..channels.base import (
    STATUS_CLOSED,
    STATUS_FAILED,
    STATUS_PENDING,
    STATUS_SUCCEEDED,
    PayloadInvalid,
)

LineKind = Literal["payment", "refund", "close"]
STATUSES = frozenset({STATUS_SUCCEEDED, STATUS_PENDING, STATUS_FAILED, STATUS_CLOSED})

_ASCII_YUAN = re.compile(r"(-?)([0-9]+(?:\.[0-9]{1,2})?)", re.ASCII)


class StatementInvalid(ValueError):
    """The file cannot be trusted as a statement. `line` is 1-based when one line is to blame."""

    def __init__(self, message: str, line: int | None = None, *, zh: str | None = None) -> None:
        """`message` in English, `zh` the same in Chinese (what staff read by default)."""
        super().__init__(f"line {line}: {message}" if line is not None else message)
        self.line = line
        self.detail = message
        self.text = Text(zh or message, message)


@dataclass(frozen=True, slots=True)
class StatementLine:
    channel: str
    # WeChat refunds: 微信退款单号; Alipay refunds: "<支付宝交易号>:<退款批次号/请求号>";
    # otherwise the channel's trade number
    channel_txn_id: str
    order_no: str
    kind: LineKind
    amount_fen: int  # always positive; the kind says which way the money went
    status: str  # STATUS_* vocabulary of the channel adapters
    occurred_at: datetime  # aware UTC


@dataclass(frozen=True, slots=True)
class StatementSummary:
    count: int  # number of lines
    total_fen: int  # sum of payment lines
    refund_total_fen: int  # sum of refund lines


@dataclass(frozen=True, slots=True)
class Statement:
    channel: str
    lines: tuple[StatementLine, ...]
    summary: StatementSummary


def summarize(lines: tuple[StatementLine, ...] | list[StatementLine]) -> StatementSummary:
    return StatementSummary(
        count=len(lines),
        total_fen=sum(line.amount_fen for line in lines if line.kind == "payment"),
        refund_total_fen=sum(line.amount_fen for line in lines if line.kind == "refund"),
    )


def checked_statement(
    channel: str, lines: list[StatementLine], declared: StatementSummary, summary_line: int | None
) -> Statement:
    """The statement, if the channel's declared totals equal what its lines add up to."""
    actual = summarize(lines)
    problems: list[Text] = []
    if declared.count != actual.count:
        problems.append(Text(f"汇总 {declared.count} 笔，明细 {actual.count} 行",
                             f"count {declared.count} declared, {actual.count} lines"))
    if declared.total_fen != actual.total_fen:
        problems.append(Text(
            f"汇总收款 {fen_to_yuan(declared.total_fen)} 元，明细合计 "
            f"{fen_to_yuan(actual.total_fen)} 元",
            f"payments {fen_to_yuan(declared.total_fen)} declared, "
            f"lines add up to {fen_to_yuan(actual.total_fen)}"
        ))
    if declared.refund_total_fen != actual.refund_total_fen:
        problems.append(Text(
            f"汇总退款 {fen_to_yuan(declared.refund_total_fen)} 元，明细合计 "
            f"{fen_to_yuan(actual.refund_total_fen)} 元",
            f"refunds {fen_to_yuan(declared.refund_total_fen)} declared, "
            f"lines add up to {fen_to_yuan(actual.refund_total_fen)}"
        ))
    if problems:
        raise StatementInvalid(
            "summary does not match the lines: " + "; ".join(p.en for p in problems),
            summary_line, zh="汇总行与明细不符：" + "；".join(p.zh for p in problems)
        )
    return Statement(channel=channel, lines=tuple(lines), summary=declared)


def parse_yuan(text: str, column: str, line: int, allow_negative: bool = False) -> int:
    """Exact yuan -> fen for statement cells ('400.00', '-400.00'); anything else is refused."""
    match = _ASCII_YUAN.fullmatch(text)
    if match is None or (match.group(1) and not allow_negative):
        raise StatementInvalid(f"{column} {text!r} is not an amount in yuan", line,
                               zh=f"{column} {text!r} 不是以元为单位的金额")
    fen = yuan_to_fen(text)
    if abs(fen) > MAX_AMOUNT_FEN:
        raise StatementInvalid(f"{column} {text!r} is out of range", line,
                               zh=f"{column} {text!r} 超出范围")
    return fen


def parse_china_time(text: str, column: str, line: int) -> datetime:
    """Beijing wall-clock time, as both Chinese channels print it -> aware UTC."""
    try:
        return china_local_time(text, column)
    except PayloadInvalid as exc:
        raise StatementInvalid(exc.reason, line) from exc


def column_index(header: list[str], required: tuple[str, ...], line: int) -> dict[str, int]:
    positions = {name: index for index, name in enumerate(header)}
    missing = [name for name in required if name not in positions]
    if missing:
        raise StatementInvalid(f"missing column(s): {', '.join(missing)}", line,
                               zh=f"缺少列：{'、'.join(missing)}")
    return positions


def decode(data: bytes, encoding: str, what: str) -> str:
    """Strict decode; on failure name the line that holds the first bad byte."""
    try:
        return data.decode(encoding)
    except UnicodeDecodeError as exc:
        line = data.count(b"\n", 0, exc.start) + 1
        raise StatementInvalid(f"{what} is not valid {encoding} (byte {exc.start})", line,
                               zh=f"文件不是有效的 {encoding} 编码（第 {exc.start} 字节）"
                               ) from exc
