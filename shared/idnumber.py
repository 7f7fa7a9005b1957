"""Chinese resident identity numbers (GB 11643-1999).

An 18-character number: 6-digit region code, 8-digit birth date, 3-digit sequence
(odd = male), and an ISO 7064 MOD 11-2 check character. Hong Kong, Macao and Taiwan
residence permits use the region prefixes 810000 / 820000 / 830000, and the 2023
foreigner permanent residence ID starts with 9; both share the same layout and check.
"""

from __future__ import annotations

import datetime as dt
import re
import unicodedata
from dataclasses import dataclass
from operator import mul
from typing import Annotated

from pydantic import AfterValidator

from shared.i18n import Text

_WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
_CHECK_CHARS = "10X98765432"
_SHAPE = re.compile(r"^[0-9]{17}[0-9X]$", re.ASCII)
_ALLOWED = frozenset("0123456789X")


class InvalidIdNumber(ValueError):
    """The text is not a valid 18-digit identity number; the message says why (in Chinese;
    `text` has it in English too)."""

    def __init__(self, zh: str, en: str | None = None) -> None:
        super().__init__(zh)
        self.text = Text(zh, en or zh)


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


_ZERO = ord("0") * sum(_WEIGHTS)  # what the weights make of seventeen '0' characters


def check_character(first17: str) -> str:
    """The check character (GB 11643, ISO 7064 MOD 11-2) of 17 ASCII digits; ValueError for
    anything else. Weighs the digits' character codes and takes off what '0' adds (three times
    faster than converting each digit: it runs for every row of a resident import)."""
    if len(first17) != 17 or not first17.isascii() or not first17.isdigit():
        raise ValueError(f"not 17 ASCII digits: {first17!r}")
    return _CHECK_CHARS[(sum(map(mul, first17.encode(), _WEIGHTS)) - _ZERO) % 11]


def normalize_id_text(text: str) -> str:
    """The form every ID number is validated, hashed and stored in: NFKC (full-width digits
    become ASCII), no white space, upper-case X. Digits of other scripts (Devanagari, Arabic-
    Indic, ...) are not folded: they stay, and `normalize_id_number` refuses them, so that one
    person can never be registered twice under look-alike numbers."""
    return "".join(unicodedata.normalize("NFKC", text or "").split()).replace("x", "X")


def normalize_id_number(text: str) -> str:
    """`normalize_id_text`, then refuse anything but the ASCII digits 0-9 and X: every path
    that accepts an ID number (API bodies, uploads, lookups, the bill lookup) goes through here
    (via `parse_id_number`) before validating or hashing it."""
    value = normalize_id_text(text)
    bad = [c for c in value if c not in _ALLOWED]
    if bad:
        shown = "、".join(f"U+{ord(c):04X}" for c in dict.fromkeys(bad))
        raise InvalidIdNumber(f"身份证号只能包含半角数字0-9和X，不能含其他字符（{shown}）",
                              f"an ID number holds only the digits 0-9 and X ({shown})")
    return value


def parse_id_number(text: str) -> IdNumber:
    """Validate and decode an ID number; raise InvalidIdNumber with a reason a clerk can read."""
    value = normalize_id_number(text)
    if len(value) == 15 and value.isdigit():
        raise InvalidIdNumber("15位旧身份证号不再受理，请填写18位身份证号",
                              "15-digit ID numbers are no longer accepted; give the 18-digit one")
    if not _SHAPE.match(value):
        if len(value) != 18:
            raise InvalidIdNumber(f"身份证号应为18位，实际 {len(value)} 位",
                                  f"an ID number has 18 characters, not {len(value)}")
        raise InvalidIdNumber("身份证号应为17位数字（0-9）加1位数字或X，不能含其他字符",
                              "an ID number is 17 digits and a digit or X")
    expected = check_character(value[:17])
    if value[17] != expected:
        raise InvalidIdNumber(f"身份证号校验码错误：最后一位是 {value[17]}，"
                              f"按前17位应为 {expected}",
                              f"wrong check character: {value[17]}, expected {expected}")
    try:
        birth = dt.date(int(value[6:10]), int(value[10:12]), int(value[12:14]))
    except ValueError:
        raise InvalidIdNumber(f"身份证号中的出生日期 {value[6:14]} 不是有效日期",
                              f"the birth date {value[6:14]} in the ID number is not a date"
                              ) from None
    if birth.year < 1880:
        raise InvalidIdNumber(f"身份证号中的出生年份 {birth.year} 不合理",
                              f"the birth year {birth.year} in the ID number is implausible")
    prefix = value[:6]
    if value[0] == "9":
        kind = "foreigner_permanent_residence"
    elif prefix in ("810000", "820000", "830000"):
        kind = "hmt_residence_permit"
    elif value[0] in "1234567" and value[1] != "0":
        kind = "resident"
    else:
        raise InvalidIdNumber(f"身份证号前6位 {prefix} 不是有效的行政区划代码",
                              f"the first six digits {prefix} are not a region code")
    sex = "male" if int(value[16]) % 2 == 1 else "female"
    return IdNumber(value=value, birth_date=birth, sex=sex, region_code=prefix, kind=kind)


def is_valid_id_number(text: str) -> bool:
    try:
        parse_id_number(text)
    except InvalidIdNumber:
        return False
    return True


def mask_id_number(value: str) -> str:
    """370481199001011234 -> 370481***********4: the region and the check character only.

    The one mask of every output (persons, households, lists, uploads' error reports, bills,
    reporting's lists, events; `MaskedIdNumber` applies it to every `id_number_masked` field),
    so that two answers never show different digits of the same number. It is idempotent:
    masks stored or sent before are masked again on the way out.

    What is left to guess: the 8 birth-date digits and the 3 sequence digits (the 17th gives
    the sex). A reader who knows the region (they work there), the name (it does not enter the
    number), the birth date and the sex has the 500 sequences of that sex, of which 45 or 46
    end in the shown check character (ISO 7064 MOD 11-2 spreads them evenly over its 11
    values), so the number stays one of at least 45; without the sex, 90 or 91. Without the
    birth date (reads leave it out for callers who may not read the full number, giving only
    the birth year) it is one of about 365 x 45 = 16,000. The old mask 370481********6526 hid
    only the birth date, which every read also showed: it left exactly one.

    Other lengths (a mistyped number in an upload's error report): the first 6 characters of
    a 15- to 17-character value, nothing of a shorter one.
    """
    text = (value or "").strip()
    if len(text) == 18:
        return text[:6] + "*" * 11 + text[17]
    if 15 <= len(text) < 18:
        return text[:6] + "*" * (len(text) - 6)
    return "*" * len(text)


MaskedIdNumber = Annotated[str, AfterValidator(mask_id_number)]
"""An output field holding a masked ID number: masked (again) by `mask_id_number`."""


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
