"""ID numbers, names and phone numbers in uploaded rows."""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable

from shared.idnumber import IdNumber, InvalidIdNumber, normalize_id_text, parse_id_number

NameLookup = Callable[[str], str | None]
_PHONE = re.compile(r"^1[3-9]\d{9}$")
_NAME_DOTS = str.maketrans({"•": "·", "．": "·", "・": "·", "▪": "·", ".": "·"})


def normalise_id_text(text: str) -> str:
    """Full-width digits, spaces, a lower-case x (shared.idnumber) and Excel's leading
    apostrophe fixed."""
    return normalize_id_text(text).lstrip("'")


def check_id(text: str) -> tuple[IdNumber | None, str]:
    """(IdNumber, '') when valid, else (None, a message in Chinese for the clerk)."""
    value = normalise_id_text(text)
    if not value:
        return None, "身份证号为空"
    try:
        return parse_id_number(value), ""
    except InvalidIdNumber as exc:
        return None, str(exc)


def normalise_name(name: str) -> str:
    value = unicodedata.normalize("NFKC", name or "")
    return "".join(value.split()).translate(_NAME_DOTS)


def names_match(given: str, registered: str) -> bool:
    return normalise_name(given) == normalise_name(registered)


def check_phone(text: str) -> str | None:
    """The 11-digit mobile number, or None if ``text`` is not one."""
    value = re.sub(r"[\s-]", "", unicodedata.normalize("NFKC", text or ""))
    value = value.removeprefix("+86").removeprefix("86") if len(value) > 11 else value
    return value if _PHONE.match(value) else None
