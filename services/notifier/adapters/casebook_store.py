"""Loads the casebook a batch of events needs, and writes what applying them changed.

One read per table for the whole batch (rows locked, so two consumers of a rebalanced
partition cannot interleave), one write per table after: never a statement per event.
"""

from collections.abc import Iterable, Sequence
from dataclasses import fields
from datetime import datetime
from typing import Any

from sqlalchemy import Table, bindparam, or_, select, tuple_, update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from services.notifier.adapters.tables import (
    borrowers,
    contacts,
    loans,
    notification_history,
    notifications,
)
from services.notifier.domain.files import (
    HoldOnFile,
    LoanFile,
    LoanState,
    Notification,
    PlacementOnFile,
    Preferences,
)
from services.notifier.domain.lifecycle import Casebook
from services.notifier.domain.policy_book import PolicyBook
from shared.contact_rules import Contact
from shared.events.catalog import AGENCY_NOTICE_SENT, NOTIFICATION_EVENTS, OPT_OUT_RECORDED
from shared.events.envelope import Envelope
from shared.events.models import ContactPreferences
from shared.events.notifications import (
    NotificationChanged,
    NotificationKind,
    NotificationStatus,
    OptOutRecorded,
)
from shared.vocabulary import Channel, Jurisdiction

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
        await _upsert(
            self._session,
            loans,
            [loan_row(book.loans[k]) for k in sorted(book.touched_loans)],
            ("lender_id", "loan_id"),
        )
        await _upsert(
            self._session,
            borrowers,
            [preferences_row(book.preferences[k]) for k in sorted(book.touched_borrowers)],
            ("lender_id", "borrower_ref"),
        )
        await _insert(self._session, notifications, [notification_row(n) for n in book.created])
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


async def update_notifications(session: AsyncSession, changed: Sequence[Notification]) -> None:
    if not changed:
        return
    await session.execute(
        update(notifications)
        .where(notifications.c.id == _bind("b_id"))
        .values(
            status=_bind("b_status"),
            due_at=_bind("b_due_at"),
            attempts=_bind("b_attempts"),
            lease_until=None,
            pack_version=_bind("b_pack_version"),
            rule_ids=_bind("b_rule_ids"),
            next_allowed_at=_bind("b_next_allowed_at"),
            reason=_bind("b_reason"),
            provider=_bind("b_provider"),
            provider_message_id=_bind("b_provider_message_id"),
            updated_at=_bind("b_now"),
        )
        .execution_options(synchronize_session=False),
        [
            {
                "b_id": n.id,
                "b_status": n.status.value,
                "b_due_at": n.due_at,
                "b_attempts": n.attempts,
                "b_pack_version": n.pack_version,
                "b_rule_ids": list(n.rule_ids),
                "b_next_allowed_at": n.next_allowed_at,
                "b_reason": n.reason,
                "b_provider": n.provider,
                "b_provider_message_id": n.provider_message_id,
                "b_now": datetime.now().astimezone(),
            }
            for n in changed
        ],
    )


async def add_history(session: AsyncSession, transitions: Sequence[Any]) -> None:
    await _insert(
        session,
        notification_history,
        [
            {
                "notification_id": t.notification_id,
                "status": t.status.value,
                "at": t.at,
                "detail": t.detail,
            }
            for t in transitions
        ],
    )


async def add_contacts(
    session: AsyncSession, ledger: Sequence[Contact], keys: dict[str, LoanKey]
) -> None:
    rows = [
        {
            "id": c.id,
            "lender_id": keys[c.id][0],
            "loan_id": keys[c.id][1],
            "borrower_ref": c.person_ref,
            "agency_id": c.party.agency_id,
            "channel": c.channel.value,
            "direction": c.direction.value,
            "outcome": c.outcome.value,
            "at": c.at,
            "recording_id": c.recording_id,
            "staff_count": c.staff_count,
        }
        for c in ledger
    ]
    if rows:
        await session.execute(insert(contacts).on_conflict_do_nothing(), rows)


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


# -- rows <-> values -------------------------------------------------------------------------


