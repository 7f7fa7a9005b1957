"""Canbao eligibility engine: versioned plan files and a determination that explains itself.

Pure code: no I/O apart from reading a folder of policy files in PolicyCatalog.load (the
caller names the folder: plans travel as data, eligibility's seed files stay with it).
"""

from kernels.codes import AGE_BASES, BUDGET_LINES, GROUP_CODES, GROUP_NAMES_ZH, INSURED_CATEGORIES

from .batch import BatchColumns, BatchResult, determine_batch
from .catalog import (
    PlanKey,
    PolicyCatalog,
    load_policy_file,
    parse_policy,
    region_chain,
)
from .determine import Determination, GroupMembership, PersonFacts, SubsidyLine, determine
from .errors import (
    EligibilityError,
    ImpossibleCategory,
    InvalidDeclaration,
    PlanNotFound,
    PolicyFileError,
    UnknownGroupCode,
    UnknownInsuredCategory,
)
from .owed import (
    CLOSED,
    LATE,
    ON_TIME,
    KnownHistory,
    Outcome,
    Owed,
    Terms,
    determine_terms,
    owed_on,
    terms_from,
)
from .policy import Policy
from .trace import TraceEntry

__all__ = [
    "AGE_BASES",
    "BUDGET_LINES",
    "GROUP_CODES",
    "GROUP_NAMES_ZH",
    "INSURED_CATEGORIES",
    "CLOSED",
    "LATE",
    "ON_TIME",
    "BatchColumns",
    "BatchResult",
    "Determination",
    "EligibilityError",
    "ImpossibleCategory",
    "InvalidDeclaration",
    "GroupMembership",
    "KnownHistory",
    "Outcome",
    "Owed",
    "PersonFacts",
    "PlanKey",
    "PlanNotFound",
    "Policy",
    "PolicyCatalog",
    "PolicyFileError",
    "SubsidyLine",
    "Terms",
    "TraceEntry",
    "UnknownGroupCode",
    "UnknownInsuredCategory",
    "determine",
    "determine_batch",
    "determine_terms",
    "load_policy_file",
    "owed_on",
    "parse_policy",
    "region_chain",
    "terms_from",
]
