"""What the suite looks for in an answer, and the malformed things it sends."""

from __future__ import annotations

import base64
import csv
import datetime as dt
import hashlib
import hmac
import io
import re
import time
import zipfile
from typing import Any

import httpx
import jwt
import orjson
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from openpyxl import Workbook, load_workbook

from shared.idnumber import check_character

FORMULA_START = ("=", "+", "-", "@")
_NUMBER = re.compile(r"-?[0-9]+(\.[0-9]+)?")
# the exports' own 合计 sums: one column's rows above, nothing else
_TOTAL_SUM = re.compile(r"=SUM\(([A-Z]{1,3})[0-9]+:\1[0-9]+\)")
_MASKED = re.compile(r"(?<![0-9A-Za-z*])[0-9Xx*]{18}(?![0-9A-Za-z*])")


# --- answers ---------------------------------------------------------------------------------

def error_body_problem(r: httpx.Response) -> str | None:
    """None when the answer is not a 5xx and, if an error, is `{"error": {"code", "message"}}`."""
    if r.status_code >= 500:
        return f"{r.status_code} {r.text[:160]!r}"
    if r.status_code >= 400:
        try:
            body = r.json()
        except ValueError:
            return f"{r.status_code} with a body that is not JSON: {r.text[:120]!r}"
        error = body.get("error") if isinstance(body, dict) else None
        if not isinstance(error, dict) or not isinstance(error.get("code"), str) \
                or not isinstance(error.get("message"), str):
            return f"{r.status_code} without the error body: {r.text[:160]!r}"
    return None


def is_xlsx(r: httpx.Response) -> bool:
    return r.content[:2] == b"PK"


def xlsx_cells(content: bytes) -> list[Any]:
    """Every cell of every sheet, formulas as openpyxl reads them (data_type 'f')."""
    book = load_workbook(io.BytesIO(content))
    return [cell for sheet in book.worksheets for row in sheet.iter_rows() for cell in row]


def csv_cells(content: bytes) -> list[str]:
    text = content.decode("utf-8-sig", errors="replace")
    return [cell for row in csv.reader(io.StringIO(text)) for cell in row]


def answer_text(r: httpx.Response) -> str:
    """What a person reading the answer sees, as text (spreadsheets: their cells)."""
    if is_xlsx(r):
        try:
            return "\n".join(str(c.value) for c in xlsx_cells(r.content) if c.value is not None)
        except Exception:  # noqa: BLE001 - not a workbook after all
            return r.text
    return r.text


def formula_problems(r: httpx.Response) -> list[str]:
    """Cells of a CSV or XLSX answer a spreadsheet would run as a formula."""
    found = []
    if is_xlsx(r):
        cells = xlsx_cells(r.content)
        total_rows = {(c.parent.title, c.row) for c in cells if c.value == "合计"}
        for cell in cells:
            if cell.data_type == "f" and (cell.parent.title, cell.row) in total_rows \
                    and _TOTAL_SUM.fullmatch(str(cell.value)) \
                    and str(cell.value)[5:].startswith(cell.column_letter):
                continue  # the 合计 row's own column sum
            if cell.data_type == "f":
                found.append(f"formula cell {cell.coordinate}: {cell.value!r}")
            elif isinstance(cell.value, str) and cell.value.startswith(FORMULA_START) \
                    and not _NUMBER.fullmatch(cell.value):
                found.append(f"text cell {cell.coordinate} starts as a formula: {cell.value!r}")
    else:
        for cell in csv_cells(r.content):
            if cell.startswith(FORMULA_START) and not _NUMBER.fullmatch(cell):
                found.append(f"CSV cell {cell!r}")
    return found


def carries_formula_text(r: httpx.Response, formulas: tuple[str, ...]) -> bool:
    """Whether a seeded formula (raw or neutralised, whole or masked) is in the export."""
    cells = [str(c.value) for c in xlsx_cells(r.content) if c.value is not None] \
        if is_xlsx(r) else csv_cells(r.content)
    for cell in cells:
        bare = cell[1:] if cell.startswith("'") else cell
        for f in formulas:
            if bare == f or (len(bare) >= 2 and bare[0] == f[0] and "*" in bare
                             and bare[-1] == f[-1]):
                return True
    return False


# --- masked ID numbers -----------------------------------------------------------------------

def masked_ids(text: str) -> list[str]:
    return [m for m in _MASKED.findall(text) if "*" in m and m.count("*") < 18]


def matches(mask: str, id_number: str) -> bool:
    return all(m == "*" or m.upper() == c.upper() for m, c in zip(mask, id_number, strict=True))


def birth_date_shown(text: str, born: dt.date) -> bool:
    forms = (born.isoformat(), f"{born:%Y%m%d}", f"{born.year}年{born.month}月{born.day}日",
             f"{born:%Y}年{born:%m}月{born:%d}日", f"{born:%Y/%m/%d}")
    return any(f in text for f in forms)


