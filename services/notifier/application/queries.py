"""What the lender's API reads: a loan's notifications with their history."""

from collections.abc import Callable
from dataclasses import dataclass

from services.notifier.application.errors import LoanNotFoundError
from services.notifier.application.ports import NotificationRecord, UnitOfWork


@dataclass(frozen=True)
class NotificationQueries:
    unit_of_work: Callable[[], UnitOfWork]

    async def of_loan(self, lender_id: str, loan_id: str) -> list[NotificationRecord]:
        """The loan's notifications by due time; ``LoanNotFoundError`` if it is not known."""
        async with self.unit_of_work() as uow:
            found = await uow.notifications.of_loan(lender_id, loan_id)
        if found is None:
            raise LoanNotFoundError(loan_id)
        return found
