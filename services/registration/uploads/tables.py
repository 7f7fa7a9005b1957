"""Read an uploaded CSV or XLSX table whose header row is in Chinese.

A :class:`TableSpec` names the expected columns with their accepted header spellings.
The reader finds the header row (title rows above it are skipped), reports missing,
duplicated and unexpected columns as file-level errors, and then yields the data rows
one at a time as ``(row_number, values)`` so that large files are never held in memory.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import unicodedata
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import PurePath
from typing import Any, BinaryIO

from services.registration.uploads.decoding import open_text_stream
from services.registration.uploads.errors import RowError, UploadRejected, file_error
from shared.text import UNSAFE_CHARACTERS, has_unsafe_characters  # noqa: F401 (re-exported)

HEADER_SEARCH_ROWS = 10
_IGNORED_BY_DEFAULT = ("序号", "编号", "备注", "说明")
csv.field_size_limit(1 << 20)


def normalise_header(text: str) -> str:
    """NFKC, no spaces or asterisks (required-field marks), lower case for latin letters."""
    value = unicodedata.normalize("NFKC", str(text or ""))
    value = "".join(value.split()).replace("*", "").replace("\ufeff", "")
    return value.lower()


def clean_cell(value: Any) -> str:
    """A cell as text: numbers without '.0', dates as ISO, whitespace and BOM stripped."""
    if type(value) is str:
        text = value.strip()
        if text and (text[0] in "\ufeff\u200b\u3000" or text[-1] in "\u200b\u3000"):
            text = text.replace("\ufeff", "").replace("\u200b", "").strip().strip("\u3000")
        return text.strip()
    if value is None:
        return ""
    if isinstance(value, bool):
        return "是" if value else "否"
    if isinstance(value, dt.datetime):
        return value.date().isoformat() if value.time() == dt.time() else value.isoformat()
    if isinstance(value, dt.date):
        return value.isoformat()
    if isinstance(value, float):
        return str(int(value)) if value.is_integer() else repr(value)
    text = str(value).replace("\ufeff", "").replace("\u200b", "")
    return text.strip().strip("\u3000").strip()


@dataclass(frozen=True, slots=True)
class Column:
    key: str
    header: str  # the canonical Chinese header, shown in error reports
    aliases: tuple[str, ...] = ()
    required: bool = True

    def names(self) -> set[str]:
        return {normalise_header(n) for n in (self.header, self.key, *self.aliases)}


@dataclass(frozen=True)
class TableSpec:
    columns: tuple[Column, ...]
    ignored: tuple[str, ...] = _IGNORED_BY_DEFAULT
    # groups of keys of which at least one column must be present (e.g. 乡镇 or 乡镇代码)
    one_of: tuple[tuple[str, ...], ...] = ()

    def column(self, key: str) -> Column:
        for column in self.columns:
            if column.key == key:
                return column
        raise KeyError(key)

    def header_of(self, key: str) -> str:
        return self.column(key).header

    def _lookup(self) -> dict[str, str]:
        lookup: dict[str, str] = {}
        for column in self.columns:
            for name in column.names():
                lookup[name] = column.key
        return lookup


def detect_format(data_head: bytes, filename: str | None) -> str:
    suffix = PurePath(filename).suffix.lower() if filename else ""
    if data_head.startswith(b"PK\x03\x04") or suffix in (".xlsx", ".xlsm"):
        return "xlsx"
    if data_head.startswith(b"\xd0\xcf\x11\xe0") or suffix == ".xls":
        raise UploadRejected(
            "不支持旧版 .xls 格式，请在 Excel/WPS 中另存为 .xlsx 或 CSV", "xls_not_supported"
        )
    return "csv"


@dataclass
class TableReader:
    """Reads one upload against a spec. Construct, check :attr:`errors`, then iterate
    :meth:`rows`. ``source`` is the whole file as bytes or a binary stream."""

    source: bytes | BinaryIO
    spec: TableSpec
    filename: str | None = None
    allow_extra_columns: bool = False
    sheet: str | None = None
    errors: list[RowError] = field(default_factory=list)
    positions: dict[str, int] = field(default_factory=dict)  # key -> column index
    extra_columns: dict[str, int] = field(default_factory=dict)  # header -> column index
    format: str = ""
    encoding: str | None = None
    header_row: int = 0
    _raw_rows: Iterator[tuple[int, list[Any]]] | None = None
    _workbook: Any = None

    def __post_init__(self) -> None:
        stream = io.BytesIO(self.source) if isinstance(self.source, bytes) else self.source
        try:
            head = stream.read(8)
            if stream.seekable():
                stream.seek(0)
            else:  # pragma: no cover - sockets and pipes: put the head back in front
                stream = io.BufferedReader(_Rewind(head, stream))  # type: ignore[arg-type]
            self.format = detect_format(head, self.filename)
            raw = self._open_xlsx(stream) if self.format == "xlsx" else self._open_csv(stream)
        except UploadRejected as exc:
            self.errors.append(file_error(str(exc), exc.code))
            return
        self._read_header(raw)
        if self.errors:
            self.close()

    # -- opening -------------------------------------------------------------
    def _open_csv(self, stream: BinaryIO) -> Iterator[tuple[int, list[Any]]]:
        text, self.encoding = open_text_stream(stream)
        first = text.readline()
        delimiter = "\t" if first.count("\t") > first.count(",") else ","
        lines = _chain_first(first, text)
        reader = csv.reader(lines, delimiter=delimiter)

        def rows() -> Iterator[tuple[int, list[Any]]]:
            number = 0
            try:
                for record in reader:
                    number += 1
                    yield number, record
            except UnicodeDecodeError:
                raise UploadRejected(
                    f"第 {number + 1} 行附近含有无法按 {self.encoding} 解码的字节，"
                    "请检查文件编码（整份文件须为同一编码）",
                    "undecodable",
                ) from None
            except csv.Error as exc:
                raise UploadRejected(f"第 {number + 1} 行 CSV 格式错误：{exc}", "bad_csv") from None

        return rows()

    def _open_xlsx(self, stream: BinaryIO) -> Iterator[tuple[int, list[Any]]]:
        import openpyxl  # imported here: CSV-only callers need not load it

        try:
            workbook = openpyxl.load_workbook(stream, read_only=True, data_only=True)
        except (zipfile.BadZipFile, KeyError, OSError, ValueError) as exc:
            raise UploadRejected(
                f"不是有效的 XLSX 文件（{type(exc).__name__}），请在 Excel/WPS 中重新另存为 .xlsx",
                "bad_xlsx",
            ) from None
        except Exception as exc:  # noqa: BLE001 - broken workbook, sheet or styles XML
            raise _broken(exc) from None
        self._workbook = workbook
        try:
            if self.sheet is not None:
                if self.sheet not in workbook.sheetnames:
                    raise UploadRejected(f"找不到工作表 {self.sheet}", "missing_sheet")
                worksheet = workbook[self.sheet]
            elif not workbook.worksheets:
                raise UploadRejected("XLSX 文件中没有工作表", "bad_xlsx")
            else:
                worksheet = workbook.worksheets[0]
        except UploadRejected:
            raise
        except Exception as exc:  # noqa: BLE001
            raise _broken(exc) from None

        def rows() -> Iterator[tuple[int, list[Any]]]:
            try:
                for number, values in enumerate(worksheet.iter_rows(values_only=True), 1):
                    yield number, list(values)
            except UploadRejected:
                raise
            except Exception as exc:  # noqa: BLE001 - a sheet's XML is read row by row
                raise _broken(exc) from None
            finally:
                workbook.close()

        return rows()

    # -- header --------------------------------------------------------------
    def _read_header(self, raw: Iterator[tuple[int, list[Any]]]) -> None:
        lookup = self.spec._lookup()
        ignored = {normalise_header(n) for n in self.spec.ignored}
        required = [c for c in self.spec.columns if c.required]
        try:
            for number, values in raw:
                headers = [normalise_header(clean_cell(v)) for v in values]
                known = [h for h in headers if h in lookup]
                if known and (
                    len(set(known)) >= 2
                    or any(lookup[h] in {c.key for c in required} for h in known)
                    or len(self.spec.columns) == 1
                ):
                    self.header_row = number
                    self._map_columns(values, lookup, ignored)
                    self._raw_rows = raw
                    return
                if number >= HEADER_SEARCH_ROWS:
                    break
        except UploadRejected as exc:
            self.errors.append(file_error(str(exc), exc.code))
            return
        expected = "、".join(c.header for c in required) or "、".join(
            c.header for c in self.spec.columns
        )
        self.errors.append(
            file_error(f"前 {HEADER_SEARCH_ROWS} 行中找不到表头（应包含：{expected}）", "no_header")
        )

    def _map_columns(self, values: list[Any], lookup: dict[str, str], ignored: set[str]) -> None:
        unexpected: list[str] = []
        for index, value in enumerate(values):
            raw_header = clean_cell(value)
            header = normalise_header(raw_header)
            if not header:
                continue
            key = lookup.get(header)
            if key is None:
                if header in ignored:
                    continue
                if self.allow_extra_columns:
                    self.extra_columns[raw_header] = index
                else:
                    unexpected.append(raw_header)
                continue
            if key in self.positions:
                self.errors.append(
                    file_error(
                        f"列“{self.spec.header_of(key)}”出现了两次",
                        "duplicate_column",
                        self.spec.header_of(key),
                    )
                )
                continue
            self.positions[key] = index
        missing = [
            c.header for c in self.spec.columns if c.required and c.key not in self.positions
        ]
        if missing:
            self.errors.append(
                file_error(
                    f"缺少必需的列：{'、'.join(missing)}", "missing_columns", "、".join(missing)
                )
            )
        for group in self.spec.one_of:
            if not any(key in self.positions for key in group):
                names = " 或 ".join(self.spec.header_of(k) for k in group)
                self.errors.append(file_error(f"缺少列：需要 {names}", "missing_columns", names))
        if unexpected:
            allowed = "、".join(c.header for c in self.spec.columns)
            self.errors.append(
                file_error(
                    f"有无法识别的列：{'、'.join(unexpected)}（可用的列：{allowed}）",
                    "unexpected_columns",
                    "、".join(unexpected),
                )
            )

    # -- rows ----------------------------------------------------------------
    @property
    def ok(self) -> bool:
        return not self.errors

    def has(self, key: str) -> bool:
        return key in self.positions

    def rows(self) -> Iterator[tuple[int, dict[str, str], dict[str, str]]]:
        """Yield ``(row_number, values by key, extra values by header)`` for non-blank rows.

        Nothing is yielded when the header had errors. A decode error in the middle of a
        CSV stops the iteration and is appended to :attr:`errors` as a file-level error.
        """
        if self.errors or self._raw_rows is None:
            return
        positions = list(self.positions.items())
        extras = list(self.extra_columns.items())
        headers = {i: self.spec.header_of(k) for k, i in positions}
        headers.update({i: h for h, i in extras})
        try:
            for number, raw in self._raw_rows:
                values = [clean_cell(v) for v in raw]
                if not any(values):
                    continue
                unsafe = [i for i, v in enumerate(values) if has_unsafe_characters(v)]
                if unsafe:
                    # reported with the row: the parsers collect reader.errors after the rows
                    self.errors.extend(RowError(
                        number, headers.get(i), "",
                        "含有文字方向控制字符或不可见的控制字符（如 U+202E），请删除后重新上传",
                        "control_characters") for i in unsafe)
                    continue
                width = len(values)
                row = {k: values[i] if i < width else "" for k, i in positions}
                extra = {h: values[i] if i < width else "" for h, i in extras}
                yield number, row, extra
        except UploadRejected as exc:
            self.errors.append(file_error(str(exc), exc.code))

    def close(self) -> None:
        if self._workbook is not None:
            self._workbook.close()


def _broken(exc: Exception) -> UploadRejected:
    """Whatever a damaged workbook raises while it is read (XML syntax in the workbook, a sheet
    or the styles, a missing part, a wrong type): a refusal the uploader can act on."""
    return UploadRejected(
        f"XLSX 文件已损坏，无法读取（{type(exc).__name__}），"
        "请在 Excel/WPS 中打开后重新另存为 .xlsx",
        "bad_xlsx",
    )


def _chain_first(first: str, rest: io.TextIOBase) -> Iterator[str]:
    if first:
        yield first
    yield from rest


class _Rewind(io.RawIOBase):  # pragma: no cover - only for non-seekable streams
    def __init__(self, head: bytes, stream: BinaryIO) -> None:
        self._head, self._stream = head, stream

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: memoryview) -> int:  # type: ignore[override]
        if self._head:
            n = min(len(buffer), len(self._head))
            buffer[:n] = self._head[:n]
            self._head = self._head[n:]
            return n
        chunk = self._stream.read(len(buffer))
        buffer[: len(chunk)] = chunk
        return len(chunk)
