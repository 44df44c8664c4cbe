"""The judged-up-to watermark: the log size judged so far, claimed for one judging round at
a time (replicas skip a round another is running)."""

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from services.compliance.adapters.tables import judging

WATERMARK_ID = 1
WATERMARK = select(judging.c.judged_size).where(judging.c.id == WATERMARK_ID)
CLAIM = WATERMARK.with_for_update(skip_locked=True)
CLAIM_WAITING = WATERMARK.with_for_update()


class SqlJudging:
    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    async def claim(self, *, wait: bool = False) -> int | None:
        """The size judged so far, its row locked for the caller's transaction; None while
        another transaction holds it (a round running elsewhere), unless ``wait``: then once
        that transaction ends."""
        query = CLAIM_WAITING if wait else CLAIM
        size = (await self._session.execute(query)).scalar_one_or_none()
        return None if size is None else int(size)

    async def advance(self, size: int) -> None:
        """Entries below ``size`` are judged (with the caller's transaction)."""
        await self._session.execute(
            update(judging).where(judging.c.id == WATERMARK_ID).values(judged_size=size)
        )
