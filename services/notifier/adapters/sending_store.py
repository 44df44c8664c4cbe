"""The sender's queries: claim due notifications, fence each send, record outcomes
(``SqlSendingStore``, the ``SendingStore`` of ``application/ports.py``).

A claim (the kit's leased job queue, ``shared/db/jobs.py``) sets a lease and a fencing token
in a short transaction with ``FOR UPDATE SKIP LOCKED``, so any number of replicas share the
work and none waits for another's network calls. Just before a message goes out,
``begin_sends`` marks it (``send_began_at``, one more attempt) only while the claim is still
this sender's and the notification still scheduled: a cancellation the consumer recorded first
wins, and a sender whose lease ran out sends nothing. A notification marked so is never
claimed as due again: until its outcome is recorded (by its sender, a provider's report, or the
provider's answer to a lookup) it may have gone out. Outcomes are recorded by the claim's
token alone (``record``): a sender past its lease whose rows nobody has claimed since still
records what it did.

Every writer locks a loan before its notifications and notifications in id order, so the
sender, the consumer and the receipts never deadlock.
"""

from collections.abc import Collection, Iterable, Mapping, Sequence
from datetime import datetime, timedelta
from uuid import UUID

from sqlalchemy import Text, bindparam, func, null, or_, select, text, tuple_, update
from sqlalchemy.dialects.postgresql import ARRAY, JSONB
from sqlalchemy.ext.asyncio import AsyncSession

from services.notifier.adapters.rows import notification_of
from services.notifier.adapters.tables import contacts, loans, notifications
from services.notifier.adapters.writes import add_contacts, add_history, state_row, write_states
from services.notifier.application.ports import BorrowerKey, LoanKey, SendResults
from services.notifier.domain.files import Notification
from shared.contact_rules import Contact
from shared.contact_rules.sources import contact_of_row
from shared.db.bulk import among
from shared.db.jobs import JobQueue

LEDGER_WINDOW = timedelta(days=31)  # longer than any cap's or rule's look-back
REPORTED = frozenset({"sent", "delivered", "failed"})  # what a provider's report can settle

QUEUE = JobQueue(notifications)  # lease_until, claim_token: the kit's leased job queue
_SCHEDULED = notifications.c.status == "scheduled"

_NOTICES_SENT = text(
    """
    UPDATE loans SET placements = (
        SELECT coalesce(jsonb_agg(
            CASE WHEN given.sent_at -> (p->>'assignment_id') IS NOT NULL
                      AND p->>'notice_sent_at' IS NULL
                 THEN jsonb_set(p, '{notice_sent_at}', given.sent_at -> (p->>'assignment_id'))
                 ELSE p END
            ORDER BY i), '[]'::jsonb)
        FROM jsonb_array_elements(placements) WITH ORDINALITY AS placed(p, i)
    )
    FROM unnest(CAST(:lenders AS text[]), CAST(:loans AS text[]), CAST(:sent_at AS jsonb[]))
        AS given(lender_id, loan_id, sent_at)
    WHERE loans.lender_id = given.lender_id AND loans.loan_id = given.loan_id
    """
).bindparams(
    bindparam("lenders", type_=ARRAY(Text)),
    bindparam("loans", type_=ARRAY(Text)),
    bindparam("sent_at", type_=ARRAY(JSONB)),
)
"""One statement for a batch's agency notices: per loan, ``sent_at`` maps each assignment
whose notice went out to when (an ISO string); a notice already stamped keeps its time."""


async def claim_due(
    session: AsyncSession, limit: int, lease: timedelta, token: UUID
) -> list[Notification]:
    """Due notifications no send has begun for, held under ``token`` for ``lease``."""
    rows = await QUEUE.claim_rows(
        session,
        _SCHEDULED,
        notifications.c.due_at <= func.now(),
        notifications.c.send_began_at.is_(None),
        order_by=[notifications.c.due_at],
        limit=limit,
        lease=lease,
        token=token,
    )
    return [notification_of(row) for row in rows]


async def claim_in_doubt(
    session: AsyncSession, limit: int, lease: timedelta, token: UUID
) -> list[Notification]:
    """Notifications whose send began but whose sender's lease ran out with no outcome
    recorded: whether they went out is for the provider to say."""
    rows = await QUEUE.claim_rows(
        session,
        _SCHEDULED,
        notifications.c.send_began_at.is_not(None),
        order_by=[notifications.c.send_began_at],
        limit=limit,
        lease=lease,
        token=token,
    )
    return [notification_of(row) for row in rows]


async def begin_sends(
    session: AsyncSession, token: UUID, ids: Collection[UUID], lease: timedelta
) -> dict[UUID, int]:
    """Fence the sends about to start: those still held by ``token`` (its lease not over) and
    still scheduled, with their attempts counted; the others must not go out."""
    if not ids:
        return {}
    fenced = (
        select(notifications.c.id)
        .where(
            among([notifications.c.id], [(i,) for i in ids]),
            QUEUE.held_by(token),
            _SCHEDULED,
            notifications.c.send_began_at.is_(None),
        )
        .order_by(notifications.c.id)  # the order every writer locks them in
        .with_for_update()
    )
    rows = await session.execute(
        update(notifications)
        .where(notifications.c.id.in_(fenced.scalar_subquery()))
        .values(
            send_began_at=func.now(),
            attempts=notifications.c.attempts + 1,
            **QUEUE.leased_for(lease),
        )
        .returning(notifications.c.id, notifications.c.attempts)
    )
    return {row.id: row.attempts for row in rows}


