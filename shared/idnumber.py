"""Chinese resident identity numbers (GB 11643-1999).

An 18-character number: 6-digit region code, 8-digit birth date, 3-digit sequence
(odd = male), and an ISO 7064 MOD 11-2 check character. Hong Kong, Macao and Taiwan
residence permits use the region prefixes 810000 / 820000 / 830000, and the 2023
foreigner permanent residence ID starts with 9; both share the same layout and check.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass

_WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
_CHECK_CHARS = "10X98765432"
_SHAPE = re.compile(r"^\d{17}[\dX]$")


class InvalidIdNumber(ValueError):
    """The text is not a valid 18-digit identity number; the message says why."""


@dataclass(frozen=True, slots=True)
class IdNumber:
    value: str
    birth_date: dt.date
    sex: str  # "male" | "female"
    region_code: str
    kind: str  # "resident" | "hmt_residence_permit" | "foreigner_permanent_residence"

    @property
    def masked(self) -> str:
        return mask_id_number(self.value)


def check_character(first17: str) -> str:
    total = sum(int(d) * w for d, w in zip(first17, _WEIGHTS, strict=True))
    return _CHECK_CHARS[total % 11]


def parse_id_number(text: str) -> IdNumber:
    """Validate and decode an ID number; raise InvalidIdNumber with a reason a clerk can read."""
    value = (text or "").strip().upper()
    if len(value) == 15 and value.isdigit():
        raise InvalidIdNumber(
            "15-digit first-generation ID numbers are no longer accepted; "
            "give the 18-digit number"
        )
    if not _SHAPE.match(value):
        raise InvalidIdNumber("an ID number has 17 digits followed by a digit or X")
    expected = check_character(value[:17])
    if value[17] != expected:
        raise InvalidIdNumber(f"check character is {value[17]}, expected {expected}")
    try:
        birth = dt.date(int(value[6:10]), int(value[10:12]), int(value[12:14]))
    except ValueError:
        raise InvalidIdNumber(f"birth date {value[6:14]} is not a calendar date") from None
    if birth.year < 1880:
        raise InvalidIdNumber(f"birth year {birth.year} is not plausible")
    prefix = value[:6]
    if value[0] == "9":
        kind = "foreigner_permanent_residence"
    elif prefix in ("810000", "820000", "830000"):
        kind = "hmt_residence_permit"
    elif value[0] in "1234567" and value[1] != "0":
        kind = "resident"
    else:
        raise InvalidIdNumber(f"region code {prefix} is not a valid region code")
    sex = "male" if int(value[16]) % 2 == 1 else "female"
    return IdNumber(value=value, birth_date=birth, sex=sex, region_code=prefix, kind=kind)


def is_valid_id_number(text: str) -> bool:
    try:
        parse_id_number(text)
    except InvalidIdNumber:
        return False
    return True


def mask_id_number(value: str) -> str:
    """370481199001011234 -> 370481********1234: region kept, birth date hidden."""
    if len(value) != 18:
        return "*" * len(value)
    return value[:6] + "*" * 8 + value[14:]


def mask_name(name: str) -> str:
    """张三 -> 张*, 张小三 -> 张*三, 欧阳小明 -> 欧**明: the first and last characters stay."""
    if len(name) <= 1:
        return name
    if len(name) == 2:
        return name[0] + "*"
    return name[0] + "*" * (len(name) - 2) + name[-1]


def mask_phone(phone: str) -> str:
    """13812345678 -> 138****5678."""
    if len(phone) < 7:
        return "*" * len(phone)
    return phone[:3] + "*" * (len(phone) - 7) + phone[-4:]
