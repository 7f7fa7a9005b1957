from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from services.payments.statements import (
    StatementInvalid,
    StatementLine,
    StatementSummary,
    parse_alipay_business_detail,
    parse_bank_statement,
    parse_wechatpay_trade_bill,
    write_bank_statement,
)

DATA = Path(__file__).parent / "data"
WECHAT = (DATA / "wechatpay_tradebill_all_20241201.csv").read_bytes()
ALIPAY = (DATA / "alipay_business_detail_20241201.csv").read_bytes()
BANK = (DATA / "bank_ccb_20241201.csv").read_bytes()


def utc(hour: int, minute: int, second: int = 0) -> datetime:
    return datetime(2024, 12, 1, hour, minute, second, tzinfo=UTC)


def wechat_text() -> str:
    return WECHAT.decode("utf-8")


def alipay_text() -> str:
    return ALIPAY.decode("gbk")


# --- WeChat Pay trade bill ------------------------------------------------------------------


def test_wechat_bill_lines_and_summary() -> None:
    statement = parse_wechatpay_trade_bill(WECHAT)
    assert statement.summary == StatementSummary(count=4, total_fen=100000, refund_total_fen=40000)
    first, second, third, refund = statement.lines
    assert first == StatementLine(
        channel="wechatpay",
        channel_txn_id="4200002166202412011000000001",
        order_no="CB2025370481000000001",
        kind="payment",
        amount_fen=40000,
        status="succeeded",
        occurred_at=utc(1, 15, 2),
    )
    assert (second.amount_fen, third.amount_fen) == (20000, 40000)
    assert refund == StatementLine(
        channel="wechatpay",
        channel_txn_id="50302709992024120100000000001",
        order_no="CB2025370481000000003",
        kind="refund",
        amount_fen=40000,
        status="succeeded",
        occurred_at=utc(8, 20, 11),
    )


def test_wechat_bill_with_utf8_bom_and_lf_endings() -> None:
    data = b"\xef\xbb\xbf" + WECHAT.replace(b"\r\n", b"\n")
    assert parse_wechatpay_trade_bill(data).summary.count == 4


def test_wechat_bill_with_a_count_that_does_not_match() -> None:
    bad = wechat_text().replace("`4,`1000.00", "`5,`1000.00").encode("utf-8")
    with pytest.raises(StatementInvalid, match="count 5 declared, 4 lines") as caught:
        parse_wechatpay_trade_bill(bad)
    assert caught.value.line == 7


def test_wechat_bill_with_a_total_that_does_not_match() -> None:
    bad = wechat_text().replace("`4,`1000.00,`400.00", "`4,`1000.01,`400.00").encode("utf-8")
    with pytest.raises(
        StatementInvalid, match="payments 1000.01 declared, lines add up to 1000.00"
    ):
        parse_wechatpay_trade_bill(bad)


def test_wechat_bill_with_a_refund_total_that_does_not_match() -> None:
    bad = wechat_text().replace("`4,`1000.00,`400.00", "`4,`1000.00,`0.00").encode("utf-8")
    with pytest.raises(StatementInvalid, match="refunds"):
        parse_wechatpay_trade_bill(bad)


def test_wechat_bill_with_an_order_total_that_does_not_match() -> None:
    bad = (
        wechat_text()
        .replace("`0.00000,`1000.00,`400.00", "`0.00000,`999.00,`400.00")
        .encode("utf-8")
    )
    with pytest.raises(StatementInvalid, match="订单总金额"):
        parse_wechatpay_trade_bill(bad)


@pytest.mark.parametrize("amount", ["400.001", "4e2", "四百", "-400.00", ""])
def test_wechat_bill_with_a_bad_amount_names_the_line(amount: str) -> None:
    lines = wechat_text().split("\r\n")
    lines[2] = lines[2].replace("`200.00,`0.00,`0,`0", f"`{amount},`0.00,`0,`0")
    with pytest.raises(StatementInvalid) as caught:
        parse_wechatpay_trade_bill("\r\n".join(lines).encode("utf-8"))
    assert caught.value.line == 3


def test_wechat_bill_with_a_missing_column() -> None:
    lines = wechat_text().split("\r\n")
    lines[0] = lines[0].replace("商户订单号", "商户单号")
    with pytest.raises(StatementInvalid, match="商户订单号") as caught:
        parse_wechatpay_trade_bill("\r\n".join(lines).encode("utf-8"))
    assert caught.value.line == 1


def test_wechat_bill_with_a_short_row() -> None:
    lines = wechat_text().split("\r\n")
    lines[4] = lines[4].rsplit(",", 3)[0]
    with pytest.raises(StatementInvalid) as caught:
        parse_wechatpay_trade_bill("\r\n".join(lines).encode("utf-8"))
    assert caught.value.line == 5


