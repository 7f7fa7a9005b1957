"""Free text that other people will read: names, household numbers, notes, reasons.

Text-direction overrides and isolates (U+202A-U+202E, U+2066-U+2069, ...) make a name or a
note display reversed or reordered (张三 shown as another name, an amount read backwards),
and control characters hide text from the screen while it stays in the data. Such text is
refused at the edge with 422 and the field: `PlainText` for API bodies, `has_unsafe_characters`
for uploaded cells.
"""

from __future__ import annotations

from typing import Annotated

from pydantic import AfterValidator

UNSAFE_CHARACTERS = frozenset(
    [chr(c) for c in (0x061C, 0x200E, 0x200F, 0x2028, 0x2029, *range(0x202A, 0x202F),
                      *range(0x2066, 0x206A))]
    + [chr(c) for c in (*range(0x00, 0x20), 0x7F, *range(0x80, 0xA0)) if chr(c) not in "\t\n\r"]
)
UNSAFE_MESSAGE = "含有文字方向控制字符或不可见的控制字符（如 U+202E），请删除后重新填写"


def has_unsafe_characters(text: str) -> bool:
    """True when `text` holds a text-direction control or a control character."""
    return not UNSAFE_CHARACTERS.isdisjoint(text)


def _plain(value: str) -> str:
    if has_unsafe_characters(value):
        raise ValueError(UNSAFE_MESSAGE)
    return value


PlainText = Annotated[str, AfterValidator(_plain)]
