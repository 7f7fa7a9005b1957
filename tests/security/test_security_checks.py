"""The suite's detectors on answers made up to fail them: that each check can fail."""

from __future__ import annotations

import io

import httpx
from openpyxl import Workbook, load_workbook

from shared.idnumber import check_character
from tests.security.checks import (
    broken_workbooks,
    candidates,
    carries_formula_text,
    error_body_problem,
    formula_problems,
    masked_ids,
    matches,
    mixed,
)

FIRST17 = "37048119850315652"
ID_NUMBER = FIRST17 + check_character(FIRST17)


def _answer(status: int, content: bytes, kind: str = "application/json") -> httpx.Response:
    return httpx.Response(status, content=content, headers={"content-type": kind})


def test_the_issue_mask_with_the_birth_date_leaves_one_number() -> None:
    mask = ID_NUMBER[:6] + "*" * 8 + ID_NUMBER[14:]
    assert masked_ids(f'{{"id_number_masked": "{mask}"}}') == [mask]
    assert matches(mask, ID_NUMBER)
    assert candidates(mask, ID_NUMBER, birth_known=True, sex_known=False) == 1
    assert candidates(mask, ID_NUMBER, birth_known=False, sex_known=False) >= 10


def test_a_mask_keeping_few_digits_leaves_enough_numbers() -> None:
    mask = ID_NUMBER[:4] + "*" * 13 + ID_NUMBER[17]
    assert candidates(mask, ID_NUMBER, birth_known=True, sex_known=True) >= 10
    two = ID_NUMBER[:4] + "*" * 12 + ID_NUMBER[16:]
    # two digits hidden after the birth date, the check character shown: about 100 / 11
    assert candidates(two, ID_NUMBER, birth_known=True, sex_known=False) < 10


def test_formula_cells_are_found_in_csv_and_xlsx() -> None:
    assert formula_problems(_answer(200, '姓名\n"=HYPERLINK(""x"")"\n'.encode(), "text/csv"))
    assert formula_problems(_answer(200, "金额\n-100\n'=x\n".encode(), "text/csv")) == []
    book = Workbook()
    book.active.append(["=SUM(A1)", "'+1", -5])
    out = io.BytesIO()
    book.save(out)
    found = formula_problems(_answer(200, out.getvalue(), "application/vnd.ms-excel"))
    assert len(found) == 1 and "A1" in found[0]
    # a 合计 row's own column sum is no attack; anything more, or another column's, is
    totals = Workbook()
    totals.active.append(["序号", "金额"])
    totals.active.append([1, 5])
    totals.active.append(["合计", "=SUM(B2:B2)", "=SUM(B2:B2)", "=SUM(D2:D2)+1"])
    out = io.BytesIO()
    totals.save(out)
    found = formula_problems(_answer(200, out.getvalue(), "application/vnd.ms-excel"))
    assert [f.split(":")[0] for f in found] == ["formula cell C3", "formula cell D3"]
    assert carries_formula_text(_answer(200, b"'=*********)\n", "text/csv"),
                                ('=HYPERLINK("http://x")',))


def test_error_answers_need_the_error_body() -> None:
    assert error_body_problem(_answer(500, b'{"error": {"code": "x", "message": "y"}}'))
    assert error_body_problem(_answer(422, b'{"detail": []}'))
    assert error_body_problem(_answer(400, b"Bad Request", "text/plain"))
    assert error_body_problem(_answer(404, b'{"error": {"code": "x", "message": "y"}}')) is None
    assert error_body_problem(_answer(200, b"anything")) is None


def test_broken_workbooks_do_not_open() -> None:
    """(openpyxl opens a workbook whose sheet part is missing: that one is not checked here.)"""
    for what, content in broken_workbooks([["姓名", "身份证号"], ["张三", ID_NUMBER]]).items():
        if what == "no sheet":
            continue
        try:
            load_workbook(io.BytesIO(content))
        except Exception:  # noqa: BLE001, S112 - any failure to open is what we want
            continue
        raise AssertionError(f"{what} opens")


def test_lookalike_digits_are_not_ascii() -> None:
    assert mixed(ID_NUMBER) != ID_NUMBER and len(mixed(ID_NUMBER)) == 18
