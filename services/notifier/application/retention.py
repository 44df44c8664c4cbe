"""Retention: a borrower's contact details leave the notifier ``retention`` after their loan
was closed or cured, in batches (several replicas may run it: rows another holds are skipped).

Only the sealed contact details (name, phone, e-mail) and the phone's keyed hashes go; the loan
row stays, holding no plaintext and nothing sealed, with the records of contacts made (kept
for the jurisdiction's period, ``shared.personal_data.collection_records``). A loan with a
message still to send (the answer to a dispute that closed it) keeps them until it is sent or
stopped. A later overdue report brings contact details back, sealed, as any report does.
"""

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from services.notifier.application.ports import UnitOfWork


def _now() -> datetime:
    return datetime.now(UTC)


@dataclass(frozen=True)
class RetentionHandlers:
    unit_of_work: Callable[[], UnitOfWork]
    retention: timedelta
    batch_size: int = 500
    clock: Callable[[], datetime] = _now

    async def erase_due(self) -> int:
        """Erase every loan's contact details now due, a batch per transaction; how many."""
        erased = 0
        while True:
            now = self.clock()
            async with self.unit_of_work() as uow:
                count = await uow.personal_data.erase_ended(
                    now - self.retention, self.batch_size, now
                )
                await uow.commit()
            erased += count
            if count < self.batch_size:
                return erased
