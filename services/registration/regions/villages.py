"""Village lists (村/社区) uploaded per county: the statistics bureau's 12-digit codes.

Form (CSV or XLSX): 村代码 (code), 村名称 (name), 所属乡镇代码 (township_code);
optional 城乡分类代码 (urban-rural classification, 111 … 220). Each village's code must
have 12 digits, start with its township's 9 digits, not end in 000, and the township
must exist in the tree.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass

from kernels.regions.codes import InvalidRegionCode, pad_code
from kernels.regions.tree import Region, RegionTree
from services.registration.uploads.errors import RowError, file_error
from services.registration.uploads.tables import Column, TableReader, TableSpec

VILLAGE_SPEC = TableSpec(
    columns=(
        Column("code", "村代码", ("村(社区)代码", "村居代码", "统计用区划代码", "区划代码")),
        Column("name", "村名称", ("村(社区)名称", "村居名称", "村名", "名称")),
        Column(
            "township_code",
            "所属乡镇代码",
            ("乡镇代码", "所属乡镇(街道)代码", "镇街代码", "township_code", "parent_code"),
        ),
        Column("urban_rural", "城乡分类代码", ("城乡分类",), required=False),
    ),
)
_CODE12 = re.compile(r"^\d{12}$")


@dataclass(frozen=True, slots=True)
class VillageRow:
    row_number: int
    region: Region
    urban_rural: str | None = None


@dataclass
class VillageUpload:
    villages: list[VillageRow]
    errors: list[RowError]
    content_sha256: str

    @property
    def ok(self) -> bool:
        return not self.errors

    def apply(self, tree: RegionTree) -> RegionTree:
        """A new tree with these villages added (only when the upload had no errors)."""
        if self.errors:
            raise ValueError("the village upload has errors; fix them first")
        return tree.with_regions(v.region for v in self.villages)


def parse_village_upload(
    content: bytes,
    tree: RegionTree,
    *,
    filename: str | None = None,
    county_code: str | None = None,
) -> VillageUpload:
    """Parse and check a village list against ``tree`` (optionally limited to one county)."""
    reader = TableReader(content, VILLAGE_SPEC, filename)
    villages: list[VillageRow] = []
    errors: list[RowError] = list(reader.errors)
    seen: dict[str, int] = {}
    county = pad_code(county_code) if county_code else None
    for number, v, _ in reader.rows():
        code, name, parent_text = v["code"], v["name"], v["township_code"]
        problems: list[RowError] = []
        try:
            parent = pad_code(parent_text)
        except InvalidRegionCode:
            parent = ""
        township = tree.get(parent) if parent else None
        if township is None or township.level != "township":
            problems.append(
                RowError(
                    number, "所属乡镇代码", parent_text, "所属乡镇代码不存在", "unknown_township"
                )
            )
        elif county is not None and (tree.county_of(parent) or township).code != county:
            problems.append(
                RowError(
                    number, "所属乡镇代码", parent_text, "乡镇不属于本县（市、区）", "wrong_county"
                )
            )
        if not _CODE12.match(code):
            problems.append(RowError(number, "村代码", code, "村代码应为12位数字", "bad_code"))
        elif code.endswith("000"):
            problems.append(RowError(number, "村代码", code, "村代码后三位不能为000", "bad_code"))
        elif township is not None and code[:9] != township.code[:9]:
            problems.append(
                RowError(
                    number,
                    "村代码",
                    code,
                    f"村代码应以所属乡镇代码 {township.code[:9]} 开头",
                    "not_under_parent",
                )
            )
        elif code in seen:
            problems.append(
                RowError(number, "村代码", code, f"与第 {seen[code]} 行重复", "duplicate_row")
            )
        elif code in tree:
            problems.append(RowError(number, "村代码", code, "该村代码已存在", "already_exists"))
        if not name:
            problems.append(RowError(number, "村名称", "", "村名称为空", "missing_name"))
        if problems:
            errors.extend(problems)
            continue
        seen[code] = number
        villages.append(
            VillageRow(number, Region(code, parent, "village", name), v.get("urban_rural") or None)
        )
    errors.extend(e for e in reader.errors if e not in errors)
    if not villages and not errors:
        errors.append(file_error("文件中没有数据行", "empty"))
    return VillageUpload(villages, errors, hashlib.sha256(content).hexdigest())
