"""The language a person reads: Chinese (zh-CN) unless the request asks for English.

`Accept-Language: en` (or en-US, en;q=0.9 ranked above zh, ...) selects English; anything
else, including no header, gets Chinese. Codes for programs never change with the language:
only the text for people does.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Final, Literal

ZH: Final = "zh-CN"
EN: Final = "en"
Lang = Literal["zh-CN", "en"]


def negotiate(header: str | None) -> Lang:
    """zh-CN or en from an Accept-Language header (RFC 9110 weights; ties keep the order)."""
    best: tuple[float, int, Lang] | None = None
    for position, part in enumerate((header or "").split(",")):
        tag, _, params = part.strip().partition(";")
        tag = tag.strip().lower()
        quality = 1.0
        for param in params.split(";"):
            name, _, value = param.strip().partition("=")
            if name.strip() == "q":
                try:
                    quality = float(value)
                except ValueError:
                    quality = 0.0
        if quality <= 0:
            continue
        lang: Lang | None = EN if tag == "en" or tag.startswith("en-") else \
            ZH if tag == "zh" or tag.startswith("zh-") or tag == "*" else None
        if lang is None:
            continue
        key = (-quality, position, lang)
        if best is None or key < best:
            best = key
    return best[2] if best else ZH


def request_language(request: Any) -> Lang:
    """The language of a Starlette/FastAPI request (by its Accept-Language header)."""
    return negotiate(request.headers.get("accept-language"))


@dataclass(frozen=True, slots=True)
class Text:
    """One text in both languages (Chinese first)."""

    zh: str
    en: str

    def __call__(self, lang: str) -> str:
        return self.en if lang == EN else self.zh

    def __str__(self) -> str:
        return self.zh


class TextError(ValueError):
    """A validator's refusal in both languages (str() is the Chinese): the error handler
    shows the reader's language."""

    def __init__(self, zh: str, en: str) -> None:
        super().__init__(zh)
        self.text = Text(zh, en)


def pick(lang: str, zh: str, en: str) -> str:
    return en if lang == EN else zh
