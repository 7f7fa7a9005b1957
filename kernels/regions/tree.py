"""The division tree and its queries."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from kernels.regions.codes import (
    LEVEL_RANK,
    LEVELS,
    InvalidRegionCode,
    pad_code,
    short_code,
)

DEFAULT_PATH = Path(__file__).parent / "data" / "regions.csv"


@dataclass(frozen=True, slots=True)
class Region:
    code: str  # 12-digit statistical code
    parent_code: str | None  # None for provinces
    level: str  # province | city | county | township | village
    name: str

    @property
    def division_code(self) -> str:
        """6-digit GB/T 2260 code down to counties, 9 digits for townships, else 12."""
        return short_code(self.code)


def _normalise_name(name: str) -> str:
    return "".join((name or "").split()).replace("（", "(").replace("）", ")")


class RegionTree:
    """An in-memory tree of divisions, indexed by 12-digit code.

    Every method accepts codes of 6, 9 or 12 digits. A code not in the tree gives
    ``None`` from :meth:`get` and ``KeyError`` from the other queries.
    """

    def __init__(self, regions: Iterable[Region]) -> None:
        self._by_code: dict[str, Region] = {}
        self._children: dict[str, list[str]] = {}
        for region in regions:
            self._add(region)

    def _add(self, region: Region) -> None:
        if region.code in self._by_code:
            raise ValueError(f"duplicate division code {region.code}")
        if region.level not in LEVEL_RANK:
            raise ValueError(f"unknown level {region.level!r} for {region.code}")
        self._by_code[region.code] = region
        if region.parent_code is not None:
            self._children.setdefault(region.parent_code, []).append(region.code)

    # -- lookups -------------------------------------------------------------
    @staticmethod
    def _key(code: str) -> str | None:
        try:
            return pad_code(code)
        except InvalidRegionCode:
            return None

    def get(self, code: str) -> Region | None:
        key = self._key(code)
        return self._by_code.get(key) if key else None

    def __getitem__(self, code: str) -> Region:
        region = self.get(code)
        if region is None:
            raise KeyError(code)
        return region

    def __contains__(self, code: object) -> bool:
        return isinstance(code, str) and self.get(code) is not None

    def __len__(self) -> int:
        return len(self._by_code)

    def __iter__(self) -> Iterator[Region]:
        return iter(self._by_code.values())

    def children(self, code: str) -> list[Region]:
        region = self[code]
        return [self._by_code[c] for c in self._children.get(region.code, [])]

    def ancestors(self, code: str) -> list[Region]:
        """From the province down to the parent; the region itself is not included."""
        region = self[code]
        chain: list[Region] = []
        while region.parent_code is not None:
            parent = self._by_code.get(region.parent_code)
            if parent is None:
                break
            chain.append(parent)
            region = parent
        chain.reverse()
        return chain

    def descendants(self, code: str, level: str | None = None) -> list[Region]:
        """Everything under ``code`` (depth first), optionally only of one level."""
        out: list[Region] = []
        stack = list(reversed(self._children.get(self[code].code, [])))
        while stack:
            region = self._by_code[stack.pop()]
            if level is None or region.level == level:
                out.append(region)
            stack.extend(reversed(self._children.get(region.code, [])))
        return out

    def _at_level(self, code: str, level: str) -> Region | None:
        region = self[code]
        for candidate in [region, *reversed(self.ancestors(code))]:
            if candidate.level == level:
                return candidate
        return None

    def township_of(self, code: str) -> Region | None:
        """The township a village belongs to (a township is its own); None above it."""
        return self._at_level(code, "township")

    def county_of(self, code: str) -> Region | None:
        """The county-level unit of a township or village (a county is its own)."""
        return self._at_level(code, "county")

    def path_name(self, code: str, separator: str = "") -> str:
        """'山东省枣庄市滕州市荆河街道'."""
        return separator.join(r.name for r in [*self.ancestors(code), self[code]])

    def find_child(self, parent_code: str, name_or_code: str) -> Region | None:
        """A child of ``parent_code`` by code or by name ('荆河街道', or '荆河' if unique)."""
        text = _normalise_name(name_or_code)
        if text.isdigit():
            region = self.get(text)
            if region is not None and region.parent_code == self[parent_code].code:
                return region
            return None
        children = self.children(parent_code)
        exact = [c for c in children if _normalise_name(c.name) == text]
        if exact:
            return exact[0]
        prefix = [c for c in children if text and _normalise_name(c.name).startswith(text)]
        return prefix[0] if len(prefix) == 1 else None

    def with_regions(self, regions: Iterable[Region]) -> RegionTree:
        """A new tree with ``regions`` (for example uploaded villages) added."""
        tree = RegionTree(self._by_code.values())
        for region in regions:
            tree._add(region)
        return tree


def read_regions_csv(text: str) -> list[Region]:
    lines = (line for line in io.StringIO(text) if not line.startswith("#"))
    regions: list[Region] = []
    for row in csv.DictReader(lines):
        level = row["level"].strip()
        if level not in LEVELS:
            raise ValueError(f"unknown level {level!r} for {row['code']}")
        parent = (row.get("parent_code") or "").strip()
        regions.append(
            Region(
                code=pad_code(row["code"]),
                parent_code=pad_code(parent) if parent else None,
                level=level,
                name=row["name"].strip(),
            )
        )
    return regions


@lru_cache(maxsize=1)
def _default_tree() -> RegionTree:
    return RegionTree(read_regions_csv(DEFAULT_PATH.read_text(encoding="utf-8")))


def load_regions(path: str | Path | None = None) -> RegionTree:
    """Load a regions CSV (code, parent_code, level, name[, division_code]).

    Without ``path`` the shipped national file (provinces to townships) is loaded once
    and shared; treat it as read-only and use :meth:`RegionTree.with_regions` to extend.
    """
    if path is None:
        return _default_tree()
    return RegionTree(read_regions_csv(Path(path).read_text(encoding="utf-8-sig")))
