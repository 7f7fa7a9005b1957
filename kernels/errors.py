"""Domain errors: a stable code for programs, a message for people, an HTTP status for the edge.

Pure (no web framework, no driver): kernels raise them, and shared/errors.py, which re-exports
them, turns them into JSON answers."""

from __future__ import annotations

from typing import Any

from shared.messages import render


class DomainError(Exception):
    status_code = 400
    code = "bad_request"

    def __init__(self, message: str, *, code: str | None = None, status_code: int | None = None,
                 details: dict[str, Any] | None = None, params: dict[str, Any] | None = None,
                 key: str | None = None) -> None:
        """`message` is for logs and the fallback; a person reads the catalog's text for `key`
        (default: the code) in their language (shared/messages), filled from `params` and
        `details`."""
        super().__init__(message)
        self.message = message
        if code:
            self.code = code
        if status_code:
            self.status_code = status_code
        self.details = details or {}
        self.params = params or {}
        self.key = key

    def text(self, lang: str) -> str:
        """The message for a person reading `lang` (zh-CN unless en). A catalog template may
        quote the raise site's own text as `{raised}` (where the raise site writes the Chinese
        a person reads, with the particulars, and the catalog gives the English)."""
        params = {"raised": self.message, **self.details, **self.params}
        for key in (self.key, self.code):
            if key:
                rendered = render(key, lang, params)
                if rendered is not None:
                    return rendered
        return self.message


class NotFound(DomainError):
    status_code = 404
    code = "not_found"


class Conflict(DomainError):
    status_code = 409
    code = "conflict"


class Invalid(DomainError):
    """Input that parsed but makes no sense for the domain; `field` names what is wrong."""

    status_code = 422
    code = "invalid"

    def __init__(self, message: str, *, field: str | None = None, code: str | None = None,
                 params: dict[str, Any] | None = None, key: str | None = None) -> None:
        super().__init__(message, code=code, details={"field": field} if field else None,
                         params=params, key=key)


class Forbidden(DomainError):
    status_code = 403
    code = "forbidden"
