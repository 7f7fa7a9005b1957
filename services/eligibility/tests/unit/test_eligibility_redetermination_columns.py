"""The redetermination's columnar path: binary COPY framing, outbox shards without strings, and
results equal, person by person, to those of the row path (compute)."""

from __future__ import annotations

import uuid

import numpy as np
import orjson
import pytest
from eligibility_testdata import random_population

from kernels.policy import (
    PolicyCatalog,
    determine,
    determine_batch,
    determine_terms,
)
from kernels.policy.batch import person_from_columns
from kernels.policy.rules import person_dependent_assumptions, without_refused
from services.eligibility.plans.registry import SEED_DIR
from services.eligibility.redeterminations import pgbinary
from services.eligibility.redeterminations.population import (
    Chunk,
    Staged,
    category_names,
    compute,
    compute_staged,
)
from shared.outbox import shard_of, shards_of_uuids

PLANS = [("370481", 2025), ("370481", 2021), ("370124", 2025), ("370827", 2024), ("140600", 2025)]


def _uuids(ids: list[uuid.UUID]) -> np.ndarray:
    return np.frombuffer(b"".join(u.bytes for u in ids), np.uint8).reshape(-1, 16)


def test_binary_copy_round_trip() -> None:
    ids = [uuid.uuid4() for _ in range(3)]
    columns = [("bool", np.array([True, False, True])), ("int2", np.array([-1, 0, 32767])),
               ("int4", np.array([-(2**31), 7, 2**31 - 1])),
               ("int8", np.array([-(2**63), 0, 2**63 - 1])),
               ("uuid", _uuids(ids).view("V16").ravel())]
    data = pgbinary.build(columns)
    assert data.startswith(b"PGCOPY\n\xff\r\n\x00") and data.endswith(b"\xff\xff")
    back = pgbinary.parse(data, [t for t, _ in columns])
    for (_, sent), got in zip(columns, back, strict=True):
        assert got.tolist() == sent.tolist()
    assert [uuid.UUID(bytes=v.tobytes()) for v in back[4]] == ids
    assert [len(c) for c in pgbinary.parse(pgbinary.build([("int4", np.zeros(0))]),
                                           ["int4"])] == [0]


def test_binary_copy_refuses_a_null_or_another_layout() -> None:
    data = bytearray(pgbinary.build([("int4", np.array([1, 2])), ("int4", np.array([3, 4]))]))
    with pytest.raises(ValueError):
        pgbinary.parse(bytes(data), ["int4", "int8"])  # other widths
    null = data[:19] + b"\x00\x02" + b"\xff\xff\xff\xff" + b"\x00\x00\x00\x04\x00\x00\x00\x09"
    with pytest.raises(ValueError):  # a NULL field (no data) makes the row shorter
        pgbinary.parse(bytes(null + b"\xff\xff"), ["int4", "int4"])
    with pytest.raises(ValueError):
        pgbinary.parse(b"COPY" + bytes(data[4:]), ["int4", "int4"])


def test_shards_are_the_outbox_shards_of_the_person_ids() -> None:
    ids = [uuid.uuid4() for _ in range(20_000)]
    ids += [uuid.UUID(int=0), uuid.UUID(int=2**128 - 1), uuid.UUID(int=1 << 64)]
    assert shards_of_uuids(_uuids(ids)).tolist() == [shard_of(str(p)) for p in ids]


@pytest.mark.parametrize("plan", PLANS, ids=[f"{r}-{y}" for r, y in PLANS])
def test_staged_results_are_the_row_results(plan: tuple[str, int]) -> None:
    policy = PolicyCatalog.load(SEED_DIR).get(*plan)
    n = 30_000
    cols = random_population(n, policy.plan_year, seed=PLANS.index(plan) + 7)
    enrolled = np.random.default_rng(3).random(n) > 0.04  # some stopped or ended
    ids = [uuid.UUID(int=i + 1) for i in range(n)]
    rows = compute(policy, Chunk(person_ids=ids, status=enrolled, county=["x"] * n,
                                 township=[None] * n, village=[None] * n, columns=cols))
    staged = compute_staged(policy, Staged(n=n, last_person_id=ids[-1], enrolled=enrolled,
                                           shard=np.zeros(n, np.int16), columns=cols))
    assert staged.key.min() >= 0 and len(staged.results) < n // 10  # shared, not per person
    categories = category_names(rows.category)
    # rows with a declaration determine() refuses (rules.derive_category) are decided, in
    # bulk, by the category derived from the birth date: compare them with that
    undeclared = without_refused(cols, determine_batch(policy, cols))
    for i in range(n):
        assert staged.results[staged.key[i]][:7] == (
            categories[i], int(rows.standard[i]), int(rows.personal[i]),
            int(rows.surcharge[i]), rows.coverage[i], rows.subsidies[i], rows.trace[i]), i
    # the assumptions stored are the person's own (determine()), plus the age basis wherever
    # a rule has an age condition (whether it matters is decided person by person)
    age_basis = {policy.describe_assumption(a) for a in policy.model.age_basis_assumptions}
    # (the stored determination is the on-time outcome, whatever the person paid when: the
    # late outcome travels beside it, and owed_on picks between them for a payment date)
    for i in range(0, n, 97):
        person, _ = person_from_columns(undeclared, i)
        if not enrolled[i]:
            assert staged.results[staged.key[i]][7] == "[]"
            continue
        d = determine(policy, person)
        own = set(d.assumptions)
        stored = set(orjson.loads(staged.results[staged.key[i]][7]))
        winner = policy.rules[policy.rule_ids.index(d.winning_rule)] if d.winning_rule else None
        may = age_basis | set(person_dependent_assumptions(policy, winner, d.insured_category))
        assert own <= stored and stored - own <= may, i
    # both outcomes, per distinct result: what determine_terms gives each person
    for i in range(0, n, 13):
        if not enrolled[i]:
            assert staged.results[staged.key[i]][8:] == (None, None, None)
            continue
        person, _ = person_from_columns(undeclared, i)
        _, terms = determine_terms(policy, person)
        until, payable, late = staged.results[staged.key[i]][8:]
        assert (until, payable) == (terms.on_time_until, terms.payable_until), i
        assert (orjson.loads(late) if late else None) == (
            terms.late.to_dict() if terms.late else None), i
    special = {staged.key[i] for i in range(n) if rows.coverage[i] != policy.plan_start}
    assert special or policy.newborn is None  # newborns and late payers went one by one
