"""Compliance's judging loop: a round (``LogWriter.judge_pending``) in a unit of work of its
own after each of the consumer's commits wakes it, else every ``idle_pause`` seconds; at least
``pause`` seconds between rounds that judged, so that under load one round judges many
batches' loans once each."""

import asyncio
import contextlib
from collections.abc import Callable
from dataclasses import dataclass, field

from services.compliance.application.log_writer import LogWriter
from services.compliance.application.ports import CommittedUnitOfWork


@dataclass
class Judging:
    unit_of_work: Callable[[], CommittedUnitOfWork]
    writer: LogWriter
    wake: asyncio.Event = field(default_factory=asyncio.Event)
    pause: float = 0.05
    idle_pause: float = 1.0

    async def run(self) -> None:
        while True:
            self.wake.clear()
            if await self.step():
                await asyncio.sleep(self.pause)
                continue
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self.wake.wait(), self.idle_pause)

    async def step(self) -> int:
        """One judging round, committed; the number of entries it judged."""
        async with self.unit_of_work() as uow:
            judged = await self.writer.judge_pending(uow)
            await uow.commit()
        return judged
