"""Parsing what departments, townships and other offices upload (CSV or XLSX)."""

from kernels.codes import GROUP_CODES
from services.registration.uploads.categories import (
    DEFAULT_CERTIFIABLE,
    DEPARTMENTS,
    GROUP_NAMES,
    certifiable_by,
    group_code_of,
)
from services.registration.uploads.certified import (
    CertifiedRow,
    ParsedList,
    parse_certified_list,
)
from services.registration.uploads.decoding import decode_bytes, detect_encoding
from services.registration.uploads.error_report import (
    write_error_report_csv,
    write_error_report_xlsx,
)
from services.registration.uploads.errors import RowError, UploadRejected
from services.registration.uploads.newborns import NewbornRow, ParsedNewborns, parse_newborn_list
from services.registration.uploads.reference import (
    REFERENCE_SPECS,
    ReferenceBatch,
    ReferenceRow,
    TownshipPopulationRow,
    iter_reference_batches,
    parse_township_population,
)
from services.registration.uploads.residents import (
    ResidentBatch,
    ResidentRow,
    iter_resident_batches,
)
from services.registration.uploads.students import ParsedStudents, StudentRow, parse_student_list
from services.registration.uploads.targets import (
    ParsedTargets,
    TownshipTarget,
    parse_township_targets,
)

__all__ = [
    "DEFAULT_CERTIFIABLE",
    "DEPARTMENTS",
    "GROUP_CODES",
    "GROUP_NAMES",
    "REFERENCE_SPECS",
    "CertifiedRow",
    "NewbornRow",
    "ParsedList",
    "ParsedNewborns",
    "ParsedStudents",
    "ParsedTargets",
    "ReferenceBatch",
    "ReferenceRow",
    "ResidentBatch",
    "ResidentRow",
    "RowError",
    "StudentRow",
    "TownshipPopulationRow",
    "TownshipTarget",
    "UploadRejected",
    "certifiable_by",
    "decode_bytes",
    "detect_encoding",
    "group_code_of",
    "iter_reference_batches",
    "iter_resident_batches",
    "parse_certified_list",
    "parse_newborn_list",
    "parse_student_list",
    "parse_township_population",
    "parse_township_targets",
    "write_error_report_csv",
    "write_error_report_xlsx",
]
