"""bench/province.py: the synthetic province population the growth benchmark loads."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "bench"))

import province  # noqa: E402

from kernels.regions import load_regions  # noqa: E402
from shared.idnumber import check_character  # noqa: E402


def _all(counties: list[province.County], chunk: int) -> dict[str, np.ndarray]:
    parts = list(province.population(counties, chunk=chunk))
    return {f: np.concatenate([getattr(c, f) for c in parts])
            for f in ("person_index", "id_number", "household_no", "head", "township", "village")}


def test_people_spread_over_real_counties_with_valid_unique_id_numbers() -> None:
    """Ten real counties share the people; every ID number is valid, unique and of its
    county; townships are the county's own and villages lie under them."""
    counties = province.pick_counties(30_000, 10)
    tree = load_regions()
    assert len({c.code for c in counties}) == 10
    assert sum(c.persons for c in counties) == 30_000
    for c in counties:
        assert tree.get(c.code + "000000") is not None
    people = list(province.population(counties, chunk=4_000))
    ids = np.concatenate([c.id_number for c in people])
    assert len(ids) == 30_000 and len(set(ids.tolist())) == 30_000
    for c in people:
        assert all(i.startswith(c.county.code) for i in c.id_number.tolist())
        assert set(c.township.tolist()) <= set(c.county.townships)
        assert all(v[:9] == t[:9] and not v.endswith("000")
                   for v, t in zip(c.village.tolist(), c.township.tolist(), strict=True))
        for i in c.id_number[:200].tolist():
            assert check_character(i[:17]) == i[17]


def test_same_arguments_same_people_and_unique_across_chunks() -> None:
    """The same arguments give the same people; generated in small chunks, ID numbers and
    household numbers stay unique across the chunks of a county."""
    counties = province.pick_counties(12_000, 10)
    a = province.population(counties, chunk=12_000)
    b = province.population(counties, chunk=12_000)
    for x, y in zip(a, b, strict=True):
        assert (x.id_number == y.id_number).all()
    small = _all(counties, 1_000)
    assert len(set(small["id_number"].tolist())) == 12_000
    assert len(set(small["household_no"].tolist())) == int(small["head"].sum())


def test_households_and_group_memberships_in_their_shares() -> None:
    """About 2.6 people a household, every household headed; each group near its share."""
    counties = province.pick_counties(100_000, 10)
    heads = members = 0
    groups = dict.fromkeys(province.GROUP_SHARES, 0)
    for c in province.population(counties):
        heads += int(c.head.sum())
        members += c.n
        assert (c.relation[c.head] == "户主").all()
        for code, rows in c.groups.items():
            groups[code] += len(rows)
    assert 2.4 < members / heads < 2.8
    for code, share in province.GROUP_SHARES.items():
        assert abs(groups[code] / members - share) < max(0.3 * share, 0.0005), code
