"""Daily channel statements, parsed into normalized lines and checked against their totals."""

from .alipay import parse_alipay_business_detail
from .bank import parse_bank_statement, write_bank_statement
from .base import Statement, StatementInvalid, StatementLine, StatementSummary
from .wechatpay import parse_wechatpay_trade_bill

__all__ = [
    "Statement",
    "StatementInvalid",
    "StatementLine",
    "StatementSummary",
    "parse_alipay_business_detail",
    "parse_bank_statement",
    "parse_wechatpay_trade_bill",
    "write_bank_statement",
]
