"""WeChat Pay trade bill (交易账单, bill_type ALL / SUCCESS / REFUND), as downloaded.

Layout (pay.weixin.qq.com, 交易账单文件格式说明): UTF-8, comma separated, one header row, the
detail rows, then a summary header row (总交易单数,应结订单总金额,退款总金额,...) and one
summary row. Every detail and summary cell starts with a backtick (`` ` ``) so Excel keeps long
numbers intact; amounts are yuan. Payments and refunds are separate rows (交易状态 SUCCESS /
REFUND); on a refund row 应结订单金额 is 0.00 and the money is in 退款金额.

A line's amount is what settles: 应结订单金额 for payments, 退款金额 for refunds, which is what
the declared totals 应结订单总金额 / 退款总金额 add up. Without merchant coupons (none are used
for contributions) these equal the notification amounts (amount.total / amount.refund).
"""

from __future__ import annotations

import csv

from ..channels.base import STATUS_CLOSED, STATUS_FAILED, STATUS_PENDING, STATUS_SUCCEEDED
from .base import (
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

CHANNEL = "wechatpay"
SUMMARY_MARK = "总交易单数"
DETAIL_COLUMNS = ("交易时间", "微信订单号", "商户订单号", "交易状态", "应结订单金额")
REFUND_COLUMNS = ("微信退款单号", "退款金额", "退款状态")
SUMMARY_COLUMNS = ("总交易单数", "应结订单总金额", "退款总金额")
# Optional pairs checked when both sides are present: (detail column, summary column).
EXTRA_TOTALS = (("订单金额", "订单总金额"), ("申请退款金额", "申请退款总金额"))

_REFUND_STATUS = {
    "SUCCESS": STATUS_SUCCEEDED,
    "PROCESSING": STATUS_PENDING,
    "ABNORMAL": STATUS_FAILED,
    "CHANGE": STATUS_FAILED,
    "FAIL": STATUS_FAILED,
    "CLOSED": STATUS_CLOSED,
}


def _cells(text: str) -> list[str]:
    row = next(csv.reader([text]), [])
    return [cell[1:] if cell.startswith("`") else cell for cell in row]


def parse_wechatpay_trade_bill(data: bytes, channel: str = CHANNEL) -> Statement:
    rows = decode(data, "utf-8-sig", "WeChat Pay trade bill").splitlines()
    if not rows or not rows[0].startswith("交易时间"):
        raise StatementInvalid(
            "not a WeChat Pay trade bill: the first row must be the header (交易时间,...)", 1,
            zh="不是微信支付交易账单：第一行应为表头（交易时间,...）")
    header = _cells(rows[0])
    columns = column_index(header, DETAIL_COLUMNS, 1)
    has_refunds = all(name in columns for name in REFUND_COLUMNS)

    lines: list[StatementLine] = []
    extra_sums = {detail: 0 for detail, _ in EXTRA_TOTALS if detail in columns}
    number = 1
    for number, text in enumerate(rows[1:], start=2):
        if text.startswith(SUMMARY_MARK):
            break
        if not text.strip():
            continue
        cells = _cells(text)
        if len(cells) != len(header):
            raise StatementInvalid(f"{len(cells)} fields, the header has {len(header)}", number,
                                   zh=f"有 {len(cells)} 个字段，表头有 {len(header)} 个")
        row = dict(zip(header, cells, strict=True))
        lines.append(_line(row, has_refunds, number, channel))
        for detail in extra_sums:
            extra_sums[detail] += parse_yuan(row[detail], detail, number)
    else:
        raise StatementInvalid(f"no summary section ({SUMMARY_MARK},...) at the end", len(rows),
                               zh=f"文件末尾没有汇总部分（{SUMMARY_MARK},...）")

    summary_header = _cells(rows[number - 1])
    totals = column_index(summary_header, SUMMARY_COLUMNS, number)
    rest = [
        (index, text) for index, text in enumerate(rows[number:], start=number + 1) if text.strip()
    ]
    if len(rest) != 1:
        raise StatementInvalid(
            "expected exactly one summary row after the summary header", number + 1,
            zh="汇总表头之后应恰好有一行汇总")
    summary_number, summary_text = rest[0]
    values = _cells(summary_text)
    if len(values) != len(summary_header):
        raise StatementInvalid(
            f"{len(values)} fields, the summary header has {len(summary_header)}", summary_number,
            zh=f"汇总行有 {len(values)} 个字段，汇总表头有 {len(summary_header)} 个")
    summary = dict(zip(summary_header, values, strict=True))

    count_text = summary["总交易单数"]
    if not (count_text.isascii() and count_text.isdigit()):
        raise StatementInvalid(f"总交易单数 {count_text!r} is not a count", summary_number,
                               zh=f"总交易单数 {count_text!r} 不是笔数")
    for detail, total in EXTRA_TOTALS:
        declared_total = summary.get(total) if detail in extra_sums and total in totals else None
        if (
            declared_total is not None
            and parse_yuan(declared_total, total, summary_number) != extra_sums[detail]
        ):
            raise StatementInvalid(
                f"{total} {summary[total]} does not match the rows", summary_number,
                zh=f"{total} {summary[total]} 与明细不符")
    declared = StatementSummary(
        count=int(count_text),
        total_fen=parse_yuan(summary["应结订单总金额"], "应结订单总金额", summary_number),
        refund_total_fen=parse_yuan(summary["退款总金额"], "退款总金额", summary_number),
    )
    return checked_statement(channel, lines, declared, summary_number)


def _line(row: dict[str, str], has_refunds: bool, number: int, channel: str) -> StatementLine:
    state = row["交易状态"]
    occurred_at = parse_china_time(row["交易时间"], "交易时间", number)
    order_no = row["商户订单号"]
    if not order_no or not row["微信订单号"]:
        raise StatementInvalid("微信订单号 and 商户订单号 are required", number,
                               zh="微信订单号和商户订单号不能为空")
    if state == "SUCCESS":
        return StatementLine(
            channel=channel,
            channel_txn_id=row["微信订单号"],
            order_no=order_no,
            kind="payment",
            amount_fen=parse_yuan(row["应结订单金额"], "应结订单金额", number),
            status=STATUS_SUCCEEDED,
            occurred_at=occurred_at,
        )
    if state == "REFUND" and has_refunds:
        refund_status = _REFUND_STATUS.get(row["退款状态"])
        if refund_status is None:
            raise StatementInvalid(f"退款状态 {row['退款状态']!r} is unknown", number,
                                   zh=f"未知的退款状态 {row['退款状态']!r}")
        if not row["微信退款单号"]:
            raise StatementInvalid("微信退款单号 is required on a refund row", number,
                                   zh="退款行须有微信退款单号")
        return StatementLine(
            channel=channel,
            channel_txn_id=row["微信退款单号"],
            order_no=order_no,
            kind="refund",
            amount_fen=parse_yuan(row["退款金额"], "退款金额", number),
            status=refund_status,
            occurred_at=occurred_at,
        )
    raise StatementInvalid(f"交易状态 {state!r} is not handled (SUCCESS and REFUND are)", number,
                           zh=f"不处理交易状态 {state!r}（只处理 SUCCESS 和 REFUND）")