def candidates(mask: str, id_number: str, *, birth_known: bool, sex_known: bool,
               enough: int = 10) -> int:
    """How many ID numbers fit the mask, the check character and what else the reader knows
    (the region digits always: the reader works there; the birth date and the sex when the
    same answer shows them). Counting stops at `enough`."""
    first17 = list(mask[:17])
    for i in range(6):  # the region: known to the reader
        first17[i] = id_number[i]
    if birth_known:
        for i in range(6, 14):
            first17[i] = id_number[i]
    last = mask[17]
    hidden_seq = [i for i in range(14, 17) if first17[i] == "*"]
    hidden_date = [i for i in range(6, 14) if first17[i] == "*"]
    dates: list[str] = []
    if hidden_date:
        day = dt.date(1900, 1, 1)
        while day <= dt.date(2030, 12, 31) and len(dates) < 100_000:
            digits = f"{day:%Y%m%d}"
            if all(first17[6 + k] in ("*", d) for k, d in enumerate(digits)):
                dates.append(digits)
            day += dt.timedelta(days=1)
    else:
        dates = ["".join(first17[6:14])]
    parity = int(id_number[16]) % 2 if sex_known else None
    count = 0
    for digits in dates:
        base = first17[:6] + list(digits) + first17[14:]
        for n in range(10 ** len(hidden_seq)):
            fill = f"{n:0{len(hidden_seq)}d}" if hidden_seq else ""
            trial = list(base)
            for pos, d in zip(hidden_seq, fill, strict=True):
                trial[pos] = d
            if parity is not None and int(trial[16]) % 2 != parity:
                continue
            if last != "*" and check_character("".join(trial)) != last.upper():
                continue
            count += 1
            if count >= enough:
                return count
    return count


# --- lookalike digits ------------------------------------------------------------------------

def devanagari(id_number: str) -> str:
    return "".join(chr(0x966 + int(c)) if c.isdigit() else c for c in id_number)


def fullwidth(id_number: str) -> str:
    return "".join(chr(0xFF10 + int(c)) if c.isdigit() else c for c in id_number)


def mixed(id_number: str) -> str:
    """As reported: a few Devanagari digits among ASCII ones."""
    return "".join(chr(0x966 + int(c)) if c.isdigit() and i % 3 == 1 else c
                   for i, c in enumerate(id_number))


LOOKALIKES = {"devanagari": devanagari, "fullwidth": fullwidth, "mixed": mixed}
BIDI = ("\u202e", "\u2067", "\u200f")


# --- broken files ----------------------------------------------------------------------------

def _workbook(rows: list[list[str]]) -> bytes:
    book = Workbook()
    for row in rows:
        book.active.append(row)
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


def _rewrite(content: bytes, member: str, replacement: bytes | None) -> bytes:
    source = zipfile.ZipFile(io.BytesIO(content))
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as target:
        for info in source.infolist():
            if info.filename == member:
                if replacement is not None:
                    target.writestr(info, replacement)
            else:
                target.writestr(info, source.read(info.filename))
    return out.getvalue()


def broken_workbooks(rows: list[list[str]]) -> dict[str, bytes]:
    good = _workbook(rows)
    bad_xml = b"<?xml version='1.0'?><broken><unclosed>"
    return {
        "not a zip": b"PK\x03\x04 this is not a workbook",
        "truncated": good[: len(good) // 2],
        "broken workbook.xml": _rewrite(good, "xl/workbook.xml", bad_xml),
        "broken sheet xml": _rewrite(good, "xl/worksheets/sheet1.xml", bad_xml),
        "broken styles.xml": _rewrite(good, "xl/styles.xml", bad_xml),
        "no sheet": _rewrite(good, "xl/worksheets/sheet1.xml", None),
        "empty zip": _empty_zip(),
    }


def _empty_zip() -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w"):
        pass
    return out.getvalue()


# --- forged tokens ---------------------------------------------------------------------------

def _b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def forged_tokens(private_pem: bytes, public_pem: bytes, kid: str, region: str
                  ) -> dict[str, str]:
    now = int(time.time())
    claims = {"iss": "canbao", "aud": "canbao", "sub": "forger", "iat": now, "exp": now + 600,
              "role": "administrator", "region": region, "jti": "x"}
    key = serialization.load_pem_private_key(private_pem, None)
    other = Ed25519PrivateKey.generate()
    good = jwt.encode(claims, key, algorithm="EdDSA", headers={"kid": kid})
    head, _, signature = good.split(".")
    tampered = _b64(orjson.dumps({**claims, "region": "000000"}))
    header_none = _b64(orjson.dumps({"alg": "none", "typ": "JWT", "kid": kid}))
    return {
        "wrong key": jwt.encode(claims, other, algorithm="EdDSA", headers={"kid": kid}),
        "alg none": f"{header_none}.{_b64(orjson.dumps(claims))}.",
        "HS256 with the public key": _hs256(claims, public_pem, kid),
        "expired": jwt.encode({**claims, "iat": now - 7200, "exp": now - 3600}, key,
                              algorithm="EdDSA", headers={"kid": kid}),
        "wrong issuer": jwt.encode({**claims, "iss": "https://evil.example"}, key,
                                   algorithm="EdDSA", headers={"kid": kid}),
        "wrong audience": jwt.encode({**claims, "aud": "someone-else"}, key, algorithm="EdDSA",
                                     headers={"kid": kid}),
        "region claim tampered": f"{head}.{tampered}.{signature}",
        "no expiry": jwt.encode({k: v for k, v in claims.items() if k != "exp"}, key,
                                algorithm="EdDSA", headers={"kid": kid}),
    }


def _hs256(claims: dict[str, Any], secret: bytes, kid: str) -> str:
    """Signed with HMAC over the public key (PyJWT refuses to, so by hand)."""
    signing_input = f"{_b64(orjson.dumps({'alg': 'HS256', 'typ': 'JWT', 'kid': kid}))}." \
                    f"{_b64(orjson.dumps(claims))}"
    mac = hmac.new(secret, signing_input.encode(), hashlib.sha256).digest()
    return f"{signing_input}.{_b64(mac)}"
