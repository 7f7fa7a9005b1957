"""Domain errors carry a stable code and an HTTP status; one handler turns them into JSON.

A value that reached the database but cannot be stored or compared there (an integer outside
the column's range, a NUL character in text, an overlong value, a date Postgres cannot hold:
SQLSTATE class 22, or asyncpg refusing to encode the argument) is the client's mistake that
the edge did not catch: it answers 422 `invalid_value`, never 500, and never echoes the value
(it may be personal data).

A transaction PostgreSQL rolled back to resolve a concurrency conflict (SQLSTATE 40P01 deadlock,
40001 serialization failure: two requests, or a request and an event consumer, locking the same
rows in different orders) changed nothing: it answers 503 `busy_retry` with `Retry-After`, so
that the caller repeats it, instead of a 500 that reads as a fault."""

from __future__ import annotations

import logging
import traceback
from collections.abc import Mapping
from typing import Any

import asyncpg.exceptions
import asyncpg.exceptions._base as asyncpg_base
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy.exc import DBAPIError
from starlette.exceptions import HTTPException as StarletteHTTPException

from kernels.errors import Conflict, DomainError, Forbidden, Invalid, NotFound
from shared.i18n import EN, Text, request_language
from shared.messages import render

__all__ = ["Conflict", "DomainError", "ErrorBody", "ErrorDetail", "FieldError", "Forbidden",
           "Invalid", "NotFound", "database_conflict", "database_data_error", "database_unreachable",
           "error_body", "install_error_handlers"]

log = logging.getLogger(__name__)


def error_body(code: str, message: str, **details: Any) -> dict[str, Any]:
    """What every error answer carries (its schema: ErrorBody)."""
    return {"error": {"code": code, "message": message, **details}}


class FieldError(BaseModel):
    field: str = Field(description="the request field, dotted (body fields without `body.`)")
    message: str


class ErrorDetail(BaseModel):
    """One error: a stable `code` for programs, a `message` for people, and details that
    depend on the code (`field`, `fields`, `error_report_id`, `rows`, ...)."""

    model_config = ConfigDict(extra="allow")

    code: str = Field(description="stable, machine-readable: person_not_found, "
                      "forbidden_region, invalid_request, ...")
    message: str = Field(description="for people; never contains personal data")
    field: str | None = Field(None, description="the field at fault, when there is one")
    fields: list[FieldError] | None = Field(
        None, description="invalid_request: every field that failed validation")


class ErrorBody(BaseModel):
    """The body of every error answer of our APIs (`error_body`); each service's OpenAPI
    document publishes it for its 4xx answers (shared/openapi.py)."""

    model_config = ConfigDict(extra="forbid")

    error: ErrorDetail


_DATA_ERRORS: tuple[type[Exception], ...] = (asyncpg.exceptions.DataError,
                                             asyncpg_base.DataError)


_CONFLICT_SQLSTATES = frozenset({"40001", "40P01"})


def _database_cause(exc: BaseException, wanted: Any) -> BaseException | None:
    """The first of `exc` and the errors it wraps (SQLAlchemy's `orig`, then the cause) for which
    `wanted(error, sqlstate)` holds."""
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        if wanted(current, str(getattr(current, "sqlstate", None) or "")):
            return current
        current = getattr(current, "orig", None) or current.__cause__
    return None


def database_data_error(exc: BaseException) -> BaseException | None:
    """The asyncpg data error behind `exc` (itself, or wrapped by SQLAlchemy), else None."""
    return _database_cause(exc, lambda e, state: isinstance(e, _DATA_ERRORS)
                           or state.startswith("22"))


def database_conflict(exc: BaseException) -> BaseException | None:
    """The deadlock or serialization failure behind `exc`, else None."""
    return _database_cause(exc, lambda _, state: state in _CONFLICT_SQLSTATES)


# no such database (3D000), refused credentials (28000, 28P01), server starting or stopping (57P03)
_UNREACHABLE_SQLSTATES = frozenset({"3D000", "28000", "28P01", "57P03"})


def database_unreachable(exc: BaseException) -> BaseException | None:
    """The error behind `exc` that says the database could not be reached at all (refused
    connection, unknown host, no such database, refused credentials), else None."""
    def unreachable(e: BaseException, state: str) -> bool:
        psycopg_connect = (type(e).__module__.startswith("psycopg")
                           and type(e).__name__ == "OperationalError")
        # any OSError of asyncpg's connect: refused, unknown host, timed out, no socket file
        asyncpg_connect = isinstance(e, OSError) and any(
            "asyncpg" in f.filename and "connect_utils" in f.filename
            for f in traceback.extract_tb(e.__traceback__))
        return state in _UNREACHABLE_SQLSTATES or psycopg_connect or asyncpg_connect
    return _database_cause(exc, unreachable)


# the codes of the errors the framework raises itself (a body that is not JSON, an unknown
# path, a method the route does not have, ...)
HTTP_ERROR_CODES = {400: "malformed_request", 401: "unauthenticated", 403: "forbidden",
                    404: "not_found", 405: "method_not_allowed", 406: "not_acceptable",
                    413: "request_too_large", 415: "unsupported_media_type",
                    429: "rate_limited"}


def _language_headers(lang: str, headers: Any = None) -> dict[str, str]:
    return {**(dict(headers) if headers else {}), "Content-Language": "en" if lang == EN
            else "zh-CN"}


