"""Administrative divisions: province → city → county → township → village."""

from kernels.regions.codes import (
    LEVELS,
    InvalidRegionCode,
    level_from_code,
    pad_code,
    short_code,
)
from kernels.regions.tree import Region, RegionTree, load_regions

__all__ = [
    "LEVELS",
    "InvalidRegionCode",
    "Region",
    "RegionTree",
    "level_from_code",
    "load_regions",
    "pad_code",
    "short_code",
]
