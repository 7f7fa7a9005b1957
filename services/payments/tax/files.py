"""The exchange files' format (docs/EXCHANGE.md): UTF-8 CSV, a control block of two lines (the
control columns, then their values), then the column names the tax side uses and the rows.

The same content travels as JSON through the API: the control columns as keys, the rows under
"明细" with the column names as keys. Both forms reach the same parser, so a file and an API
call are refused for the same reasons, in Chinese, row by row.
"""

from __future__ import annotations

import csv
import hashlib
import io
from dataclasses import dataclass, field
from typing import Any

import orjson

from shared.money import fen_to_yuan

# control block
FILE_TYPE, SEQ_NO, REGION, PLAN_YEAR = "文件类型", "文件序号", "行政区划代码", "缴费年度"
PERIOD_START, PERIOD_END, RECORDS, TOTAL = "起始日期", "截止日期", "记录数", "金额合计"
CONTROL_COLUMNS = (FILE_TYPE, SEQ_NO, REGION, PLAN_YEAR, PERIOD_START, PERIOD_END, RECORDS, TOTAL)
ROWS_KEY = "明细"

# file types
DUES_FILE = "费源"
SPECIAL_FILE = "特殊缴费单据"
PAYMENTS_FILE = "缴费信息"
COLLECTED_FILE = "征收明细"

# outgoing columns
CHANGE, PERSON_NO, ID_NUMBER, NAME = "变更类型", "人员编号", "证件号码", "姓名"
CATEGORY, STANDARD, OWED = "参保类别", "缴费标准", "应缴金额"
DOCUMENT_NO, BUDGET_LINE, SUBSIDY = "单据号", "资金来源", "资助金额"
BASIS = "核定依据"  # the plan (region-year) and the version of its policy file the amount rests on
DUES_COLUMNS = (CHANGE, PERSON_NO, ID_NUMBER, NAME, PLAN_YEAR, CATEGORY, REGION, STANDARD, OWED,
                BASIS)
SPECIAL_COLUMNS = (CHANGE, DOCUMENT_NO, PERSON_NO, ID_NUMBER, NAME, PLAN_YEAR, REGION,
                   BUDGET_LINE, SUBSIDY, BASIS)
NEW, CHANGED, WITHDRAWN = "新增", "变更", "撤销"

# incoming columns (payments and the collection detail of a reconciliation)
RECORD_TYPE, RECEIPT_NO, REVERSES = "记录类型", "税票号码", "原税票号码"
AMOUNT, PAID_ON, TAX_CHANNEL, INVOICE_NO = "缴费金额", "缴费日期", "缴费渠道", "电子票据号"
PAYMENT_COLUMNS = (RECORD_TYPE, RECEIPT_NO, REVERSES, PERSON_NO, ID_NUMBER, PLAN_YEAR, AMOUNT,
                   PAID_ON, TAX_CHANNEL, INVOICE_NO)
PAYMENT, REVERSAL = "缴费", "冲正"

CATEGORY_ZH = {"adult": "成年居民", "minor": "未成年人", "student": "大中专学生"}
BUDGET_LINE_ZH = {"medical_assistance_fund": "医疗救助资金", "city_finance": "市级财政",
                  "county_finance": "县级财政", "township_finance": "镇级财政",
                  "rural_revitalization": "乡村振兴资金"}


class FileFormatError(ValueError):
    """The file cannot be read at all (not its rows: those get row reasons)."""


@dataclass
class ExchangeFile:
    control: dict[str, str]
    rows: list[dict[str, str]] = field(default_factory=list)

    def render_csv(self, columns: tuple[str, ...]) -> str:
        out = io.StringIO()
        w = csv.writer(out, lineterminator="\r\n")
        w.writerow(CONTROL_COLUMNS)
        w.writerow([self.control.get(c, "") for c in CONTROL_COLUMNS])
        w.writerow(columns)
        for row in self.rows:
            w.writerow([row.get(c, "") for c in columns])
        return out.getvalue()

    def as_json(self) -> dict[str, Any]:
        return {**{c: self.control.get(c, "") for c in CONTROL_COLUMNS}, ROWS_KEY: self.rows}


def control(file_type: str, seq_no: int | None, region_code: str, *, records: int,
            total_fen: int, plan_year: int | None = None, period: tuple[str, str] | None = None
            ) -> dict[str, str]:
    return {FILE_TYPE: file_type, SEQ_NO: f"{seq_no:06d}" if seq_no else "",
            REGION: region_code, PLAN_YEAR: str(plan_year or ""),
            PERIOD_START: period[0] if period else "", PERIOD_END: period[1] if period else "",
            RECORDS: str(records), TOTAL: fen_to_yuan(total_fen)}


def parse_csv(content: str) -> ExchangeFile:
    """Control block, column names, rows; every value a stripped string."""
    if content.startswith("\ufeff"):
        content = content[1:]
    lines = list(csv.reader(io.StringIO(content)))
    lines = [ln for ln in lines if any(cell.strip() for cell in ln)]
    if len(lines) < 3:
        raise FileFormatError("文件不完整：应有控制信息两行（列名、取值）和明细列名一行")
    head, values, columns = lines[0], lines[1], [c.strip() for c in lines[2]]
    if [c.strip() for c in head] != list(CONTROL_COLUMNS):
        raise FileFormatError("第1行应为控制信息列名：" + ",".join(CONTROL_COLUMNS))
    if len(values) != len(CONTROL_COLUMNS):
        raise FileFormatError(f"第2行控制信息应有 {len(CONTROL_COLUMNS)} 项，实有 {len(values)} 项")
    if len(set(columns)) != len(columns):
        raise FileFormatError("第3行明细列名有重复")
    rows = []
    for number, line in enumerate(lines[3:], start=4):
        if len(line) != len(columns):
            raise FileFormatError(f"第{number}行有 {len(line)} 项，列名有 {len(columns)} 项")
        rows.append({c: v.strip() for c, v in zip(columns, line, strict=True)})
    return ExchangeFile({c: v.strip() for c, v in zip(CONTROL_COLUMNS, values, strict=True)},
                        rows)


def parse_json(body: dict[str, Any]) -> ExchangeFile:
    rows = body.get(ROWS_KEY)
    if not isinstance(rows, list) or not all(isinstance(r, dict) for r in rows):
        raise FileFormatError(f"“{ROWS_KEY}”应为明细行的列表")
    unknown = sorted(set(body) - set(CONTROL_COLUMNS) - {ROWS_KEY})
    if unknown:
        raise FileFormatError("不认识的控制项：" + "、".join(unknown))
    return ExchangeFile({c: _text(body.get(c)) for c in CONTROL_COLUMNS},
                        [{str(k): _text(v) for k, v in r.items()} for r in rows])


def _text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, float | bool):  # amounts travel as text in yuan, never floats
        raise FileFormatError(f"取值 {value!r} 应为文本（金额以元为单位、最多两位小数的文本）")
    return str(value).strip()


def digest(file: ExchangeFile) -> str:
    """SHA-256 of the parsed content: the same file sent as CSV or as JSON has one digest."""
    return hashlib.sha256(orjson.dumps(file.as_json(), option=orjson.OPT_SORT_KEYS)).hexdigest()
