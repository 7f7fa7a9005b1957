"""Administrative divisions: province → city → county → township → village."""

from services.registration.regions.codes import (
    LEVELS,
    InvalidRegionCode,
    level_from_code,
    pad_code,
    short_code,
)
from services.registration.regions.tree import Region, RegionTree, load_regions
from services.registration.regions.villages import (
    VillageRow,
    VillageUpload,
    parse_village_upload,
)

__all__ = [
    "LEVELS",
    "InvalidRegionCode",
    "Region",
    "RegionTree",
    "VillageRow",
    "VillageUpload",
    "level_from_code",
    "load_regions",
    "pad_code",
    "parse_village_upload",
    "short_code",
]
