"""Error reports of refused uploads."""