def test_wechat_bill_in_the_wrong_encoding() -> None:
    with pytest.raises(StatementInvalid, match="utf-8") as caught:
        parse_wechatpay_trade_bill(wechat_text().encode("gbk"))
    assert caught.value.line == 1


def test_wechat_bill_without_summary() -> None:
    truncated = "\r\n".join(wechat_text().split("\r\n")[:5]).encode("utf-8")
    with pytest.raises(StatementInvalid, match="summary"):
        parse_wechatpay_trade_bill(truncated)


def test_wechat_bill_with_an_unknown_trade_state() -> None:
    bad = (
        wechat_text()
        .replace("`JSAPI,`SUCCESS,`ICBC_DEBIT", "`JSAPI,`REVOKED,`ICBC_DEBIT")
        .encode("utf-8")
    )
    with pytest.raises(StatementInvalid, match="REVOKED") as caught:
        parse_wechatpay_trade_bill(bad)
    assert caught.value.line == 3


def test_something_else_is_not_a_wechat_bill() -> None:
    with pytest.raises(StatementInvalid):
        parse_wechatpay_trade_bill(BANK)


# --- Alipay business detail -----------------------------------------------------------------


def test_alipay_detail_lines_and_summary() -> None:
    statement = parse_alipay_business_detail(ALIPAY)
    assert statement.summary == StatementSummary(count=4, total_fen=100000, refund_total_fen=40000)
    assert [(line.kind, line.amount_fen) for line in statement.lines] == [
        ("payment", 40000),
        ("payment", 20000),
        ("payment", 40000),
        ("refund", 40000),
    ]
    first, refund = statement.lines[0], statement.lines[3]
    assert (first.channel_txn_id, first.order_no) == (
        "2024120122001400001000000001",
        "CB2025370481000000011",
    )
    assert first.occurred_at == utc(1, 0, 2)  # 完成时间 09:00:02 Beijing time
    # a refund line is keyed like its notification: trade number and refund request number
    assert (refund.channel_txn_id, refund.occurred_at) == (
        "2024120122001400001000000001:RF2025370481000000011",
        utc(6, 12, 45),
    )


def test_alipay_detail_in_utf8_is_refused() -> None:
    with pytest.raises(StatementInvalid, match="GBK") as caught:
        parse_alipay_business_detail(alipay_text().encode("utf-8"))
    assert caught.value.line == 1


def test_alipay_detail_with_bytes_that_are_not_gbk_names_the_line() -> None:
    lines = ALIPAY.split(b"\r\n")
    lines[6] = lines[6].replace("*建国".encode("gbk"), b"\xff\xfe")
    with pytest.raises(StatementInvalid) as caught:
        parse_alipay_business_detail(b"\r\n".join(lines))
    assert caught.value.line == 7


def test_alipay_detail_with_a_count_that_does_not_match() -> None:
    bad = alipay_text().replace("#交易合计：3笔", "#交易合计：2笔").encode("gbk")
    with pytest.raises(StatementInvalid, match="count 3 declared, 4 lines") as caught:
        parse_alipay_business_detail(bad)
    assert caught.value.line == 11


def test_alipay_detail_with_a_refund_total_that_does_not_match() -> None:
    bad = alipay_text().replace("商家实收退款共-400.00元", "商家实收退款共-300.00元").encode("gbk")
    with pytest.raises(StatementInvalid, match="refunds 300.00 declared, lines add up to 400.00"):
        parse_alipay_business_detail(bad)


@pytest.mark.parametrize("amount", ["200.001", "2e2", "200,00", "abc"])
def test_alipay_detail_with_a_bad_amount_names_the_line(amount: str) -> None:
    bad = alipay_text().replace(",200.00,200.00,", f",200.00,{amount},").encode("gbk")
    with pytest.raises(StatementInvalid) as caught:
        parse_alipay_business_detail(bad)
    assert caught.value.line == 7


def test_alipay_detail_with_a_positive_refund() -> None:
    bad = alipay_text().replace(",-400.00,-400.00,", ",-400.00,400.00,").encode("gbk")
    with pytest.raises(StatementInvalid, match="退款") as caught:
        parse_alipay_business_detail(bad)
    assert caught.value.line == 9


def test_alipay_detail_with_a_missing_column() -> None:
    bad = alipay_text().replace("商家实收（元）", "实收").encode("gbk")
    with pytest.raises(StatementInvalid, match="商家实收") as caught:
        parse_alipay_business_detail(bad)
    assert caught.value.line == 5


def test_alipay_detail_without_its_end_marker_or_totals() -> None:
    text = alipay_text()
    with pytest.raises(StatementInvalid, match="comment line") as caught:
        parse_alipay_business_detail(text.replace("业务明细列表结束", "").encode("gbk"))
    assert caught.value.line == 10
    with pytest.raises(StatementInvalid, match="结束"):
        parse_alipay_business_detail("\r\n".join(text.split("\r\n")[:9]).encode("gbk"))
    with pytest.raises(StatementInvalid, match="交易合计"):
        parse_alipay_business_detail(text.replace("#交易合计", "#合计").encode("gbk"))