def loan_file(row: Any) -> LoanFile:
    return LoanFile(
        lender_id=row["lender_id"],
        loan_id=row["loan_id"],
        borrower_ref=row["borrower_ref"],
        jurisdiction=Jurisdiction(row["jurisdiction"]),
        product=row["product"],
        locale=row["locale"],
        timezone=row["timezone"],
        due_date=row["due_date"],
        days_past_due=row["days_past_due"],
        as_of=row["as_of"],
        amount_overdue=row["amount_overdue"],
        currency=row["currency"],
        contact_sealed=row["contact_sealed"],
        phone_refs=list(row["phone_refs"]),
        policy_id=row["policy_id"],
        policy_version=row["policy_version"],
        state=LoanState(row["state"]),
        state_reason=row["state_reason"],
        cycle=row["cycle"],
        holds={
            hold_id: HoldOnFile(hold_id, h["reason"], datetime.fromisoformat(h["placed_at"]))
            for hold_id, h in row["holds"].items()
        },
        placements=[
            PlacementOnFile(
                p["assignment_id"],
                p["agency_id"],
                p["agency_name"],
                p.get("agency_phone"),
                datetime.fromisoformat(p["placed_at"]),
                _instant(p.get("notice_sent_at")),
                _instant(p.get("ended_at")),
            )
            for p in row["placements"]
        ],
    )


def loan_row(file: LoanFile) -> dict[str, Any]:
    return {
        "lender_id": file.lender_id,
        "loan_id": file.loan_id,
        "borrower_ref": file.borrower_ref,
        "contact_sealed": file.contact_sealed,
        "phone_refs": file.phone_refs,
        "locale": file.locale,
        "timezone": file.timezone,
        "jurisdiction": file.jurisdiction.value,
        "product": file.product,
        "due_date": file.due_date,
        "days_past_due": file.days_past_due,
        "amount_overdue": file.amount_overdue,
        "currency": file.currency,
        "as_of": file.as_of,
        "policy_id": file.policy_id,
        "policy_version": file.policy_version,
        "state": file.state.value,
        "state_reason": file.state_reason,
        "cycle": file.cycle,
        "holds": {
            h.hold_id: {"reason": h.reason, "placed_at": h.placed_at.isoformat()}
            for h in file.holds.values()
        },
        "placements": [
            {
                "assignment_id": p.assignment_id,
                "agency_id": p.agency_id,
                "agency_name": p.agency_name,
                "agency_phone": p.agency_phone,
                "placed_at": p.placed_at.isoformat(),
                "notice_sent_at": p.notice_sent_at and p.notice_sent_at.isoformat(),
                "ended_at": p.ended_at and p.ended_at.isoformat(),
            }
            for p in file.placements
        ],
        "updated_at": datetime.now().astimezone(),
    }


def preferences_row(prefs: Preferences) -> dict[str, Any]:
    return {
        "lender_id": prefs.lender_id,
        "borrower_ref": prefs.borrower_ref,
        "preferences": prefs.reported.model_dump(mode="json"),
        "reported_at": prefs.reported_at,
        "reply_opt_outs": {c.value: at.isoformat() for c, at in prefs.reply_opt_outs.items()},
    }


_NOTIFICATION_FIELDS = tuple(f.name for f in fields(Notification))


def notification_row(n: Notification) -> dict[str, Any]:
    """The row of a notification: its fields, enums as their values, rule ids as a list."""
    row = {name: getattr(n, name) for name in _NOTIFICATION_FIELDS}
    row.update(kind=n.kind.value, channel=n.channel.value, status=n.status.value)
    row["rule_ids"] = list(n.rule_ids)
    return row


def notification_of(row: Any) -> Notification:
    values = {name: row[name] for name in _NOTIFICATION_FIELDS}
    values.update(
        kind=NotificationKind(row["kind"]),
        channel=Channel(row["channel"]),
        status=NotificationStatus(row["status"]),
        rule_ids=tuple(row["rule_ids"]),
    )
    return Notification(**values)


def _instant(value: str | None) -> datetime | None:
    return datetime.fromisoformat(value) if value else None


def _bind(name: str) -> Any:
    return bindparam(name)


async def _insert(session: AsyncSession, table: Table, rows: Sequence[dict[str, Any]]) -> None:
    if rows:
        await session.execute(insert(table).on_conflict_do_nothing(), list(rows))


async def _upsert(
    session: AsyncSession, table: Table, rows: Sequence[dict[str, Any]], key: tuple[str, ...]
) -> None:
    if not rows:
        return
    statement = insert(table)
    columns = {name: statement.excluded[name] for name in rows[0] if name not in key}
    await session.execute(
        statement.on_conflict_do_update(index_elements=list(key), set_=columns), list(rows)
    )
