"""Turn uploaded bytes into text: UTF-8 (with or without BOM), UTF-16 with BOM, GBK/GB18030.

Chinese offices save CSV from Excel or WPS in GBK ("ANSI") as often as in UTF-8, so both
are tried, UTF-8 first: valid UTF-8 Chinese text is practically never valid GBK of the
same meaning, and GB18030 (a superset of GBK) is the fallback. Bytes that decode under
neither, or that decode to control characters (a binary file), are rejected.
"""

from __future__ import annotations

import codecs
import io
import re
from typing import BinaryIO

from services.registration.uploads.errors import UploadRejected

SNIFF_BYTES = 64 * 1024
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")


def _try(encoding: str, data: bytes, final: bool) -> str | None:
    decoder = codecs.getincrementaldecoder(encoding)(errors="strict")
    try:
        return decoder.decode(data, final=final)
    except UnicodeDecodeError:
        return None


def detect_encoding(head: bytes, complete: bool = True) -> str:
    """The Python codec name for these leading bytes; ``complete`` if they are the whole file.

    Raises :class:`UploadRejected` when no supported encoding fits.
    """
    if head.startswith(codecs.BOM_UTF8):
        candidates = ["utf-8-sig"]
    elif head.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        candidates = ["utf-16"]
    else:
        candidates = ["utf-8", "gb18030"]
    for encoding in candidates:
        text = _try(encoding, head, complete)
        if text is not None:
            if _CONTROL.search(text):
                raise UploadRejected(
                    "文件含有控制字符，不是文本文件（请上传 CSV 或 XLSX）", "not_text"
                )
            return encoding
    raise UploadRejected(
        "无法识别文件编码：请将文件另存为 UTF-8 或 GBK 编码的 CSV，或 XLSX", "undecodable"
    )


def decode_bytes(data: bytes) -> str:
    """Decode a whole upload; BOMs are removed. Raises :class:`UploadRejected`."""
    encoding = detect_encoding(data, complete=True)
    return data.decode(encoding)


class _Prefixed(io.RawIOBase):
    """A binary stream that yields ``head`` and then the rest of ``stream``."""

    def __init__(self, head: bytes, stream: BinaryIO) -> None:
        self._head = head
        self._stream = stream

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: memoryview) -> int:  # type: ignore[override]
        if self._head:
            n = min(len(buffer), len(self._head))
            buffer[:n] = self._head[:n]
            self._head = self._head[n:]
            return n
        chunk = self._stream.read(len(buffer))
        if not chunk:
            return 0
        buffer[: len(chunk)] = chunk
        return len(chunk)


def open_text_stream(stream: BinaryIO) -> tuple[io.TextIOWrapper, str]:
    """Wrap a binary stream as text, sniffing the encoding from its first 64 KiB.

    A decode error later in the file surfaces as ``UnicodeDecodeError`` while reading;
    the table reader turns it into a file-level error.
    """
    head = stream.read(SNIFF_BYTES)
    complete = len(head) < SNIFF_BYTES
    encoding = detect_encoding(head, complete=complete)
    raw = io.BufferedReader(_Prefixed(head, stream), buffer_size=SNIFF_BYTES)
    return io.TextIOWrapper(raw, encoding=encoding, errors="strict", newline=""), encoding
