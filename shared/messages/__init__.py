"""Texts for people, by stable key, in Chinese (zh-CN, the default) and English.

`errors.ERRORS` holds the error messages keyed by the error code (or by a finer message key a
raise site names); `render` picks the first template of a key whose placeholders the error's
parameters and details all fill, so a raise site that gives more gets the more precise text.
"""

from __future__ import annotations

import string
from collections.abc import Mapping
from typing import Any

from shared.i18n import EN, Text

from .errors import ERRORS

_FORMATTER = string.Formatter()


def _fields(template: str) -> set[str]:
    return {name for _, name, _, _ in _FORMATTER.parse(template) if name}


def _value(value: Any, lang: str) -> str:
    if isinstance(value, Text):
        return value(lang)
    if isinstance(value, list | tuple):
        return "、".join(_value(v, lang) for v in value) if lang != EN else \
            ", ".join(_value(v, lang) for v in value)
    return str(value)


def render(key: str, lang: str, params: Mapping[str, Any] | None = None) -> str | None:
    """The text of `key` in `lang` with `params`, or None when the catalog has no template of
    the key whose placeholders `params` fill."""
    values = {k: v for k, v in (params or {}).items() if v is not None}
    for zh, en in ERRORS.get(key, ()):
        template = en if lang == EN else zh
        if _fields(template) <= values.keys():
            return template.format(**{k: _value(values[k], lang)
                                      for k in _fields(template)})
    return None


def known_keys() -> frozenset[str]:
    return frozenset(ERRORS)
