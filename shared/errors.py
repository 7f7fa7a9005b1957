"""Domain errors carry a stable code and an HTTP status; one handler turns them into JSON.

A value that reached the database but cannot be stored or compared there (an integer outside
the column's range, a NUL character in text, an overlong value, a date Postgres cannot hold:
SQLSTATE class 22, or asyncpg refusing to encode the argument) is the client's mistake that
the edge did not catch: it answers 422 `invalid_value`, never 500, and never echoes the value
(it may be personal data)."""

from __future__ import annotations

import logging
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

__all__ = ["Conflict", "DomainError", "ErrorBody", "ErrorDetail", "FieldError", "Forbidden",
           "Invalid", "NotFound", "database_data_error", "error_body", "install_error_handlers"]

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


def database_data_error(exc: BaseException) -> BaseException | None:
    """The asyncpg data error behind `exc` (itself, or wrapped by SQLAlchemy), else None."""
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        if isinstance(current, _DATA_ERRORS):
            return current
        if (sqlstate := getattr(current, "sqlstate", None)) and str(sqlstate).startswith("22"):
            return current
        current = getattr(current, "orig", None) or current.__cause__
    return None


# the codes of the errors the framework raises itself (a body that is not JSON, an unknown
# path, a method the route does not have, ...)
HTTP_ERROR_CODES = {400: "malformed_request", 401: "unauthenticated", 403: "forbidden",
                    404: "not_found", 405: "method_not_allowed", 406: "not_acceptable",
                    413: "request_too_large", 415: "unsupported_media_type",
                    429: "rate_limited"}


def install_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(DomainError)
    async def _domain(_: Request, exc: DomainError) -> JSONResponse:
        return JSONResponse(error_body(exc.code, exc.message, **exc.details), exc.status_code)

    @app.exception_handler(StarletteHTTPException)
    async def _http(_: Request, exc: StarletteHTTPException) -> Response:
        """The framework's own errors, in our shape rather than `{"detail": ...}`."""
        headers = getattr(exc, "headers", None)
        if exc.status_code in (204, 304):  # no body allowed
            return Response(status_code=exc.status_code, headers=headers)
        code = HTTP_ERROR_CODES.get(exc.status_code, f"http_{exc.status_code}")
        message = exc.detail if isinstance(exc.detail, str) and exc.detail else code
        return JSONResponse(error_body(code, message), exc.status_code, headers=headers)

    @app.exception_handler(RequestValidationError)
    async def _validation(_: Request, exc: RequestValidationError) -> JSONResponse:
        fields = [
            {
                "field": ".".join(str(p) for p in err.get("loc", ()) if p != "body"),
                "message": err.get("msg", ""),
            }
            for err in exc.errors()
        ]
        first = fields[0] if fields else {"field": "", "message": "invalid request"}
        return JSONResponse(
            error_body("invalid_request", f"{first['field']}: {first['message']}", fields=fields),
            422,
        )

    async def _data_error(request: Request, exc: Exception) -> JSONResponse:
        cause = database_data_error(exc)
        if cause is None:
            raise exc  # a real server error: let it answer 500 and be logged as one
        log.warning("%s %s: value refused by the database (%s)", request.method,
                    request.url.path, type(cause).__name__)
        return JSONResponse(error_body(
            "invalid_value", "a value in the request is out of range or cannot be stored "
            "(too large a number, a NUL character, an overlong text or an impossible date)"), 422)

    app.add_exception_handler(DBAPIError, _data_error)
    for error_class in _DATA_ERRORS:
        app.add_exception_handler(error_class, _data_error)
