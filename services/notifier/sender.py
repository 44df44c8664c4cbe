"""Notifier's sender: due reminders and notices go out under the contact rules.

A loop claims a batch of due notifications, reads what deciding needs in one go, decides and
sends each (a loan's own notifications one after another, so the second sees the first in the
ledger; different loans concurrently), then records the whole batch in one transaction with
its events. Nothing lives in memory between batches: a restarted or second replica picks up
exactly what the database says is due.
"""

import asyncio
import itertools
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Protocol
from uuid import UUID

import structlog

from services.notifier.adapters.casebook_store import CasebookStore, notification_event
from services.notifier.adapters.providers.base import OutgoingMessage, ProviderError, SendReceipt
from services.notifier.adapters.sending_store import (
    claim_due,
    files_of,
    ledger_of,
    record,
    reported_meanwhile,
)
from services.notifier.composer import MessageComposer
from services.notifier.domain.files import LoanFile, Notification, Preferences, Transition
from services.notifier.domain.outreach import intended_contact, rules_decision, stop_reason
from services.notifier.domain.policy import SendFailure
from services.notifier.domain.policy_book import PolicyBook
from shared.contact_rules import Contact, RulePack
from shared.db.engine import SessionFactory, transaction
from shared.events.envelope import Envelope
from shared.events.notifications import NotificationKind, NotificationStatus
from shared.kafka.outbox import enqueue
from shared.vocabulary import Channel, Jurisdiction

log = structlog.get_logger(__name__)
LoanKey = tuple[str, str]


class Dispatcher(Protocol):
    """What the sender needs of a channel's providers (``adapters/providers/dispatch.py``)."""

    async def send(self, message: OutgoingMessage) -> SendReceipt: ...


@dataclass
class _Batch:
    """What one batch decided and did, to be recorded together."""

    now: datetime
    settled: list[Notification] = field(default_factory=list)
    transitions: list[Transition] = field(default_factory=list)
    sent: list[tuple[Contact, LoanKey]] = field(default_factory=list)
    files: dict[LoanKey, LoanFile] = field(default_factory=dict)

    def move(self, n: Notification, status: NotificationStatus, **detail: object) -> None:
        self.transitions.append(n.move(status, self.now, **detail))

    def drop(self, ids: set[UUID]) -> None:
        """Leave out what was settled elsewhere meanwhile."""
        if ids:
            self.settled = [n for n in self.settled if n.id not in ids]
            self.transitions = [t for t in self.transitions if t.notification_id not in ids]
            own = {f"notifier:{i}" for i in ids}
            self.sent = [(c, key) for c, key in self.sent if c.id not in own]

    def events(self) -> list[Envelope]:
        settled = {n.id: n for n in self.settled}
        return [
            notification_event(settled[t.notification_id], t.status, t.at, t.detail)
            for t in self.transitions
        ]


