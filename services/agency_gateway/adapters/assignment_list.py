"""The agency's list of its assignments: one keyset page, read without a transaction.

The hot path agencies poll: it selects only the columns the list shows (``LISTED_COLUMNS``) and
reads through the runtime's autocommit engine (one round trip per read).
"""

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select, tuple_

from services.agency_gateway.adapters.tables import assignments
from shared.db.engine import SessionFactory

LISTED = (
    "assignment_id",
    "loan_id",
    "status",
    "placed_at",
    "ack_due_at",
    "expires_at",
    "acknowledged_at",
    "ended_at",
    "updated_at",
)
# What the list reads: the listed columns, then what the amount and the notice come from.
LISTED_COLUMNS = [assignments.c[name] for name in LISTED] + [
    assignments.c.amount,
    assignments.c.currency,
    assignments.c.notice_sent_at,
]


@dataclass(frozen=True)
class AssignmentList:
    reads: SessionFactory  # the runtime's autocommit sessions

    async def page(
        self,
        agency_id: str,
        status: str | None,
        updated_since: datetime | None,
        after: tuple[datetime, str] | None,
        limit: int,
    ) -> Sequence[Sequence[Any]]:
        """Up to ``limit`` rows of ``LISTED_COLUMNS`` after the (``updated_at``,
        ``assignment_id``) ``after``, oldest change first."""
        query = select(*LISTED_COLUMNS).where(assignments.c.agency_id == agency_id)
        if status is not None:
            query = query.where(assignments.c.status == status)
        if updated_since is not None:
            query = query.where(assignments.c.updated_at >= updated_since)
        if after is not None:
            query = query.where(
                tuple_(assignments.c.updated_at, assignments.c.assignment_id) > after
            )
        query = query.order_by(assignments.c.updated_at, assignments.c.assignment_id)
        async with self.reads() as session:
            return (await session.execute(query.limit(limit))).all()
