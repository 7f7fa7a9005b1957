"""Which department certifies which group per region, and the downloaded list read back by the
upload parser."""

from __future__ import annotations

import datetime as dt

import pytest
from registration_helpers import LI, ZHANG, ZHAO

from kernels.codes import GROUP_CODES
from services.registration.lists.download import (
    CertifiedEntry,
    write_list_csv,
    write_list_xlsx,
)
from services.registration.uploads import parse_certified_list
from services.registration.uploads.certifiers import certifiable_in


def test_yutai_moves_low_income_margin_to_rural_revitalization() -> None:
    for region in ("370827", "370827001000", "370827001201"):
        assert "low_income_margin" in certifiable_in(region, "rural_revitalization")
        assert "low_income_margin" not in certifiable_in(region, "civil_affairs")
    for region in ("370481", "140600", "000000", None):
        assert "low_income_margin" in certifiable_in(region, "civil_affairs")
        assert "low_income_margin" not in certifiable_in(region, "rural_revitalization")


def test_one_department_per_group_in_every_mapped_region() -> None:
    departments = ("civil_affairs", "rural_revitalization", "disabled_persons_federation",
                   "veterans_affairs", "health_commission", "education")
    for region in ("370827", "370481"):
        for group in GROUP_CODES:
            holders = [d for d in departments if group in certifiable_in(region, d)]
            assert len(holders) == 1, (region, group, holders)


@pytest.mark.parametrize("writer", [write_list_csv, write_list_xlsx])
def test_downloaded_list_parses_back_to_the_same_rows(writer, name_of) -> None:  # noqa: ANN001
    entries = [
        CertifiedEntry(ZHANG, "张三", "severe_disability", dt.date(2024, 3, 1), None, None, 2),
        CertifiedEntry(LI, "李四", "family_planning_household", dt.date(2015, 5, 1), None,
                       dt.date(2017, 1, 2)),
        CertifiedEntry(ZHAO, "赵六", "minimum_living_allowance", None, dt.date(2025, 6, 30),
                       None),
    ]
    for department, entry in (("disabled_persons_federation", entries[0]),
                              ("health_commission", entries[1]),
                              ("civil_affairs", entries[2])):
        content = writer([entry])
        parsed = parse_certified_list(content, department=department, name_of=name_of,
                                      filename="back.xlsx" if writer is write_list_xlsx
                                      else "back.csv")
        assert parsed.errors == []
        (row,) = parsed.rows
        assert (row.id_number, row.name, row.group_code, row.certified_on, row.ends_on,
                row.later_birth_on, row.disability_grade) == (
            entry.id_number, entry.name, entry.group_code, entry.certified_on, entry.ends_on,
            entry.later_birth_on, entry.disability_grade)
