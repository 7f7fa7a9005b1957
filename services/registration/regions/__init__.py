"""Registration's regions: the village upload and the regions API (the tree is kernels.regions)."""

from services.registration.regions.villages import (
    VillageRow,
    VillageUpload,
    parse_village_upload,
)

__all__ = ["VillageRow", "VillageUpload", "parse_village_upload"]
