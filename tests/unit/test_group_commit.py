"""Group commit: concurrent jobs share a batch, and each caller gets its own result."""

import asyncio
from collections.abc import Sequence

import pytest

from shared.group_commit import GroupCommit


class Handler:
    def __init__(self, pause: float = 0.0) -> None:
        self.batches: list[list[int]] = []
        self.pause = pause
        self.in_flight = 0
        self.most_in_flight = 0

    async def __call__(self, jobs: Sequence[int]) -> list[str | Exception]:
        self.batches.append(list(jobs))
        self.in_flight += 1
        self.most_in_flight = max(self.most_in_flight, self.in_flight)
        await asyncio.sleep(self.pause)
        self.in_flight -= 1
        return [ValueError(f"bad {job}") if job < 0 else f"done {job}" for job in jobs]


async def test_jobs_submitted_together_go_in_one_batch_and_get_their_own_results() -> None:
    handler = Handler()
    group = GroupCommit(handler)
    results = await asyncio.gather(*(group.submit(n) for n in range(5)))
    assert results == [f"done {n}" for n in range(5)]
    assert handler.batches == [[0, 1, 2, 3, 4]]


async def test_a_failed_job_fails_only_its_caller() -> None:
    group = GroupCommit(Handler())
    results = await asyncio.gather(*(group.submit(n) for n in (1, -2, 3)), return_exceptions=True)
    assert results[0] == "done 1"
    assert isinstance(results[1], ValueError)
    assert results[2] == "done 3"


async def test_a_failed_batch_fails_every_caller_in_it() -> None:
    async def broken(jobs: Sequence[int]) -> list[str | Exception]:
        raise ConnectionError("database gone")

    group = GroupCommit(broken)
    results = await asyncio.gather(*(group.submit(n) for n in range(3)), return_exceptions=True)
    assert all(isinstance(result, ConnectionError) for result in results)


async def test_jobs_wait_for_a_free_slot_and_then_go_together() -> None:
    handler = Handler(pause=0.05)
    group = GroupCommit(handler, max_batch=3, max_in_flight=1)
    first = asyncio.create_task(group.submit(0))
    await asyncio.sleep(0.01)  # batch [0] is in flight; the next ones wait for it
    rest = [asyncio.create_task(group.submit(n)) for n in range(1, 6)]
    await asyncio.gather(first, *rest)
    assert handler.batches == [[0], [1, 2, 3], [4, 5]]
    assert handler.most_in_flight == 1


@pytest.mark.parametrize("max_in_flight", [1, 3])
async def test_no_more_batches_in_flight_than_allowed(max_in_flight: int) -> None:
    handler = Handler(pause=0.01)
    group = GroupCommit(handler, max_batch=2, max_in_flight=max_in_flight)
    await asyncio.gather(*(group.submit(n) for n in range(20)))
    assert handler.most_in_flight == max_in_flight
    assert sorted(job for batch in handler.batches for job in batch) == list(range(20))


async def test_jobs_submitted_within_the_linger_go_together() -> None:
    handler = Handler()
    group = GroupCommit(handler, linger=0.05)
    first = asyncio.create_task(group.submit(1))
    await asyncio.sleep(0.01)  # a later turn of the event loop, within the linger
    second = asyncio.create_task(group.submit(2))
    assert list(await asyncio.gather(first, second)) == ["done 1", "done 2"]
    assert handler.batches == [[1, 2]]
