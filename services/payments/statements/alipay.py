"""Alipay business-detail statement (业务明细), the `..._业务明细.csv` inside the daily bill zip.

Layout as Alipay publishes it: GBK text; `#` comment lines on top (#支付宝业务明细查询,
#账号：[...], #起始日期：[...] 终止日期：[...], #-----业务明细列表-----), one header row
(支付宝交易号,商户订单号,业务类型,商品名称,创建时间,完成时间,...,订单金额（元）,商家实收（元）,
...,退款批次号/请求号,服务费（元）,分润（元）,备注), the detail rows — id cells carry a trailing
tab so Excel keeps them as text — and `#` lines at the bottom (#-----业务明细列表结束-----,
#交易合计：N笔，商家实收共X元，商家优惠共Y元, #退款合计：M笔，商家实收退款共-Z元，...,
#导出时间：[...]). Refund rows (业务类型 退款) carry negative amounts.

A line's amount is 商家实收（元） (what the merchant receives, what the totals add up); without
merchant discounts it equals the order amount the notification carries (total_amount).

A refund row's id is `<支付宝交易号>:<退款批次号/请求号>`, the same key the notification of that
refund gets (channels.alipay.refund_txn_id): one trade can be refunded in several parts.
"""

from __future__ import annotations

import csv
import re

from ..channels.alipay import refund_txn_id
from ..channels.base import STATUS_SUCCEEDED
from .base import (
    LineKind,
    Statement,
    StatementInvalid,
    StatementLine,
    StatementSummary,
    checked_statement,
    column_index,
    decode,
    parse_china_time,
    parse_yuan,
)

CHANNEL = "alipay"
TITLE = "#支付宝业务明细查询"
LIST_START = "业务明细列表"
LIST_END = "业务明细列表结束"
RECEIVED = "商家实收（元）"
REQUIRED = ("支付宝交易号", "商户订单号", "业务类型", "完成时间", RECEIVED)
REFUND_NO = "退款批次号/请求号"

_TOTAL = re.compile(
    r"#(交易|退款)合计[：:]\s*([0-9]+)笔[，,][^，,]*?共\s*(-?[0-9]+(?:\.[0-9]{1,2})?)元"
)


def _cells(text: str) -> list[str]:
    return [cell.strip() for cell in next(csv.reader([text]), [])]


def _column_name(name: str) -> str:
    return name.strip().replace("(", "（").replace(")", "）")


def _decode_gbk(data: bytes) -> str:
    if data.startswith(b"\xef\xbb\xbf") or TITLE.encode("utf-8") in data[:200]:
        raise StatementInvalid("the file is UTF-8; Alipay business-detail files are GBK", 1,
                               zh="文件是 UTF-8 编码；支付宝业务明细文件应为 GBK 编码")
    # GB18030 is the superset of GBK: rare characters in names still decode, and bytes that
    # are not valid GBK/GB18030 are refused rather than replaced.
    return decode(data, "gb18030", "Alipay business-detail file (GBK)")


def parse_alipay_business_detail(data: bytes, channel: str = CHANNEL) -> Statement:
    rows = _decode_gbk(data).splitlines()
    if not rows or not rows[0].startswith(TITLE):
        raise StatementInvalid(
            f"not an Alipay business-detail file: the first line must be {TITLE}", 1,
            zh=f"不是支付宝业务明细文件：第一行应为 {TITLE}")
    start = next(
        (
            i
            for i, text in enumerate(rows)
            if text.startswith("#") and LIST_START in text and LIST_END not in text
        ),
        None,
    )
    if start is None or start + 1 >= len(rows):
        raise StatementInvalid(f"no '{LIST_START}' section", len(rows),
                               zh=f"没有 '{LIST_START}' 部分")
    header_number = start + 2
    header = [_column_name(name) for name in _cells(rows[start + 1])]
    columns = column_index(header, REQUIRED, header_number)
    if REFUND_NO in header:
        columns[REFUND_NO] = header.index(REFUND_NO)

    lines: list[StatementLine] = []
    end_number: int | None = None
    for number, text in enumerate(rows[start + 2 :], start=header_number + 1):
        if text.startswith("#"):
            if LIST_END in text:
                end_number = number
                break
            raise StatementInvalid("unexpected comment line inside the detail list", number,
                                   zh="明细列表中出现了注释行")
        if not text.strip():
            continue
        cells = _cells(text)
        if len(cells) != len(header):
            raise StatementInvalid(f"{len(cells)} fields, the header has {len(header)}", number,
                                   zh=f"有 {len(cells)} 个字段，表头有 {len(header)} 个")
        lines.append(_line({name: cells[i] for name, i in columns.items()}, number, channel))
    if end_number is None:
        raise StatementInvalid(f"no '{LIST_END}' line", len(rows),
                               zh=f"没有 '{LIST_END}' 行")

    totals: dict[str, tuple[int, int, int]] = {}
    for number, text in enumerate(rows[end_number:], start=end_number + 1):
        match = _TOTAL.match(text)
        if match:
            kind, count, amount = match.groups()
            totals[kind] = (
                int(count),
                parse_yuan(amount, f"{kind}合计", number, allow_negative=True),
                number,
            )
    if "交易" not in totals:
        raise StatementInvalid("no '#交易合计：N笔，商家实收共X元' line", end_number + 1,
                               zh="没有 '#交易合计：N笔，商家实收共X元' 行")
    trade_count, trade_total, summary_number = totals["交易"]
    refund_count, refund_total, _ = totals.get("退款", (0, 0, summary_number))
    declared = StatementSummary(
        count=trade_count + refund_count,
        total_fen=trade_total,
        refund_total_fen=-refund_total,  # 商家实收退款共-Z元: money going out
    )
    return checked_statement(channel, lines, declared, summary_number)


def _line(row: dict[str, str], number: int, channel: str) -> StatementLine:
    business = row["业务类型"]
    received = parse_yuan(row[RECEIVED], RECEIVED, number, allow_negative=True)
    if not row["支付宝交易号"] or not row["商户订单号"]:
        raise StatementInvalid("支付宝交易号 and 商户订单号 are required", number,
                               zh="支付宝交易号和商户订单号不能为空")
    stamp = row["完成时间"] or row.get("创建时间", "")
    occurred_at = parse_china_time(stamp, "完成时间", number)
    kind: LineKind
    txn_id = row["支付宝交易号"]
    if business == "交易":
        if received < 0:
            raise StatementInvalid(f"a 交易 row with negative {RECEIVED} {row[RECEIVED]}", number,
                                   zh=f"交易行的{RECEIVED}为负数 {row[RECEIVED]}")
        kind, amount = "payment", received
    elif business == "退款":
        if received > 0:
            raise StatementInvalid(f"a 退款 row with positive {RECEIVED} {row[RECEIVED]}", number,
                                   zh=f"退款行的{RECEIVED}为正数 {row[RECEIVED]}")
        kind, amount = "refund", -received
        txn_id = refund_txn_id(txn_id, row.get(REFUND_NO) or None, amount)
    else:
        raise StatementInvalid(f"业务类型 {business!r} is not handled (交易 and 退款 are)", number,
                               zh=f"不处理业务类型 {business!r}（只处理交易和退款）")
    return StatementLine(
        channel=channel,
        channel_txn_id=txn_id,
        order_no=row["商户订单号"],
        kind=kind,
        amount_fen=amount,
        status=STATUS_SUCCEEDED,
        occurred_at=occurred_at,
    )
