"""#14: the office documents as a person opens and prints them. Each XLSX is opened with
openpyxl (types, 合计 formulas, widths, print setup), converted with LibreOffice (headless) to
PDF, and every printed page is checked for the title and header rows; the pages are rendered
to PNG under .artifacts/office/ for a person to look at. CSVs: one table, one header row."""

from __future__ import annotations

import csv
import datetime as dt
import io
import shutil
import subprocess
from decimal import Decimal
from pathlib import Path
from urllib.parse import unquote

import pytest
from openpyxl import load_workbook

from services.reporting.exports import Table, file_response, to_csv, to_xlsx
from services.reporting.lists.service import funding_tables, publicity_table, reminder_table
from services.reporting.progress.router import progress_table

ARTIFACTS = Path(__file__).resolve().parents[3] / ".artifacts" / "office"
ROWS = 130  # enough for three A4 pages


def _publicity() -> Table:
    rows = [{"no": i, "name": "张*三", "id_number": f"370481********{i:04d}",
             "village_name": "北辛村", "amount_fen": 40000, "amount_yuan": "400.00",
             "paid_on": f"2024-11-{i % 28 + 1:02d}", "payer_name": "个人缴费"}
            for i in range(1, ROWS + 1)]
    return publicity_table({"plan_year": 2025, "region_name": "滕州市北辛街道北辛村",
                            "publicity_from": "2025-01-01", "publicity_until": "2025-01-07",
                            "village_code": "370481001001", "rows": rows})


def _funding() -> list[Table]:
    def person(i: int, title: str) -> dict[str, object]:
        return {"no": 500 + i, "township_name": "北辛街道", "village_name": "北辛村",
                "name": "李*", "id_number": f"370481********{i:04d}",
                "rule_name": "困难群众分类资助", "budget_line_name": "医疗救助资金",
                "amount_yuan": "400.00", "list": title, "paid_on": None}
    persons = [person(i, "政府资助人员名单") for i in range(3)] + \
        [person(i, "政府代缴人员名单") for i in range(3, 5)]
    return funding_tables({
        "region_name": "滕州市", "plan_year": 2025, "as_of": "2025-01-10",
        "summary": [{"budget_line_name": "医疗救助资金", "township_name": "北辛街道",
                     "rule_name": "困难群众分类资助", "headcount": 3, "amount_yuan": "1200.00",
                     "paid_headcount": 1}],
        "persons": persons, "missed_payments": None})


def test_xlsx_holds_numbers_dates_totals_and_a4_print_setup() -> None:
    book = load_workbook(io.BytesIO(to_xlsx([_publicity()])))
    ws = book.active
    headers = [c.value for c in ws[3]]
    assert headers == ["序号", "姓名", "身份证号码", "缴费金额（元）", "缴费日期", "缴费方式"]
    amount, day = ws.cell(4, 4), ws.cell(4, 5)
    assert amount.value == 400 and isinstance(amount.value, int | float | Decimal)
    assert amount.number_format == "#,##0.00"
    assert isinstance(day.value, dt.datetime) and day.value.date() == dt.date(2024, 11, 2)
    assert day.number_format == "yyyy-mm-dd"
    total = ws.cell(4 + ROWS, 4)
    assert ws.cell(4 + ROWS, 1).value == "合计"
    assert total.value == f"=SUM(D4:D{3 + ROWS})"
    assert ws.cell(4 + ROWS, 1).font.bold
    # an 18-character ID number fits its column
    assert ws.column_dimensions["C"].width >= 20
    assert int(ws.page_setup.paperSize) == 9  # A4
    assert ws.page_setup.fitToWidth == 1 and ws.page_setup.fitToHeight == 0
    assert ws.sheet_properties.pageSetUpPr.fitToPage
    assert ws.print_title_rows == "$1:$3"
    assert "&P" in ws.oddFooter.center.text and "&N" in ws.oddFooter.center.text


def test_every_document_prints_the_same_way() -> None:
    """Publicity, reminders, funding and progress: each sheet A4, fit to width, titles on
    every page, a 合计 row under the amounts and head counts."""
    reminder = reminder_table({"plan_year": 2025, "region_name": "北辛村", "count": 1,
                               "as_of": "2025-01-05", "contacts": "in full", "rows": [{
                                   "no": 1, "village_name": "北辛村", "name": "王五",
                                   "household_no": "370481001001023",
                                   "address": "北辛街道北辛村二组5号",
                                   "id_number": "370481********0001",
                                   "situation_name": "已登记、未缴费",
                                   "owed_yuan": "400.00", "phone": "13800000000"}]})
    progress = progress_table({"region_name": "滕州市", "plan_year": 2025, "as_of": "2025-01-05",
                               "level": "township", "rows": [
                                   {"rank": 1, "name": "北辛街道", "code": "370481001000",
                                    "target": 100, "registered": 90, "paid": 80,
                                    "paid_person": 70, "paid_government": 10, "rate": "80.00",
                                    "change_since_yesterday": 3},
                                   {"rank": 2, "name": "荆河街道", "code": "370481002000",
                                    "target": 50, "registered": 40, "paid": 20,
                                    "paid_person": 20, "paid_government": 0, "rate": "40.00",
                                    "change_since_yesterday": 1}]})
    tables = [reminder, progress, *_funding()]
    book = load_workbook(io.BytesIO(to_xlsx(tables)))
    assert len(book.worksheets) == len(tables) == 5
    for ws in book.worksheets:
        assert ws.print_title_rows == "$1:$3" and int(ws.page_setup.paperSize) == 9  # A4
        last = [c.value for c in ws[ws.max_row]]
        assert "合计" in last, (ws.title, last)
    progress_ws = book.worksheets[1]
    total = {progress_ws.cell(3, c).value: progress_ws.cell(progress_ws.max_row, c).value
             for c in range(1, progress_ws.max_column + 1)}
    assert total["任务数"] == "=SUM(D4:D5)" and total["排名"] == "合计"  # a rank is no sum
    assert total["完成率（%）"] is None  # rates are never added up
    assert progress_ws.cell(4, 9).value == Decimal("80.00") or progress_ws.cell(4, 9).value == 80
    # the name lists number their rows from 1, each on its own sheet
    lists = [ws for ws in book.worksheets if ws.title.endswith("人员名单")]
    assert [ws.cell(4, 1).value for ws in lists] == [1, 1]
    assert "人员编号" not in [c.value for c in book.worksheets[0][3]]  # no internal ids


