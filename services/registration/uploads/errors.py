"""Errors found in an uploaded file, one per problem, for the uploader to fix."""

from __future__ import annotations

from dataclasses import dataclass

from shared.idnumber import mask_id_number

FILE_LEVEL = 0  # row_number of a problem with the file as a whole (encoding, columns)


@dataclass(frozen=True, slots=True)
class RowError:
    """One problem. ``row_number`` is the row as a spreadsheet shows it (header = its row),
    0 for the file as a whole. ``value`` never holds a full ID number: it is masked."""

    row_number: int
    column: str | None
    value: str
    message: str
    code: str = ""

    @property
    def is_file_level(self) -> bool:
        return self.row_number == FILE_LEVEL


class UploadRejected(ValueError):
    """The file cannot be read at all (wrong format, undecodable); the message says why."""

    def __init__(self, message: str, code: str = "unreadable") -> None:
        super().__init__(message)
        self.code = code


def file_error(message: str, code: str, column: str | None = None) -> RowError:
    return RowError(FILE_LEVEL, column, "", message, code)


def mask_id_value(value: str) -> str:
    """Mask an ID-like value for an error report, whatever its length (the one mask:
    `shared.idnumber.mask_id_number`)."""
    return mask_id_number(value)