def test_something_else_is_not_an_alipay_detail() -> None:
    with pytest.raises(StatementInvalid):
        parse_alipay_business_detail(WECHAT.decode("utf-8").encode("gbk"))


# --- generic bank statement -----------------------------------------------------------------


def test_bank_statement_lines_and_summary() -> None:
    statement = parse_bank_statement(BANK, "bank_ccb")
    assert statement.summary == StatementSummary(count=5, total_fen=88000, refund_total_fen=38000)
    assert [line.kind for line in statement.lines] == [
        "payment",
        "payment",
        "payment",
        "refund",
        "close",
    ]
    assert statement.lines[0] == StatementLine(
        channel="bank_ccb",
        channel_txn_id="CCB2024120100000001",
        order_no="CB2025370481000000021",
        kind="payment",
        amount_fen=40000,
        status="succeeded",
        occurred_at=utc(1, 12),
    )


def bank_lines() -> list[str]:
    return BANK.decode("utf-8").split("\r\n")


def with_line(number: int, text: str) -> bytes:
    lines = bank_lines()
    lines[number - 1] = text
    return "\r\n".join(lines).encode("utf-8")


@pytest.mark.parametrize(
    "row",
    [
        "CCB2,CB22,payment,380.001,succeeded,2024-12-01T10:40:30+08:00",
        "CCB2,CB22,payment,3.8e2,succeeded,2024-12-01T10:40:30+08:00",
        "CCB2,CB22,payment,-380.00,succeeded,2024-12-01T10:40:30+08:00",
        "CCB2,CB22,payment,0.00,succeeded,2024-12-01T10:40:30+08:00",
        "CCB2,CB22,deposit,380.00,succeeded,2024-12-01T10:40:30+08:00",
        "CCB2,CB22,payment,380.00,SUCCESS,2024-12-01T10:40:30+08:00",
        "CCB2,CB22,payment,380.00,succeeded,2024-12-01 10:40:30",
        "CCB2,CB22,payment,380.00,succeeded",
        ",CB22,payment,380.00,succeeded,2024-12-01T10:40:30+08:00",
    ],
)
def test_bank_statement_bad_rows_name_their_line(row: str) -> None:
    with pytest.raises(StatementInvalid) as caught:
        parse_bank_statement(with_line(3, row), "bank_ccb")
    assert caught.value.line == 3


def test_bank_statement_header_must_match() -> None:
    with pytest.raises(StatementInvalid, match="header") as caught:
        parse_bank_statement(with_line(1, "txn,order,kind,amount,status,time"), "bank_ccb")
    assert caught.value.line == 1


def test_bank_statement_summary_must_match() -> None:
    with pytest.raises(StatementInvalid, match="payments 880.01 declared") as caught:
        parse_bank_statement(with_line(7, "#summary,5,880.01,380.00"), "bank_ccb")
    assert caught.value.line == 7


def test_bank_statement_needs_its_summary_row() -> None:
    truncated = "\r\n".join(bank_lines()[:6]).encode("utf-8")
    with pytest.raises(StatementInvalid, match="#summary"):
        parse_bank_statement(truncated, "bank_ccb")


def test_bank_statement_in_the_wrong_encoding_names_the_line() -> None:
    data = with_line(4, "CCB3,CB23,payment,100.00,succeeded,2024-12-01T15:02:11+08:00").replace(
        b"CB23", "城".encode("gbk")
    )
    with pytest.raises(StatementInvalid, match="utf-8") as caught:
        parse_bank_statement(data, "bank_ccb")
    assert caught.value.line == 4


amounts = st.integers(min_value=1, max_value=10**9)
kinds = st.sampled_from(["payment", "refund", "close"])


@given(st.lists(st.tuples(kinds, amounts, st.integers(min_value=0, max_value=86399)), max_size=30))
def test_bank_statement_round_trips_to_the_fen(rows: list[tuple[str, int, int]]) -> None:
    start = datetime(2024, 12, 1, tzinfo=UTC)
    lines = [
        StatementLine(
            channel="pos_yunongtong",
            channel_txn_id=f"T{i}",
            order_no=f"CB{i}",
            kind=kind,  # type: ignore[arg-type]
            amount_fen=fen,
            status="succeeded",
            occurred_at=start + timedelta(seconds=offset),
        )
        for i, (kind, fen, offset) in enumerate(rows)
    ]
    statement = parse_bank_statement(write_bank_statement(lines), "pos_yunongtong")
    assert list(statement.lines) == lines
    assert statement.summary.total_fen == sum(fen for kind, fen, _ in rows if kind == "payment")
    assert statement.summary.refund_total_fen == sum(
        fen for kind, fen, _ in rows if kind == "refund"
    )
