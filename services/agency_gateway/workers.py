"""The gateway's time-driven loops: each claims its due work, then hands it to a use case.

The placement worker ends lapsed assignments (claimed ``FOR UPDATE SKIP LOCKED``: replicas
share the work) and claims the cases due for a decision through the kit's job queue (a lease
and a fencing token: replicas never decide one case twice), in one unit of work; then it
decides the batch and writes the decisions with their events in a second one, only for the
cases its claim still holds. The webhook worker claims due deliveries
through the kit's job queue (a lease and a fencing token), sends them outside any
transaction, then logs each attempt under its token. The retention worker erases, a batch per
transaction, the contact details whose retention after the loan ended is over (rows locked
``SKIP LOCKED``: replicas share the work).
"""

import asyncio
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import timedelta
from uuid import uuid4

from services.agency_gateway.application.personal_data import ContactRetention
from services.agency_gateway.application.placement import CaseClaim, PlacementHandlers
from services.agency_gateway.application.ports import Clock, UnitOfWork, utc_now
from services.agency_gateway.application.webhooks import WebhookDeliveries
from shared.observability.metrics import count_webhook_deliveries


@dataclass
class PlacementWorker:
    unit_of_work: Callable[[], UnitOfWork]
    placement: PlacementHandlers
    batch_size: int = 200
    lease: timedelta = timedelta(seconds=30)  # a batch is decided in well under a second
    idle_pause: float = 0.5
    clock: Clock = field(default=utc_now)

    async def run(self) -> None:
        while True:
            if await self.step() == 0:
                await asyncio.sleep(self.idle_pause)

    async def step(self) -> int:
        """End lapsed assignments (their cases are due at once), announce expiring ones, claim
        one batch of due cases, then decide it; how many were handled."""
        token = uuid4()  # this claim's fencing token
        async with self.unit_of_work() as uow:
            now = self.clock()
            lapsed = await uow.assignments.claim_lapsed(now, self.batch_size)
            ended = await self.placement.end_lapsed(uow, lapsed, now)
            expiring = await self.placement.announce_expiring(uow, now, self.batch_size)
            due = await uow.cases.claim_due(now, self.batch_size, self.lease, token)
            await uow.commit()
        decided = 0
        if due:
            async with self.unit_of_work() as uow:
                decided = await self.placement.decide(uow, CaseClaim(token, due), now)
                await uow.commit()
        return ended + decided + expiring


@dataclass
class WebhookWorker:
    unit_of_work: Callable[[], UnitOfWork]
    deliveries: WebhookDeliveries
    lease: timedelta = timedelta(seconds=60)
    batch_size: int = 100
    idle_pause: float = 0.5
    clock: Clock = field(default=utc_now)

    async def run(self) -> None:
        while True:
            if await self.deliver_due() == 0:
                await asyncio.sleep(self.idle_pause)

    async def deliver_due(self) -> int:
        """Each due delivery leased (a crash mid-send only delays it), sent, then logged."""
        token = uuid4()  # this claim's fencing token
        async with self.unit_of_work() as uow:
            due = await uow.deliveries.claim_due(self.clock(), self.batch_size, self.lease, token)
            await uow.commit()
        if not due:
            return 0
        results = await asyncio.gather(*(self.deliveries.attempt(d) for d in due))
        async with self.unit_of_work() as uow:
            await self.deliveries.record(uow, token, results)
            await uow.commit()
        count_webhook_deliveries(result.outcome for result in results)
        return len(due)


@dataclass
class RetentionWorker:
    unit_of_work: Callable[[], UnitOfWork]
    retention: ContactRetention
    batch_size: int = 500
    idle_pause: float = 60
    clock: Clock = field(default=utc_now)

    async def run(self) -> None:
        while True:
            if await self.step() < self.batch_size:
                await asyncio.sleep(self.idle_pause)

    async def step(self) -> int:
        """Erase one batch of contact details that are due; how many."""
        async with self.unit_of_work() as uow:
            erased = await self.retention.erase_due(uow, self.clock(), self.batch_size)
            await uow.commit()
        return erased
