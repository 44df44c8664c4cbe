"""What the lender's API reads (``SqlNotificationReads``): a loan's notifications, by due time,
each with its history."""

from collections.abc import Sequence
from uuid import UUID

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from services.notifier.adapters.rows import notification_of
from services.notifier.adapters.tables import loans, notification_history, notifications
from services.notifier.application.ports import NotificationRecord
from services.notifier.domain.files import Transition
from shared.events.notifications import NotificationStatus


class SqlNotificationReads:
    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    async def of_loan(self, lender_id: str, loan_id: str) -> list[NotificationRecord] | None:
        known = await self._session.scalar(
            select(loans.c.loan_id).where(
                loans.c.lender_id == lender_id, loans.c.loan_id == loan_id
            )
        )
        if known is None:
            return None
        rows = await self._session.execute(
            select(notifications)
            .where(notifications.c.lender_id == lender_id, notifications.c.loan_id == loan_id)
            .order_by(notifications.c.due_at, notifications.c.id)
        )
        found = [notification_of(row) for row in rows.mappings()]
        history = await self._history([n.id for n in found])
        return [NotificationRecord(n, history.get(n.id, [])) for n in found]

    async def _history(self, ids: Sequence[UUID]) -> dict[UUID, list[Transition]]:
        if not ids:
            return {}
        rows = await self._session.execute(
            select(notification_history)
            .where(notification_history.c.notification_id.in_(ids))
            .order_by(notification_history.c.seq)
        )
        found: dict[UUID, list[Transition]] = {}
        for row in rows.mappings():
            change = Transition(
                row["notification_id"], NotificationStatus(row["status"]), row["at"], row["detail"]
            )
            found.setdefault(row["notification_id"], []).append(change)
        return found
