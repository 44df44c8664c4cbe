"""Loads the casebook a batch of events needs, and writes what applying them changed.

One read per table for the whole batch (rows locked, so two consumers of a rebalanced
partition cannot interleave), one write per table after: never a statement per event.
"""

from collections.abc import Iterable
from datetime import datetime
from typing import Any

from sqlalchemy import or_, select, tuple_
from sqlalchemy.ext.asyncio import AsyncSession

from services.notifier.adapters.rows import (
    loan_file,
    loan_row,
    notification_of,
    notification_row,
    preferences_row,
)
from services.notifier.adapters.tables import (
    borrowers,
    loans,
    notifications,
)
from services.notifier.adapters.writes import (
    add_contacts,
    add_history,
    insert_rows,
    update_notifications,
    upsert,
)
from services.notifier.domain.files import (
    Notification,
    Preferences,
)
from services.notifier.domain.lifecycle import Casebook
from services.notifier.domain.policy_book import PolicyBook
from shared.events.catalog import AGENCY_NOTICE_SENT, NOTIFICATION_EVENTS, OPT_OUT_RECORDED
from shared.events.envelope import Envelope
from shared.events.models import ContactPreferences
from shared.events.notifications import (
    NotificationChanged,
    NotificationKind,
    NotificationStatus,
    OptOutRecorded,
)
from shared.vocabulary import Channel

SOURCE = "notifier"
LoanKey = tuple[str, str]


class CasebookStore:
    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    async def load(
        self,
        policies: PolicyBook,
        now: datetime,
        loan_keys: Iterable[LoanKey],
        borrower_keys: Iterable[tuple[str, str]] = (),
    ) -> Casebook:
        book = Casebook(policies, now)
        loan_keys, borrower_keys = set(loan_keys), set(borrower_keys)
        conditions = []
        if loan_keys:
            conditions.append(tuple_(loans.c.lender_id, loans.c.loan_id).in_(loan_keys))
        if borrower_keys:
            conditions.append(tuple_(loans.c.lender_id, loans.c.borrower_ref).in_(borrower_keys))
        if conditions:
            rows = await self._session.execute(
                select(loans)
                .where(or_(*conditions))
                .order_by(loans.c.lender_id, loans.c.loan_id)
                .with_for_update()
            )
            for row in rows.mappings():
                file = loan_file(row)
                book.loans[file.key] = file
                borrower_keys.add((file.lender_id, file.borrower_ref))
        if book.loans:
            pending = await self._session.execute(
                select(notifications)
                .where(
                    tuple_(notifications.c.lender_id, notifications.c.loan_id).in_(book.loans),
                    notifications.c.status == NotificationStatus.SCHEDULED.value,
                )
                .order_by(notifications.c.id)  # the order every writer locks them in
                .with_for_update()
            )
            for row in pending.mappings():
                book.pending.setdefault((row["lender_id"], row["loan_id"]), []).append(
                    notification_of(row)
                )
        book.preferences.update(await self.preferences(borrower_keys))
        return book

    async def preferences(
        self, keys: Iterable[tuple[str, str]]
    ) -> dict[tuple[str, str], Preferences]:
        keys = set(keys)
        if not keys:
            return {}
        rows = await self._session.execute(
            select(borrowers).where(
                tuple_(borrowers.c.lender_id, borrowers.c.borrower_ref).in_(keys)
            )
        )
        found = {}
        for row in rows.mappings():
            prefs = Preferences(
                row["lender_id"],
                row["borrower_ref"],
                ContactPreferences.model_validate(row["preferences"]),
                row["reported_at"],
                {Channel(c): datetime.fromisoformat(at) for c, at in row["reply_opt_outs"].items()},
            )
            found[(prefs.lender_id, prefs.borrower_ref)] = prefs
        return found

    async def save(self, book: Casebook) -> list[Envelope]:
        """Write what the casebook changed; return the events to publish with it."""
        await upsert(
            self._session,
            loans,
            [loan_row(book.loans[k]) for k in sorted(book.touched_loans)],
            ("lender_id", "loan_id"),
        )
        await upsert(
            self._session,
            borrowers,
            [preferences_row(book.preferences[k]) for k in sorted(book.touched_borrowers)],
            ("lender_id", "borrower_ref"),
        )
        await insert_rows(self._session, notifications, [notification_row(n) for n in book.created])
        created = {n.id for n in book.created}
        await update_notifications(
            self._session, [n for n in book.changed.values() if n.id not in created]
        )
        await add_history(self._session, book.transitions)
        await add_contacts(self._session, book.contacts, book.contact_keys)
        known = {n.id: n for n in [*book.created, *book.changed.values()]}
        events = [
            notification_event(known[t.notification_id], t.status, t.at, t.detail)
            for t in book.transitions
        ]
        for opt_out in book.opt_outs:
            data = OptOutRecorded(
                borrower_ref=opt_out.borrower_ref,
                channel=opt_out.channel,
                source=opt_out.source,
                at=opt_out.at,
                loan_ids=list(opt_out.loan_ids),
            )
            events.append(
                OPT_OUT_RECORDED.envelope(
                    source=SOURCE, subject=opt_out.borrower_ref, tenant=opt_out.lender_id, data=data
                )
            )
        return events


def notification_event(
    n: Notification, status: NotificationStatus, at: datetime, detail: dict[str, Any]
) -> Envelope:
    data = NotificationChanged(
        notification_id=n.id,
        loan_id=n.loan_id,
        borrower_ref=n.borrower_ref,
        kind=n.kind,
        step=n.step,
        channel=n.channel,
        template=n.template,
        locale=n.locale,
        policy_id=n.policy_id,
        policy_version=n.policy_version,
        pack_version=n.pack_version,
        status=status,
        at=at,
        due_at=n.due_at,
        rule_ids=list(detail.get("rule_ids", [])),
        next_allowed_at=detail.get("next_allowed_at"),
        reason=detail.get("reason"),
        provider=detail.get("provider"),
        provider_message_id=detail.get("provider_message_id"),
        agency_id=n.agency_id,
    )
    notice_sent = n.kind is NotificationKind.AGENCY_NOTICE and status is NotificationStatus.SENT
    event_type = AGENCY_NOTICE_SENT if notice_sent else NOTIFICATION_EVENTS[status]
    return event_type.envelope(source=SOURCE, subject=n.loan_id, tenant=n.lender_id, data=data)
