"""A province-scale synthetic population, generated with numpy in chunks (issue #18).

    .venv/bin/python bench/province.py [--persons 10000000] [--counties 12] [--out DIR]

People are spread over real counties of the division data (kernels/regions, Shandong by
default: Zaozhuang's six counties first, then the next ones in code order), in proportion to
each county's number of townships; within a county over its real townships and, below each
township, VILLAGES_PER_TOWNSHIP synthetic village codes (the division data stops at townships).
Households of 1 to 6 people (mean about 2.6, the census share) with a head and relations;
group memberships at GROUP_SHARES (civil affairs, rural revitalisation, disability, veterans'
shares of a rural county; drawn independently of age and household). Every value is a
function of (seed, county, chunk size, chunk number): the same arguments give the same people.

Consumers take chunks (`population`) and never hold more than one chunk of people:
bench/registration_import.py writes them as the import CSV (`write_residents_csv`),
bench/eligibility_redetermine.py and bench/reporting_progress.py COPY them into their
projections. Run alone, it writes one residents CSV per county and prints the shares.
"""

from __future__ import annotations

import argparse
import datetime as dt
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from kernels.regions import load_regions  # noqa: E402

PLAN_YEAR = 2025
VILLAGES_PER_TOWNSHIP = 48
# the share of the population in each group (certified lists of a rural county)
GROUP_SHARES = {
    "extreme_poverty": 0.004, "minimum_living_allowance": 0.030, "low_income_margin": 0.010,
    "poverty_monitoring": 0.008, "relapsed_poverty": 0.002, "lifted_out_of_poverty": 0.030,
    "orphan": 0.0005, "unsupported_child": 0.0005, "child_in_difficulty": 0.002,
    "severe_disability": 0.015, "entitled_veteran": 0.005, "family_planning_household": 0.020,
}
# household sizes 1..6 (seventh census: mean 2.62 people a household)
HOUSEHOLD_SIZES = np.array([1, 2, 3, 4, 5, 6])
HOUSEHOLD_SHARES = np.array([0.25, 0.30, 0.21, 0.13, 0.07, 0.04])
RELATIONS = np.array(["配偶", "子", "女", "父亲", "母亲", "孙子", "孙女"])
RELATION_SHARES = np.array([0.35, 0.2, 0.18, 0.07, 0.08, 0.06, 0.06])
SURNAMES = np.array(list(
    "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗郑梁谢宋唐许韩冯邓曹彭曾肖田董袁潘于蒋"
    "蔡余杜叶程苏魏吕丁任沈姚卢姜崔钟谭陆汪范金石廖贾夏韦付方白邹孟熊秦邱江尹薛闫段雷侯龙史陶黎贺顾毛郝龚邵万钱严覃武戴莫孔向汤"))
GIVEN = np.array(list("伟芳娜秀英敏静丽强磊军洋勇艳杰娟涛明超兰霞平刚桂华玉萍红娥玲芬建国志海燕春梅"))
_WEIGHTS = np.array([7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2])
_CHECK = np.array(list("10X98765432"))
_EPOCH = np.datetime64("1925-01-01")
_DAYS = int((np.datetime64(f"{PLAN_YEAR - 1}-12-31") - _EPOCH).astype(int)) + 1


@dataclass(frozen=True)
class County:
    code: str  # six digits
    name: str
    townships: tuple[str, ...]  # twelve-digit codes
    persons: int


@dataclass
class Chunk:
    """People `start` .. `start + n - 1` (global numbering), all of one county."""

    county: County
    start: int
    person_index: np.ndarray  # int64, global
    birth: np.ndarray  # datetime64[D]
    township: np.ndarray  # str, twelve digits
    village: np.ndarray  # str, twelve digits
    household_no: np.ndarray  # str, unique in the province
    head: np.ndarray  # bool: the household's head
    relation: np.ndarray  # str (户主 for heads)
    id_number: np.ndarray  # str, 18 characters, valid check character, unique
    name: np.ndarray  # str
    phone: np.ndarray  # str ('' when none given)
    groups: dict[str, np.ndarray]  # group code -> positions in the chunk

    @property
    def n(self) -> int:
        return len(self.person_index)

    def age(self, plan_year: int = PLAN_YEAR) -> np.ndarray:
        return plan_year - (self.birth.astype("datetime64[Y]").astype(int) + 1970)

    def person_uuid_text(self) -> np.ndarray:
        """Person ids as UUID text: a fixed version-4 prefix and the global index."""
        return np.char.add("00000000-0000-4000-8000-",
                           np.char.zfill(np.char.mod("%x", self.person_index), 12))


