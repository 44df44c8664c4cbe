"""The kit's backoff: exponential from the first failure, capped."""

from datetime import timedelta

from shared.db.backoff import backoff

SECOND = timedelta(seconds=1)


def test_the_wait_doubles_from_the_first_failure_up_to_the_cap() -> None:
    waits = [backoff(n, 2 * SECOND, 30 * SECOND) for n in range(1, 7)]
    assert waits == [2 * SECOND, 4 * SECOND, 8 * SECOND, 16 * SECOND, 30 * SECOND, 30 * SECOND]


def test_no_failure_yet_waits_the_initial_time_and_huge_counts_do_not_overflow() -> None:
    assert backoff(0, SECOND, timedelta(hours=1)) == SECOND
    assert backoff(10_000, SECOND, timedelta(hours=1)) == timedelta(hours=1)
