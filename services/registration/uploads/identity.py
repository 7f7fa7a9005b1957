"""ID numbers, names and phone numbers in uploaded rows."""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable

from shared.idnumber import IdNumber, InvalidIdNumber, parse_id_number

NameLookup = Callable[[str], str | None]
_PHONE = re.compile(r"^1[3-9]\d{9}$")
_NAME_DOTS = str.maketrans({"•": "·", "．": "·", "・": "·", "▪": "·", ".": "·"})


def normalise_id_text(text: str) -> str:
    """Full-width digits, spaces, a lower-case x and Excel's leading apostrophe fixed."""
    value = unicodedata.normalize("NFKC", text or "")
    return "".join(value.split()).lstrip("'").upper()


def check_id(text: str) -> tuple[IdNumber | None, str]:
    """(IdNumber, '') when valid, else (None, a message in Chinese for the clerk)."""
    value = normalise_id_text(text)
    if not value:
        return None, "身份证号为空"
    try:
        return parse_id_number(value), ""
    except InvalidIdNumber as exc:
        reason = str(exc)
        if len(value) == 15 and value.isdigit():
            return None, "15位旧身份证号不再受理，请填写18位身份证号"
        if reason.startswith("check character"):
            return None, f"身份证号校验码错误（{reason}）"
        if reason.startswith("birth"):
            return None, f"身份证号中的出生日期无效（{reason}）"
        if len(value) != 18:
            return None, f"身份证号应为18位，实际 {len(value)} 位"
        return None, f"身份证号格式错误（{reason}）"


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
