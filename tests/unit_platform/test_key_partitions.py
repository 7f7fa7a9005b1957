"""`shared.kafka.key_partitions` (the relay's partition of each key, for a whole fetch at once)
gives the partition aiokafka's own DefaultPartitioner gives: for keys of every length from 0 to
70 bytes (each tail case of murmur2), non-ASCII text and several partition counts."""

from __future__ import annotations

import random

from aiokafka.partitioner import DefaultPartitioner

from shared.kafka import key_partitions


def test_every_key_lands_where_the_producer_would_put_it() -> None:
    rng = random.Random(18)
    keys = [rng.randbytes(rng.randint(0, 70)) for _ in range(3000)]
    keys += [str(i).encode() for i in range(300)] + ["滕州市荆河街道-é".encode() * k
                                                      for k in range(6)]
    for count in (1, 3, 6, 7, 48):
        partitions = list(range(count))
        expected = [DefaultPartitioner()(k, partitions, partitions) for k in keys]
        assert key_partitions(keys, count).tolist() == expected, count


def test_no_keys() -> None:
    assert key_partitions([], 6).tolist() == []
