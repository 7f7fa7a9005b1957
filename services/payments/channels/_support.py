"""Small helpers shared by the channel adapters (headers, clocks, amounts, answers)."""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta, timezone

from shared.money import InvalidAmount, yuan_to_fen
from shared.params import DATE_MAX, DATE_MIN, PG_BIGINT_MAX

from .base import ChannelResponse, PayloadInvalid, TimestampOutOfTolerance, rejection_status

# Channels in mainland China stamp local time without an offset. China has had no DST
# since 1991, so a fixed +08:00 is exact and needs no tz database.
CHINA_TZ = timezone(timedelta(hours=8), "Asia/Shanghai")
DEFAULT_TOLERANCE = timedelta(seconds=300)
# The largest amount a channel may name: what the ledger's bigint columns hold. Beyond it (a
# signed 2^70) the notification is refused as it arrives, never stored to fail later.
MAX_AMOUNT_FEN = PG_BIGINT_MAX

_ASCII_YUAN = re.compile(r"[0-9]+(?:\.[0-9]{1,2})?", re.ASCII)


def header(headers: Mapping[str, str], name: str) -> str | None:
    """Case-insensitive header lookup that works for plain dicts and Starlette Headers."""
    value = headers.get(name)
    if value is not None:
        return value
    wanted = name.lower()
    for key, candidate in headers.items():
        if key.lower() == wanted:
            return candidate
    return None


def require_aware(now: datetime) -> datetime:
    if now.tzinfo is None or now.utcoffset() is None:
        raise ValueError("now must be an aware datetime")
    return now.astimezone(UTC)


def check_tolerance(
    sent_at: datetime, now: datetime, tolerance: timedelta = DEFAULT_TOLERANCE
) -> None:
    skew = require_aware(now) - sent_at
    if abs(skew) > tolerance:
        direction = "old" if skew > timedelta(0) else "in the future"
        raise TimestampOutOfTolerance(
            f"timestamp is {abs(int(skew.total_seconds()))} s {direction}; "
            f"tolerance is {int(tolerance.total_seconds())} s"
        )


def in_calendar(moment: datetime, what: str) -> datetime:
    """`moment` (aware) -> UTC, when its date lies within shared.params DATE_MIN..DATE_MAX;
    a time at 0001-01-01 or 9999-12-31 is refused before any arithmetic can overflow."""
    if not DATE_MIN <= moment.date() <= DATE_MAX:
        raise PayloadInvalid(f"{what} {moment.date()} is outside {DATE_MIN}..{DATE_MAX}",
                             "bad_time")
    return moment.astimezone(UTC)


def checked_fen(value: int, what: str) -> int:
    """An amount in fen the ledger can hold (0..MAX_AMOUNT_FEN)."""
    if not 0 <= value <= MAX_AMOUNT_FEN:
        raise PayloadInvalid(f"{what} {value} is out of range", "bad_amount")
    return value


def unix_seconds(text: str | None, what: str) -> datetime:
    """A decimal count of seconds since the epoch, as WeChat and Standard Webhooks send it."""
    if text is None or not text.isascii() or not text.isdigit() or len(text) > 12:
        raise TimestampOutOfTolerance(
            f"{what} is missing or not a unix timestamp", "timestamp_invalid"
        )
    seconds = int(text)
    if seconds > int(datetime.combine(DATE_MAX, datetime.min.time(), UTC).timestamp()):
        raise TimestampOutOfTolerance(f"{what} is not a usable unix timestamp",
                                      "timestamp_invalid")
    return datetime.fromtimestamp(seconds, tz=UTC)


def china_local_time(text: str, what: str) -> datetime:
    """'2024-12-01 10:00:00' in Beijing time -> aware UTC. Alipay's gmt_refund carries
    milliseconds ('2024-12-01 10:00:00.320'), so a fraction of a second is accepted too."""
    for layout in ("%Y-%m-%d %H:%M:%S", "%Y-%m-%d %H:%M:%S.%f"):
        try:
            local = datetime.strptime(text, layout)
        except ValueError:
            continue
        return in_calendar(local.replace(tzinfo=CHINA_TZ), what)
    raise PayloadInvalid(f"{what} {text!r} is not 'YYYY-MM-DD HH:MM:SS[.fff]'", "bad_time")


def rfc3339(text: object, what: str) -> datetime:
    """'2024-12-01T10:00:00+08:00' -> aware UTC; a timestamp without offset is refused."""
    if not isinstance(text, str):
        raise PayloadInvalid(f"{what} is missing", "missing_field")
    try:
        parsed = datetime.fromisoformat(text)
    except ValueError as exc:
        raise PayloadInvalid(f"{what} {text!r} is not an RFC 3339 time", "bad_time") from exc
    if parsed.tzinfo is None:
        raise PayloadInvalid(f"{what} {text!r} has no UTC offset", "bad_time")
    return in_calendar(parsed, what)


def yuan(text: str | None, what: str) -> int:
    """Exact yuan string -> fen. Only plain ASCII 'digits[.d[d]]': no sign, exponent or float."""
    if text is None or text == "":
        raise PayloadInvalid(f"{what} is missing", "missing_field")
    if not _ASCII_YUAN.fullmatch(text):
        raise PayloadInvalid(f"{what} {text!r} is not an amount in yuan", "bad_amount")
    try:
        fen = yuan_to_fen(text)
    except InvalidAmount as exc:
        raise PayloadInvalid(f"{what} {text!r}: {exc}", "bad_amount") from exc
    return checked_fen(fen, what)


def json_failure(error: BaseException, code: str | None = None) -> ChannelResponse:
    status = rejection_status(error)
    message = getattr(error, "reason", None) or "internal error"
    payload = {"code": code or getattr(error, "code", "internal_error"), "message": message}
    body = json.dumps(payload, ensure_ascii=False).encode("utf-8")
    return ChannelResponse(status, "application/json; charset=utf-8", body)