def test_csv_is_one_table_with_one_header_row() -> None:
    body = to_csv(_funding())
    assert body.startswith(b"\xef\xbb\xbf")
    rows = list(csv.reader(io.StringIO(body.decode("utf-8-sig"))))
    assert rows[0][:3] == ["资金渠道", "镇（街道）", "资助类别"]
    assert len(rows) == 2 and rows[1][5] == "1"  # the summary only: one header, one row
    persons = funding_tables({"region_name": "滕州市", "plan_year": 2025, "as_of": "x",
                              "summary": [], "persons": [{"list": "政府资助人员名单",
                                                          "amount_yuan": "400.00"}],
                              "missed_payments": None}, csv=True)
    assert len(persons) == 1 and persons[0].columns[0] == ("list", "名单")


def test_download_has_a_chinese_file_name() -> None:
    answer = file_response([_publicity()], "xlsx")
    disposition = answer.headers["content-disposition"]
    name = unquote(disposition.split("filename*=UTF-8''", 1)[1])
    assert name == "2025年度城乡居民基本医疗保险参保缴费公示表.xlsx"


def _page_text(pdf: Path, page: int) -> str:
    return subprocess.run(
        ["gs", "-q", "-dNOPAUSE", "-dBATCH", "-sDEVICE=txtwrite", f"-dFirstPage={page}",
         f"-dLastPage={page}", "-o", "-", str(pdf)],
        check=True, capture_output=True, text=True, timeout=60).stdout


def _page_count(pdf: Path) -> int:
    out = subprocess.run(
        ["gs", "-q", "-dNODISPLAY", "-dNOSAFER", "-c",
         f"({pdf}) (r) file runpdfbegin pdfpagecount = quit"],
        check=True, capture_output=True, text=True, timeout=60).stdout
    return int(out.strip().splitlines()[-1])


@pytest.mark.skipif(shutil.which("soffice") is None or shutil.which("gs") is None,
                    reason="LibreOffice (libreoffice-calc) and Ghostscript are needed to print "
                           "the workbook; .ci/run installs them")
def test_printed_pages_each_carry_the_title_rows(tmp_path: Path) -> None:
    table = _publicity()
    source = tmp_path / "参保缴费公示表.xlsx"
    source.write_bytes(to_xlsx([table]))
    profile = tmp_path / "profile"
    subprocess.run(["soffice", f"-env:UserInstallation=file://{profile}", "--headless",
                    "--convert-to", "pdf", "--outdir", str(tmp_path), str(source)],
                   check=True, capture_output=True, timeout=180)
    pdf = source.with_suffix(".pdf")
    pages = _page_count(pdf)
    assert pages >= 2, "the test needs a list longer than one page"
    for page in range(1, pages + 1):
        text = _page_text(pdf, page)
        assert table.title in text, page
        assert "身份证号码" in text and "缴费金额（元）" in text, page
        assert f"第 {page} 页，共 {pages} 页" in text, page
    last = _page_text(pdf, pages)
    assert "合计" in last and f"{400 * ROWS:,}.00" in last
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    shutil.copy(pdf, ARTIFACTS / pdf.name)
    subprocess.run(["gs", "-q", "-dNOPAUSE", "-dBATCH", "-sDEVICE=png16m", "-r60", "-o",
                    str(ARTIFACTS / "参保缴费公示表-%d.png"), str(pdf)],
                   check=True, capture_output=True, timeout=120)
    assert (ARTIFACTS / f"参保缴费公示表-{pages}.png").stat().st_size > 1000


def test_fund_summary_workbook_adds_up_in_yuan() -> None:
    from services.reporting.funds.router import fund_table

    row = {"county_name": "滕州市", "registered": 10, "insured": 9, "personal_payers": 8,
           "government_paid_for": 1, "personal_contributions_fen": 320000,
           "government_proxy_payments_fen": 40000, "contributions_collected_fen": 360000,
           "fiscal_subsidy_per_capita_fen": 67000, "fiscal_subsidy_fen": 603000,
           "fund_total_fen": 963000, "fund_total_yuan": "9630.00"}
    data = {"region_name": "滕州市", "plan_year": 2025, "note": "", "rows": [row, row]}
    ws = load_workbook(io.BytesIO(to_xlsx([fund_table(data)]))).active
    headers = {ws.cell(3, c).value: c for c in range(1, ws.max_column + 1)}
    personal = ws.cell(4, headers["个人缴费（元）"])
    assert personal.value == 3200 and personal.number_format == "#,##0.00"
    total = ws.cell(6, headers["基金合计（元）"]).value
    assert total.startswith("=SUM(") and ws.cell(6, 1).value == "合计"
    assert ws.cell(6, headers["人均财政补助（元）"]).value is None  # a rate per head: no sum