def pick_counties(persons: int, count: int = 12, province: str = "370000000000",
                  first: str = "3704") -> list[County]:
    """`count` real counties of the province (the city `first` leads), people shared in
    proportion to their townships; the last county takes the rounding."""
    tree = load_regions()
    counties = [r for r in tree.descendants(province, "county") if tree.children(r.code)]
    counties.sort(key=lambda r: (not r.code.startswith(first), r.code))
    chosen = counties[:count]
    if len(chosen) < count:
        raise ValueError(f"{province} has only {len(chosen)} counties with townships")
    towns = [tuple(t.code for t in tree.children(r.code)) for r in chosen]
    total = sum(len(t) for t in towns)
    shares = [persons * len(t) // total for t in towns]
    shares[-1] += persons - sum(shares)
    return [County(r.code[:6], r.name, t, n) for r, t, n in zip(chosen, towns, shares, strict=True)]


def one_county(code: str, persons: int) -> list[County]:
    tree = load_regions()
    region = tree[code]
    return [County(code[:6], region.name, tuple(t.code for t in tree.children(region.code)),
                   persons)]


def population(counties: list[County], seed: int = 20250101, chunk: int = 500_000,
               only: str | None = None) -> Iterator[Chunk]:
    """Every person of `counties` (of county `only` if given), county after county, `chunk`
    people at a time."""
    start = 0
    for ci, county in enumerate(counties):
        if only is not None and county.code != only:
            start += county.persons
            continue
        # a person's ID number is county + birth date + a sequence unique per (county, date)
        seq = np.zeros(_DAYS, dtype=np.int64)
        households = 0
        for k, offset in enumerate(range(0, county.persons, chunk)):
            n = min(chunk, county.persons - offset)
            rng = np.random.default_rng([seed, ci, k])
            c = _chunk(rng, county, ci, start, n, seq, households)
            households += int(np.count_nonzero(c.head))
            start += n
            yield c


def _chunk(rng: np.random.Generator, county: County, ci: int, start: int, n: int,
           seq: np.ndarray, households_before: int) -> Chunk:
    # households: sizes until n people, the last one cut to fit
    sizes = rng.choice(HOUSEHOLD_SIZES, size=n // 2 + 6, p=HOUSEHOLD_SHARES)
    ends = np.cumsum(sizes)
    count = int(np.searchsorted(ends, n)) + 1
    sizes = sizes[:count]
    sizes[-1] -= int(ends[count - 1]) - n
    household = np.repeat(np.arange(count), sizes)
    head = np.zeros(n, dtype=bool)
    head[np.concatenate(([0], np.cumsum(sizes)[:-1]))] = True
    relation = np.where(head, "户主", RELATIONS[rng.choice(len(RELATIONS), n, p=RELATION_SHARES)])
    hh_no = np.char.add(f"{county.code}{ci:02d}",
                        np.char.zfill((households_before + household).astype(str), 9))
    # a household lives in one village of one township
    towns = np.array(county.townships)
    hh_town = rng.integers(0, len(towns), count)
    hh_village = rng.integers(1, VILLAGES_PER_TOWNSHIP + 1, count)
    township = towns[hh_town][household]
    village = np.char.add(np.array([t[:9] for t in towns])[hh_town][household],
                          (200 + hh_village[household]).astype(str))
    # ages: roughly the rural age pyramid (mean 42, none over 100)
    age = np.clip(rng.normal(42, 22, n), 0, 99).astype(np.int64)
    day_in_year = rng.integers(0, 365, n)
    birth = (np.array([f"{PLAN_YEAR - 1}-01-01"], dtype="datetime64[D]")
             - (age * 365.25).astype(np.int64) + day_in_year)
    birth = np.minimum(birth, np.datetime64(f"{PLAN_YEAR - 1}-12-31"))
    days = (birth - _EPOCH).astype(np.int64)
    # sequence: how many earlier people of the county share the birth date
    order = np.argsort(days, kind="stable")
    sd = days[order]
    first = np.concatenate(([True], sd[1:] != sd[:-1]))
    group_start = np.maximum.accumulate(np.where(first, np.arange(n), 0))
    rank = np.empty(n, dtype=np.int64)
    rank[order] = np.arange(n) - group_start + seq[sd]
    np.add.at(seq, days, 1)
    if rank.max() >= 1000:
        raise ValueError("more than 999 people of one county share a birth date")
    first17 = np.char.add(np.char.add(county.code, np.datetime_as_string(birth).astype("U10")),
                          np.char.zfill(rank.astype(str), 3))
    first17 = np.char.replace(first17, "-", "")
    digits = first17.view("U1").reshape(n, 17).astype(np.int64)
    id_number = np.char.add(first17, _CHECK[(digits @ _WEIGHTS) % 11])
    given2 = rng.random(n) < 0.7
    name = np.char.add(np.char.add(SURNAMES[rng.integers(0, len(SURNAMES), n)],
                                   GIVEN[rng.integers(0, len(GIVEN), n)]),
                       np.where(given2, GIVEN[rng.integers(0, len(GIVEN), n)], ""))
    has_phone = rng.random(n) < 0.6
    phone = np.where(has_phone, np.char.add(
        np.char.add("1", np.array(list("3589"))[rng.integers(0, 4, n)]),
        np.char.zfill(rng.integers(0, 1_000_000_000, n).astype(str), 9)), "")
    groups = {code: np.flatnonzero(rng.random(n) < share) for code, share in GROUP_SHARES.items()}
    return Chunk(county, start, np.arange(start, start + n, dtype=np.int64), birth, township,
                 village, hh_no, head, relation, id_number, name, phone, groups)


RESIDENTS_HEADER = "姓名,身份证号,手机号,户号,与户主关系,乡镇代码,村代码\n"


def residents_csv(c: Chunk) -> str:
    """The chunk's lines of the import-residents CSV."""
    line = c.name
    for col in (c.id_number, c.phone, c.household_no, c.relation, c.township, c.village):
        line = np.char.add(np.char.add(line, ","), col)
    return "\n".join(line.tolist()) + "\n"


def write_residents_csv(path: Path, chunks: Iterator[Chunk]) -> tuple[int, int]:
    """The import-residents CSV (as a village committee uploads it); returns (rows, bytes)."""
    rows = 0
    with path.open("w", encoding="utf-8", newline="") as f:
        f.write(RESIDENTS_HEADER)
        for c in chunks:
            f.write(residents_csv(c))
            rows += c.n
    return rows, path.stat().st_size


def date_text(birth: np.ndarray) -> np.ndarray:
    return np.datetime_as_string(birth, unit="D")


def copy_text(*columns: np.ndarray | str) -> bytes:
    """Rows for COPY ... FROM STDIN (text format): the columns tab-separated (a str is the same
    value in every row; values must hold no tab, newline or backslash)."""
    n = next(len(c) for c in columns if not isinstance(c, str))
    line: np.ndarray = np.full(n, columns[0]) if isinstance(columns[0], str) else columns[0]
    for col in columns[1:]:
        line = np.char.add(np.char.add(line, "\t"), col)
    return ("\n".join(line.tolist()) + "\n").encode()


async def copy_rows(conn: object, table: str, columns: list[str], data: bytes) -> None:
    """COPY `data` (copy_text) into schema-qualified `table` on asyncpg connection `conn`."""
    import io

    schema, name = table.split(".")
    await conn.copy_to_table(name, schema_name=schema, columns=columns,  # type: ignore[attr-defined]
                             source=io.BytesIO(data), format="text")


def describe(counties: list[County]) -> str:
    return ", ".join(f"{c.code} {c.name} {c.persons:,} ({len(c.townships)} townships)"
                     for c in counties)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--persons", type=int, default=10_000_000)
    parser.add_argument("--counties", type=int, default=12)
    parser.add_argument("--out", type=Path, default=None,
                        help="write one residents CSV per county here")
    args = parser.parse_args()
    counties = pick_counties(args.persons, args.counties)
    print(describe(counties))
    t0 = time.perf_counter()
    persons = heads = 0
    members = dict.fromkeys(GROUP_SHARES, 0)
    if args.out is not None:
        args.out.mkdir(parents=True, exist_ok=True)
        for county in counties:
            n, size = write_residents_csv(args.out / f"residents-{county.code}.csv",
                                          population(counties, only=county.code))
            print(f"{county.code}: {n:,} rows, {size / 1e6:,.0f} MB", flush=True)
            persons += n
    else:
        for c in population(counties):
            persons += c.n
            heads += int(c.head.sum())
            for code, rows in c.groups.items():
                members[code] += len(rows)
        print(f"{persons:,} people in {heads:,} households "
              f"({persons / heads:.2f} a household); group members: "
              + ", ".join(f"{k} {v:,}" for k, v in members.items()))
    print(f"{time.perf_counter() - t0:.1f}s; {dt.datetime.now(dt.UTC):%Y-%m-%d %H:%M} UTC")


if __name__ == "__main__":
    main()
