"""Township enrollment tasks (参保任务数) for one county, as the plan's annex lists them.

Form: one row per township with its name (乡镇 / 镇街 / 乡镇(街道)) or its code
(乡镇代码), or both, and the head-count target (任务数 / 参保任务数（人）). A row named
合计 / 总计 is taken as the declared total and checked against the sum.
"""

from __future__ import annotations

import hashlib
import re
import unicodedata
from dataclasses import dataclass

from kernels.regions.codes import pad_code
from kernels.regions.tree import Region, RegionTree, load_regions
from services.registration.uploads.errors import RowError, file_error
from services.registration.uploads.tables import Column, TableReader, TableSpec

TARGETS_SPEC = TableSpec(
    columns=(
        Column(
            "township",
            "乡镇",
            ("镇街", "乡镇(街道)", "镇(街道)", "街道", "乡镇名称", "镇街名称", "单位"),
            required=False,
        ),
        Column(
            "township_code",
            "乡镇代码",
            ("镇街代码", "区划代码", "统计用区划代码", "代码"),
            required=False,
        ),
        Column(
            "target",
            "参保任务数",
            (
                "任务数",
                "参保任务数(人)",
                "征缴任务数",
                "任务数(人)",
                "目标任务数",
                "参保征缴任务数",
            ),
        ),
    ),
    one_of=(("township", "township_code"),),
)
_TOTAL_NAMES = {"合计", "总计", "全市", "全县", "全区", "小计", "total"}


@dataclass(frozen=True, slots=True)
class TownshipTarget:
    township_code: str
    name: str
    target: int
    row_number: int = 0


@dataclass
class ParsedTargets:
    county_code: str
    targets: list[TownshipTarget]
    errors: list[RowError]
    content_sha256: str
    declared_total: int | None = None

    @property
    def ok(self) -> bool:
        return not self.errors

    @property
    def total(self) -> int:
        return sum(t.target for t in self.targets)


def _parse_count(text: str) -> int | None:
    value = unicodedata.normalize("NFKC", text or "")
    value = re.sub(r"[\s,人]", "", value)
    if value.endswith(".0"):
        value = value[:-2]
    return int(value) if value.isdigit() else None


def parse_township_targets(
    content: bytes,
    *,
    county_code: str,
    regions: RegionTree | None = None,
    filename: str | None = None,
) -> ParsedTargets:
    regions = regions or load_regions()
    county = regions.get(county_code)
    digest = hashlib.sha256(content).hexdigest()
    if county is None:
        return ParsedTargets(
            pad_code(county_code),
            [],
            [file_error(f"区划代码 {county_code} 不存在", "unknown_region")],
            digest,
        )
    reader = TableReader(content, TARGETS_SPEC, filename)
    targets: list[TownshipTarget] = []
    errors: list[RowError] = list(reader.errors)
    seen: dict[str, int] = {}
    declared: int | None = None
    declared_row = 0
    for number, values, _ in reader.rows():
        name, code_text = values.get("township", ""), values.get("township_code", "")
        count = _parse_count(values["target"])
        if name.strip().lower() in _TOTAL_NAMES:
            declared, declared_row = count, number
            continue
        if count is None:
            errors.append(
                RowError(number, "参保任务数", values["target"], "任务数应为非负整数", "bad_number")
            )
            continue
        region: Region | None = None
        if code_text:
            region = regions.find_child(county.code, code_text)
            if region is None:
                errors.append(
                    RowError(
                        number,
                        "乡镇代码",
                        code_text,
                        f"{county.name}没有代码为 {code_text} 的乡镇（街道）",
                        "unknown_township",
                    )
                )
                continue
            if name and regions.find_child(county.code, name) != region:
                errors.append(
                    RowError(
                        number,
                        "乡镇",
                        name,
                        f"乡镇名称与代码 {code_text}（{region.name}）不一致",
                        "township_mismatch",
                    )
                )
                continue
        else:
            region = regions.find_child(county.code, name)
            if region is None:
                errors.append(
                    RowError(
                        number,
                        "乡镇",
                        name,
                        f"{county.name}没有名为“{name}”的乡镇（街道）",
                        "unknown_township",
                    )
                )
                continue
        if region.code in seen:
            errors.append(
                RowError(
                    number,
                    "乡镇",
                    name or code_text,
                    f"与第 {seen[region.code]} 行是同一乡镇",
                    "duplicate_row",
                )
            )
            continue
        seen[region.code] = number
        targets.append(TownshipTarget(region.code, name or region.name, count, number))
    errors.extend(e for e in reader.errors if e not in errors)  # found while reading rows
    result = ParsedTargets(county.code, targets, errors, digest, declared)
    if declared is not None and not errors and declared != result.total:
        errors.append(
            RowError(
                declared_row,
                "参保任务数",
                str(declared),
                f"合计 {declared} 与各乡镇之和 {result.total} 不一致",
                "total_mismatch",
            )
        )
    if not targets and not errors:
        errors.append(file_error("文件中没有数据行", "empty"))
    return result
