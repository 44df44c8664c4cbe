"""How long to wait before trying a failed job again: pure, so domain policies use it too."""

from datetime import timedelta


def backoff(attempts: int, initial: timedelta, maximum: timedelta) -> timedelta:
    """The wait after the ``attempts``-th failure: ``initial``, then doubling, at most
    ``maximum``."""
    doublings = min(max(attempts - 1, 0), 32)
    wait: timedelta = initial * (2**doublings)
    return min(wait, maximum)