# pydantic's error types, in Chinese ({...} from the error's ctx); others: "取值无效"
_VALIDATION_ZH = {
    "missing": "必填", "extra_forbidden": "不允许的字段", "string_type": "应为文字",
    "int_type": "应为整数", "int_parsing": "应为整数", "float_parsing": "应为数字",
    "decimal_parsing": "应为数字", "bool_parsing": "应为 true 或 false",
    "bool_type": "应为 true 或 false", "date_parsing": "应为日期（YYYY-MM-DD）",
    "date_from_datetime_parsing": "应为日期（YYYY-MM-DD）", "date_type": "应为日期（YYYY-MM-DD）",
    "datetime_parsing": "应为日期时间", "datetime_from_date_parsing": "应为日期时间",
    "uuid_parsing": "应为 UUID", "uuid_type": "应为 UUID", "list_type": "应为列表",
    "dict_type": "应为对象", "model_type": "应为对象", "json_invalid": "不是有效的 JSON",
    "string_too_short": "至少 {min_length} 个字符", "string_too_long": "最多 {max_length} 个字符",
    "too_short": "至少 {min_length} 项", "too_long": "最多 {max_length} 项",
    "greater_than": "应大于 {gt}", "greater_than_equal": "应不小于 {ge}",
    "less_than": "应小于 {lt}", "less_than_equal": "应不大于 {le}",
    "string_pattern_mismatch": "格式不正确", "literal_error": "只能是 {expected}",
    "enum": "只能是 {expected}", "int_from_float": "应为整数",
    "decimal_max_places": "最多 {decimal_places} 位小数",
    "decimal_max_digits": "最多 {max_digits} 位数字",
}


def validation_message(err: Mapping[str, Any], lang: str) -> str:
    """One field's validation failure for a person reading `lang`."""
    ctx = err.get("ctx") or {}
    error = ctx.get("error") if isinstance(ctx, Mapping) else None
    if isinstance(getattr(error, "text", None), Text):  # a validator's own two languages
        return str(error.text(lang))  # type: ignore[union-attr]
    if lang == EN:
        return str(err.get("msg", ""))
    template = _VALIDATION_ZH.get(str(err.get("type", "")))
    if template is not None:
        try:
            return template.format(**{k: str(v) for k, v in ctx.items()})
        except (KeyError, IndexError):
            pass
    if isinstance(error, DomainError):
        return error.text(lang)
    if isinstance(error, ValueError) and any("\u4e00" <= c <= "\u9fff" for c in str(error)):
        return str(error)  # a validator that already speaks Chinese
    return "取值无效"


def localized(value: Any, lang: str) -> Any:
    """An error's details as a person reading `lang` sees them: every `Text` (a row's reason,
    a problem of a file) in that language, inside lists and objects too."""
    if isinstance(value, Text):
        return value(lang)
    if isinstance(value, Mapping):
        return {k: localized(v, lang) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [localized(v, lang) for v in value]
    return value


def install_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(DomainError)
    async def _domain(request: Request, exc: DomainError) -> JSONResponse:
        lang = request_language(request)
        return JSONResponse(error_body(exc.code, exc.text(lang), **localized(exc.details, lang)),
                            exc.status_code,
                            headers=_language_headers(lang, getattr(exc, "headers", None)))

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException) -> Response:
        """The framework's own errors, in our shape rather than `{"detail": ...}`."""
        headers = getattr(exc, "headers", None)
        if exc.status_code in (204, 304):  # no body allowed
            return Response(status_code=exc.status_code, headers=headers)
        lang = request_language(request)
        code = HTTP_ERROR_CODES.get(exc.status_code, f"http_{exc.status_code}")
        message = render(code, lang) or (
            exc.detail if isinstance(exc.detail, str) and exc.detail else code)
        return JSONResponse(error_body(code, message), exc.status_code,
                            headers=_language_headers(lang, headers))

    @app.exception_handler(RequestValidationError)
    async def _validation(request: Request, exc: RequestValidationError) -> JSONResponse:
        lang = request_language(request)
        fields = [
            {
                "field": ".".join(str(p) for p in err.get("loc", ()) if p != "body"),
                "message": validation_message(err, lang),
            }
            for err in exc.errors()
        ]
        message = (render("invalid_request", lang, {"field": fields[0]["field"] or None,
                                                     "reason": fields[0]["message"]})
                   if fields else render("invalid_request", lang))
        return JSONResponse(
            error_body("invalid_request", message or "invalid request", fields=fields),
            422, headers=_language_headers(lang),
        )

    async def _data_error(request: Request, exc: Exception) -> JSONResponse:
        if (conflict := database_conflict(exc)) is not None:
            log.warning("%s %s: rolled back by a concurrency conflict (%s); answered 503",
                        request.method, request.url.path, type(conflict).__name__)
            lang = request_language(request)
            return JSONResponse(error_body("busy_retry", render("busy_retry", lang) or ""), 503,
                                headers=_language_headers(lang, {"Retry-After": "1"}))
        cause = database_data_error(exc)
        if cause is None:
            raise exc  # a real server error: let it answer 500 and be logged as one
        log.warning("%s %s: value refused by the database (%s)", request.method,
                    request.url.path, type(cause).__name__)
        lang = request_language(request)
        return JSONResponse(error_body("invalid_value", render("invalid_value", lang) or ""),
                            422, headers=_language_headers(lang))

    app.add_exception_handler(DBAPIError, _data_error)
    for error_class in _DATA_ERRORS:
        app.add_exception_handler(error_class, _data_error)
