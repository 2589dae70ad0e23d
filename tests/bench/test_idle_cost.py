"""bench.idle_cost: commands per second between two readings of Redis's counters."""

from __future__ import annotations

from bench.idle_cost import per_second


def test_the_rates_leave_out_the_readings_own_info_and_list_the_busiest_first() -> None:
    before = {"info": 10, "hset": 5, "expire": 20, "get": 7}
    after = {"info": 11, "hset": 15, "expire": 80, "get": 7, "blpop": 2}
    assert per_second(before, after, 2.0) == {"expire": 30.0, "hset": 5.0, "blpop": 1.0}