@dataclass
class Sender:
    sessions: SessionFactory
    policies: PolicyBook
    packs: Mapping[Jurisdiction, RulePack]
    messages: MessageComposer
    dispatchers: Mapping[Channel, Dispatcher]
    notifications_topic: str
    batch_size: int = 200
    lease: timedelta = timedelta(seconds=60)
    idle_pause: float = 0.5

    async def run(self) -> None:
        while True:
            if await self.send_due() == 0:
                await asyncio.sleep(self.idle_pause)

    async def send_due(self) -> int:
        """Claim, decide, send and record one batch; the number claimed."""
        async with transaction(self.sessions) as session:
            claimed = await claim_due(session, self.batch_size, self.lease)
        if not claimed:
            return 0
        batch = _Batch(datetime.now(UTC))
        keys = {(n.lender_id, n.loan_id) for n in claimed}
        async with transaction(self.sessions) as session:
            files = await files_of(session, keys)
            borrowers = {(f.lender_id, f.borrower_ref) for f in files.values()}
            preferences = await CasebookStore(session).preferences(borrowers)
            ledger = await ledger_of(session, keys, borrowers, batch.now)
        by_loan = itertools.groupby(
            sorted(claimed, key=lambda n: (n.lender_id, n.loan_id, n.due_at)),
            key=lambda n: (n.lender_id, n.loan_id),
        )
        await asyncio.gather(
            *(
                self._loan(batch, list(items), files.get(key), preferences, ledger.get(key, []))
                for key, items in by_loan
            )
        )
        async with transaction(self.sessions) as session:
            batch.drop(await reported_meanwhile(session, [n.id for n in batch.settled]))
            await record(
                session, batch.settled, batch.transitions, batch.sent, list(batch.files.values())
            )
            await enqueue(session, self.notifications_topic, batch.events())
        return len(claimed)

    async def _loan(
        self,
        batch: _Batch,
        due: Sequence[Notification],
        file: LoanFile | None,
        preferences: Mapping[tuple[str, str], Preferences],
        ledger: list[Contact],
    ) -> None:
        for n in due:
            batch.settled.append(n)
            if file is None:
                batch.move(n, NotificationStatus.CANCELLED, reason="unknown_loan")
                continue
            prefs = preferences.get((file.lender_id, file.borrower_ref))
            reason = stop_reason(n, file, prefs)
            if reason is not None:
                n.reason = reason
                batch.move(n, NotificationStatus.CANCELLED, reason=reason)
                continue
            decision = rules_decision(
                n, file, prefs, ledger, self.packs[file.jurisdiction], batch.now
            )
            n.pack_version = decision.pack_version
            if not decision.allowed:
                self._suppress(
                    batch, n, decision.refused_by, decision.explanation, decision.next_allowed_at
                )
                continue
            await self._send(batch, n, file, ledger)

    def _suppress(
        self,
        batch: _Batch,
        n: Notification,
        rule_ids: tuple[str, ...],
        explanation: str,
        next_allowed_at: datetime | None,
    ) -> None:
        """Record the refusal; when time alone will allow it, it waits for that moment."""
        n.rule_ids, n.next_allowed_at, n.reason = rule_ids, next_allowed_at, explanation
        batch.move(
            n,
            NotificationStatus.SUPPRESSED,
            rule_ids=list(rule_ids),
            next_allowed_at=next_allowed_at,
            reason=explanation,
        )
        if next_allowed_at is not None:
            n.due_at = next_allowed_at.astimezone(UTC)
            batch.move(n, NotificationStatus.SCHEDULED, reason="rescheduled to next_allowed_at")

    async def _send(
        self, batch: _Batch, n: Notification, file: LoanFile, ledger: list[Contact]
    ) -> None:
        try:
            message = self.messages.compose(n, file, batch.now)
        except LookupError as error:  # no address on file for this channel
            n.reason = str(error)
            batch.move(n, NotificationStatus.FAILED, reason=n.reason)
            return
        try:
            receipt = await self.dispatchers[n.channel].send(message)
        except ProviderError as error:
            self._retry_or_fail(batch, n, file, error)
            return
        n.provider, n.provider_message_id = receipt.provider, receipt.provider_message_id
        n.reason = None
        batch.move(
            n,
            NotificationStatus.SENT,
            provider=receipt.provider,
            provider_message_id=receipt.provider_message_id,
        )
        contact = intended_contact(n, file, batch.now)
        ledger.append(contact)
        batch.sent.append((contact, file.key))
        current = file.placement
        if n.kind is NotificationKind.AGENCY_NOTICE and current and current.notice_sent_at is None:
            current.notice_sent_at = batch.now
            batch.files[file.key] = file

    def _retry_or_fail(
        self, batch: _Batch, n: Notification, file: LoanFile, error: ProviderError
    ) -> None:
        policy = self.policies.select(file.lender_id, file.product, file.jurisdiction.value)
        n.reason = error.reason
        failure = SendFailure.PROVIDER_UNAVAILABLE if error.retriable else SendFailure.REJECTED
        delay = policy.retry_delay(n.attempts, failure)
        if delay is not None:
            n.due_at = batch.now + delay
            batch.move(n, NotificationStatus.SCHEDULED, reason=f"retry after: {error.reason}")
            return
        batch.move(n, NotificationStatus.FAILED, reason=error.reason)
