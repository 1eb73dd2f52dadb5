from __future__ import annotations

import time

import pytest

from smsswitch.journal.ids import ID_LENGTH, MessageIdGenerator, id_time, is_our_id


def test_ids_are_unique_sorted_and_fit_smpp_message_id() -> None:
    gen = MessageIdGenerator(node=3)
    ids = [gen.next() for _ in range(20_000)]
    assert len(set(ids)) == len(ids)
    assert ids == sorted(ids)
    assert all(len(i) == ID_LENGTH <= 64 and is_our_id(i) for i in ids)


def test_clock_stepping_back_never_reorders() -> None:
    now = [2_000_000_000_000_000_000]
    gen = MessageIdGenerator(clock_ns=lambda: now[0])
    first = gen.next()
    now[0] -= 5_000_000_000  # five seconds back
    second = gen.next()
    assert second > first


def test_floor_from_the_journal_survives_a_slower_clock_after_restart() -> None:
    fast = MessageIdGenerator(clock_ns=lambda: 2_000_000_000_000_000_000)
    last = fast.next()
    slow = MessageIdGenerator(floor=last, clock_ns=lambda: 1_000_000_000_000_000_000)
    assert slow.next() > last


def test_id_time_reads_the_creation_time_back() -> None:
    before = time.time()
    message_id = MessageIdGenerator().next()
    assert before - 0.002 <= id_time(message_id) <= time.time() + 0.002


def test_counter_overflow_moves_to_the_next_millisecond() -> None:
    gen = MessageIdGenerator(clock_ns=lambda: 1_000_000_000_000_000_000)
    gen._counter = (1 << 24) - 2  # white-box: the end of one millisecond's range
    a, b, c = gen.next(), gen.next(), gen.next()
    assert a < b < c
    assert id_time(c) == pytest.approx(id_time(a) + 0.001)


def test_node_numbers_are_checked() -> None:
    with pytest.raises(ValueError):
        MessageIdGenerator(node=256)
    assert not is_our_id("XYZ") and not is_our_id("0" * 19 + "G")
