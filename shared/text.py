"""Free text that other people will read: names, household numbers, notes, reasons.

Text-direction overrides and isolates (U+202A-U+202E, U+2066-U+2069, ...) make a name or a
note display reversed or reordered (张三 shown as another name, an amount read backwards),
and control and invisible format characters (Unicode categories Cc and Cf: U+0000-U+001F,
zero-width spaces and joiners, U+FEFF, tag characters, ...) hide text from the screen while it
stays in the data, so that two names that look the same are not. Such text is refused at the
edge with 422 and the field: `PlainText` for API bodies (tab and line breaks allowed: notes),
`PersonName` for names (no line breaks either), `has_unsafe_characters` for uploaded cells.
Private-use characters (Co) stay allowed: registers write rare characters of names (生僻字)
with them.
"""

from __future__ import annotations

import unicodedata
from typing import Annotated

from pydantic import AfterValidator


def _unsafe() -> frozenset[str]:
    # Cc, Cf and lone surrogates (Cs), plus the line and paragraph separators. The CJK blocks,
    # the supplementary ideographic planes and the private-use planes hold none of them.
    ranges = ((0, 0x3400), (0xA000, 0x10000), (0x10000, 0x20000), (0xE0000, 0xE1000))
    found = {chr(c) for lo, hi in ranges for c in range(lo, hi)
             if unicodedata.category(chr(c)) in ("Cc", "Cf", "Cs")}
    return frozenset(found | {"\u2028", "\u2029"})


UNSAFE_IN_NAMES = _unsafe()
UNSAFE_CHARACTERS = UNSAFE_IN_NAMES - {"\t", "\n", "\r"}
UNSAFE_MESSAGE = ("含有文字方向控制字符或不可见的控制、格式字符（如 U+202E、U+200B），"
                  "请删除后重新填写")
NAME_MESSAGE = ("姓名不能含换行、制表符、文字方向控制字符或不可见的控制、格式字符"
                "（如 U+202E、U+200B）")


def has_unsafe_characters(text: str) -> bool:
    """True when `text` holds a text-direction control, a control character other than tab and
    line breaks, or an invisible format character (Unicode Cc/Cf)."""
    return not UNSAFE_CHARACTERS.isdisjoint(text)


def _plain(value: str) -> str:
    if has_unsafe_characters(value):
        raise ValueError(UNSAFE_MESSAGE)
    return value


def _name(value: str) -> str:
    if not UNSAFE_IN_NAMES.isdisjoint(value):
        raise ValueError(NAME_MESSAGE)
    return value


PlainText = Annotated[str, AfterValidator(_plain)]
PersonName = Annotated[str, AfterValidator(_name)]
"""A person's name: PlainText without tabs or line breaks either."""
