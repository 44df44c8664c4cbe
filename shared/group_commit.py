"""Group commit: concurrent callers' jobs handled together, one batch (one transaction) at a time.

One transaction per event is a bug on a hot path: each costs several round trips and a commit.
Callers :meth:`GroupCommit.submit` one job and await its own result; jobs that arrive while the
batches in flight are busy wait and go together in the next one, so batches grow with the load.
A short ``linger`` before a batch leaves makes batches larger still (fewer round trips per job)
at the price of that much latency for a lone request.
"""

import asyncio
from collections.abc import Awaitable, Callable, Sequence
from typing import Generic, TypeVar

Job = TypeVar("Job")
Result = TypeVar("Result")

Handler = Callable[[Sequence[Job]], Awaitable[Sequence[Result | Exception]]]


class GroupCommit(Generic[Job, Result]):
    """Runs ``handler`` on batches of submitted jobs; each caller gets its own result.

    ``handler`` returns one result per job, in order: a value, or an exception that is raised
    to that job's caller alone. An exception the handler raises goes to every caller of the
    batch.
    """

    def __init__(
        self,
        handler: Handler[Job, Result],
        max_batch: int = 1000,
        max_in_flight: int = 2,
        linger: float = 0.0,
    ) -> None:
        self._handler = handler
        self._max_batch = max_batch
        self._max_in_flight = max_in_flight
        self._linger = linger
        self._waiting: list[tuple[Job, asyncio.Future[Result]]] = []
        self._in_flight: set[asyncio.Task[None]] = set()
        self._flush_scheduled = False

    async def submit(self, job: Job) -> Result:
        result: asyncio.Future[Result] = asyncio.get_running_loop().create_future()
        self._waiting.append((job, result))
        self._schedule_flush()
        return await result

    def _schedule_flush(self) -> None:
        # At the least, the jobs submitted in this turn of the event loop go in one batch.
        idle_slot = len(self._in_flight) < self._max_in_flight
        if self._waiting and idle_slot and not self._flush_scheduled:
            self._flush_scheduled = True
            loop = asyncio.get_running_loop()
            if self._linger and len(self._waiting) < self._max_batch:
                loop.call_later(self._linger, self._flush)
            else:
                loop.call_soon(self._flush)

    def _flush(self) -> None:
        self._flush_scheduled = False
        batch = self._waiting[: self._max_batch]
        del self._waiting[: self._max_batch]
        task = asyncio.create_task(self._run(batch))
        self._in_flight.add(task)
        task.add_done_callback(self._done)
        self._schedule_flush()  # more than a batch waiting, and another slot free

    def _done(self, task: asyncio.Task[None]) -> None:
        self._in_flight.discard(task)
        self._schedule_flush()

    async def _run(self, batch: list[tuple[Job, asyncio.Future[Result]]]) -> None:
        try:
            results = await self._handler([job for job, _ in batch])
            if len(results) != len(batch):
                raise RuntimeError(f"{len(results)} results for {len(batch)} jobs")
        except asyncio.CancelledError:  # shut down mid-batch: its callers are cancelled too
            for _, future in batch:
                future.cancel()
            raise
        except Exception as error:
            results = [error] * len(batch)
        for (_, future), result in zip(batch, results, strict=True):
            if future.done():  # the caller went away (cancelled)
                continue
            if isinstance(result, Exception):
                future.set_exception(result)
            else:
                future.set_result(result)