async def ledger_of(
    session: AsyncSession,
    keys: Iterable[LoanKey],
    borrowers: Iterable[BorrowerKey],
    now: datetime,
) -> dict[LoanKey, list[Contact]]:
    """Every party's contacts of the last weeks, per loan (and the borrower's other loans at
    the same lender, which the engine counts when a conversation covered them)."""
    keys, borrowers = set(keys), set(borrowers)
    if not keys:
        return {}
    rows = await session.execute(
        select(contacts).where(
            or_(
                tuple_(contacts.c.lender_id, contacts.c.loan_id).in_(keys),
                tuple_(contacts.c.lender_id, contacts.c.borrower_ref).in_(borrowers),
            ),
            contacts.c.at >= now - LEDGER_WINDOW,
        )
    )
    ledger: dict[LoanKey, list[Contact]] = {}
    for row in rows.mappings():
        ledger.setdefault((row["lender_id"], row["loan_id"]), []).append(contact_of_row(dict(row)))
    return ledger


async def record(session: AsyncSession, outcomes: SendResults) -> set[UUID]:
    """Write the outcomes this sender may still write; the ids written.

    A message that went out is recorded as sent unless a provider's report settled it first
    (even if the consumer cancelled it meanwhile: that is the truth). Any other outcome is
    written only while the claim is still this sender's and the notification still scheduled,
    so a cancellation is never undone and a stale sender never overwrites a newer one.
    """
    if not outcomes.settled:
        return set()
    await _lock_loans(session, {key for key, _, _ in outcomes.notices})
    rows = await session.execute(
        select(notifications.c.id, notifications.c.status, notifications.c.claim_token)
        .where(notifications.c.id.in_([n.id for n in outcomes.settled]))
        .order_by(notifications.c.id)
        .with_for_update()
    )
    now_held = {row.id: (row.status, row.claim_token) for row in rows}
    written = {
        n.id
        for n in outcomes.settled
        if n.id in now_held
        and (
            now_held[n.id][0] not in REPORTED
            if n.id in outcomes.went_out
            else now_held[n.id] == ("scheduled", outcomes.token)
        )
    }
    await _write_outcomes(
        session, [n for n in outcomes.settled if n.id in written], outcomes.in_doubt
    )
    await add_history(session, [t for t in outcomes.transitions if t.notification_id in written])
    own = {f"notifier:{i}" for i in written}
    sent = [(c, key) for c, key in outcomes.sent if c.id in own]
    await add_contacts(session, [c for c, _ in sent], {c.id: key for c, key in sent})
    await _stamp_notices(session, outcomes.notices)
    return written


async def _lock_loans(session: AsyncSession, keys: Collection[LoanKey]) -> None:
    if keys:
        await session.execute(
            select(loans.c.lender_id)
            .where(among([loans.c.lender_id, loans.c.loan_id], keys))
            .order_by(loans.c.lender_id, loans.c.loan_id)
            .with_for_update()
        )


async def _stamp_notices(
    session: AsyncSession, notices: Sequence[tuple[LoanKey, str, datetime]]
) -> None:
    """Stamp each agency notice that went out on its loan's placement (the first time given
    wins, as it would a statement per notice)."""
    sent_at: dict[LoanKey, dict[str, str]] = {}
    for key, assignment, at in notices:
        sent_at.setdefault(key, {}).setdefault(assignment, at.isoformat())
    if sent_at:
        await session.execute(
            _NOTICES_SENT,
            {
                "lenders": [lender for lender, _ in sent_at],
                "loans": [loan for _, loan in sent_at],
                "sent_at": list(sent_at.values()),
            },
        )


async def _write_outcomes(
    session: AsyncSession, settled: Sequence[Notification], in_doubt: Mapping[UUID, datetime]
) -> None:
    """The sender's columns of each notification; the claim released. One whose send may
    have gone out keeps ``send_began_at``, so it is looked up (once its lease, the time the
    provider's report has to arrive, is over), never claimed as due."""
    await write_states(
        session,
        [
            {
                **state_row(n),
                "send_began_at": n.send_began_at if n.id in in_doubt else None,
                "lease_until": in_doubt.get(n.id),
            }
            for n in settled
        ],
        set_also={"claim_token": null()},
    )


class SqlSendingStore:
    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    async def claim_due(self, limit: int, lease: timedelta, token: UUID) -> list[Notification]:
        return await claim_due(self._session, limit, lease, token)

    async def claim_in_doubt(self, limit: int, lease: timedelta, token: UUID) -> list[Notification]:
        return await claim_in_doubt(self._session, limit, lease, token)

    async def begin_sends(
        self, token: UUID, ids: Collection[UUID], lease: timedelta
    ) -> dict[UUID, int]:
        return await begin_sends(self._session, token, ids, lease)

    async def ledger_of(
        self, keys: Iterable[LoanKey], borrowers: Iterable[BorrowerKey], now: datetime
    ) -> dict[LoanKey, list[Contact]]:
        return await ledger_of(self._session, keys, borrowers, now)

    async def record(self, results: SendResults) -> set[UUID]:
        return await record(self._session, results)
