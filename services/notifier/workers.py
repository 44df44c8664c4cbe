"""The notifier's time-driven loops: the sender claims due notifications, and sends whose
outcome never came, under a lease and a fencing token, and hands each claim to its use case
(``application/sending.py``); retention erases contact details due to go
(``application/retention.py``) every ``interval`` seconds."""

import asyncio
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from uuid import uuid4

from services.notifier.application.ports import UnitOfWork
from services.notifier.application.retention import RetentionHandlers
from services.notifier.application.sending import Claim, SendHandlers


@dataclass
class Sender:
    unit_of_work: Callable[[], UnitOfWork]
    handlers: SendHandlers
    batch_size: int = 200
    lease: timedelta = timedelta(seconds=60)
    idle_pause: float = 0.5

    async def run(self) -> None:
        while True:
            if await self.send_due() + await self.settle_in_doubt() == 0:
                await asyncio.sleep(self.idle_pause)

    async def send_due(self) -> int:
        """Claim a batch of due notifications and send it; the number claimed."""
        token = uuid4()
        async with self.unit_of_work() as uow:
            claimed = await uow.sending.claim_due(self.batch_size, self.lease, token)
            await uow.commit()
        if claimed:
            await self.handlers.send_due(Claim(token, claimed))
        return len(claimed)

    async def settle_in_doubt(self) -> int:
        """Claim sends whose outcome never came and settle them; the number claimed."""
        token = uuid4()
        async with self.unit_of_work() as uow:
            claimed = await uow.sending.claim_in_doubt(self.batch_size, self.lease, token)
            await uow.commit()
        if claimed:
            await self.handlers.settle_in_doubt(Claim(token, claimed))
        return len(claimed)


@dataclass
class Retention:
    handlers: RetentionHandlers
    interval: float = 60.0

    async def run(self) -> None:
        while True:
            await self.handlers.erase_due()
            await asyncio.sleep(self.interval)
