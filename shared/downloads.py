"""Download headers: a file name a person reads (Chinese), sent so that every browser keeps it.

    attachment("2025年度认定名单.xlsx") -> {"content-disposition": ...}
"""

from __future__ import annotations

import re
from urllib.parse import quote

_FORBIDDEN = re.compile(r'[\\/:*?"<>|\x00-\x1f]+')


def attachment(name: str) -> dict[str, str]:
    """The Content-Disposition of a download named `name` (characters no file system takes
    become "_"): percent-encoded in `filename` and as RFC 5987 UTF-8 in `filename*`."""
    safe = quote(_FORBIDDEN.sub("_", name))
    return {"content-disposition": f"attachment; filename=\"{safe}\"; filename*=UTF-8''{safe}"}
