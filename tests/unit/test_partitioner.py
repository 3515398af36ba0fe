"""The fast murmur2 partitioner gives aiokafka's (Java's) answer for every key."""

from __future__ import annotations

import random

from aiokafka.partitioner import murmur2 as reference

from streams.core.partitioner import murmur2, partition_for


def test_murmur2_equals_the_reference_for_every_length_and_byte() -> None:
    rng = random.Random(4)
    keys = [b"", b"a", b"ab", b"abc", b"abcd", "lead-é".encode(), bytes(range(256))]
    keys += [rng.randbytes(rng.randint(0, 70)) for _ in range(3000)]
    for key in keys:
        assert murmur2(key) == reference(key) & 0xFFFFFFFF, key


def test_partition_for_matches_kafkas_default_partitioner() -> None:
    for i in range(2000):
        key = f"lead-{i}".encode()
        for n in (1, 4, 8, 48):
            assert partition_for(key, n) == (reference(key) & 0x7FFFFFFF) % n
            assert partition_for(key, n) == partition_for(key, n)  # cached answer
