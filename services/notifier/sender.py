"""Notifier's sender: due reminders and notices go out under the contact rules, at most once.

A loop claims a batch of due notifications under a fencing token, reads what deciding needs in
one go, and decides each (a loan's own notifications in order, so the second sees the first in
the ledger). Those to send are fenced in one short transaction (``begin_sends``): only the ones
still claimed and still scheduled go out, so a stop the consumer recorded first wins. Each
message then succeeds or fails alone, and the whole batch is recorded in one transaction with
its events, by a record that writes only what this sender may still write.

The rule: at most one message per notification, unless the provider shows the first did not
go out. A send whose outcome is unknown (the provider's answer never came, the process died) is
never sent again blindly: a provider's report settles it, or once its lease is over the
provider is asked (``settle_in_doubt``); a provider that cannot tell gets ``unconfirmed_after``
for its report, then the message is counted as sent and never repeated.
"""

import asyncio
import itertools
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Protocol
from uuid import UUID, uuid4

import structlog

from services.notifier.adapters.casebook_store import CasebookStore, notification_event
from services.notifier.adapters.providers.base import OutgoingMessage, ProviderError, SendReceipt
from services.notifier.adapters.sending_store import (
    Outcomes,
    begin_sends,
    claim_due,
    claim_in_doubt,
    files_of,
    ledger_of,
    record,
)
from services.notifier.composer import MessageComposer
from services.notifier.domain.files import LoanFile, Notification, Preferences, Transition
from services.notifier.domain.outreach import intended_contact, rules_decision, stop_reason
from services.notifier.domain.policy import SendFailure
from services.notifier.domain.policy_book import PolicyBook
from shared.contact_rules import Contact, RulePack
from shared.db.engine import SessionFactory, transaction
from shared.db.unit_of_work import enqueue
from shared.events.envelope import Envelope
from shared.events.notifications import NotificationKind, NotificationStatus
from shared.vocabulary import Channel, Jurisdiction

log = structlog.get_logger(__name__)
LoanKey = tuple[str, str]


class Dispatcher(Protocol):
    """What the sender needs of a channel's providers (``adapters/providers/dispatch.py``)."""

    async def send(self, message: OutgoingMessage) -> SendReceipt: ...

    async def find(
        self, message: OutgoingMessage, since: datetime, provider: str | None
    ) -> SendReceipt | None: ...


@dataclass
class _Batch:
    """What one batch decided and did, to be recorded together."""

    now: datetime
    token: UUID
    settled: list[Notification] = field(default_factory=list)
    transitions: list[Transition] = field(default_factory=list)
    went_out: set[UUID] = field(default_factory=set)
    in_doubt: dict[UUID, datetime] = field(default_factory=dict)
    sent: list[tuple[Contact, LoanKey]] = field(default_factory=list)
    notices: list[tuple[LoanKey, str, datetime]] = field(default_factory=list)
    to_send: list[tuple[Notification, LoanFile, OutgoingMessage]] = field(default_factory=list)

    def move(self, n: Notification, status: NotificationStatus, **detail: object) -> None:
        self.transitions.append(n.move(status, self.now, **detail))

    def fail(self, n: Notification, reason: str) -> None:
        n.reason = reason
        self.move(n, NotificationStatus.FAILED, reason=reason)

    def went(self, n: Notification, file: LoanFile, receipt: SendReceipt, why: str | None) -> None:
        """``n`` went out: sent, in the ledger, and a notice marks its placement told."""
        n.provider, n.provider_message_id = receipt.provider, receipt.provider_message_id or None
        n.reason = why
        self.move(
            n,
            NotificationStatus.SENT,
            provider=receipt.provider,
            provider_message_id=n.provider_message_id,
            reason=why,
        )
        self.went_out.add(n.id)
        self.sent.append((intended_contact(n, file, receipt.accepted_at), file.key))
        if n.kind is NotificationKind.AGENCY_NOTICE and n.assignment_id:
            self.notices.append((file.key, n.assignment_id, receipt.accepted_at))

    def outcomes(self) -> Outcomes:
        return Outcomes(
            self.token,
            self.settled,
            self.transitions,
            self.went_out,
            self.in_doubt,
            self.sent,
            self.notices,
        )

    def events(self, written: set[UUID]) -> list[Envelope]:
        settled = {n.id: n for n in self.settled}
        return [
            notification_event(settled[t.notification_id], t.status, t.at, t.detail)
            for t in self.transitions
            if t.notification_id in written
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
    unconfirmed_after: timedelta = timedelta(minutes=10)
    idle_pause: float = 0.5

    async def run(self) -> None:
        while True:
            if await self.send_due() + await self.settle_in_doubt() == 0:
                await asyncio.sleep(self.idle_pause)

    async def send_due(self) -> int:
        """Claim, decide, send and record one batch; the number claimed."""
        token = uuid4()
        async with transaction(self.sessions) as session:
            claimed = await claim_due(session, self.batch_size, self.lease, token)
        if not claimed:
            return 0
        batch = _Batch(datetime.now(UTC), token)
        keys = {(n.lender_id, n.loan_id) for n in claimed}
        async with transaction(self.sessions) as session:
            files = await files_of(session, keys)
            borrowers = {(f.lender_id, f.borrower_ref) for f in files.values()}
            preferences = await CasebookStore(session).preferences(borrowers)
            ledger = await ledger_of(session, keys, borrowers, batch.now)
        for key, due in itertools.groupby(
            sorted(claimed, key=lambda n: (n.lender_id, n.loan_id, n.due_at)),
            key=lambda n: (n.lender_id, n.loan_id),
        ):
            self._decide(batch, list(due), files.get(key), preferences, ledger.get(key, []))
        await self._fence(batch)
        by_loan = itertools.groupby(batch.to_send, key=lambda item: item[1].key)
        await asyncio.gather(*(self._send_all(batch, list(items)) for _, items in by_loan))
        await self._record(batch)
        return len(claimed)

    async def settle_in_doubt(self) -> int:
        """Ask the providers about sends whose outcome never came; the number asked about."""
        token = uuid4()
        async with transaction(self.sessions) as session:
            claimed = await claim_in_doubt(session, self.batch_size, self.lease, token)
            files = await files_of(session, {(n.lender_id, n.loan_id) for n in claimed})
        if not claimed:
            return 0
        batch = _Batch(datetime.now(UTC), token)
        await asyncio.gather(
            *(self._look_up(batch, n, files.get((n.lender_id, n.loan_id))) for n in claimed)
        )
        await self._record(batch)
        return len(claimed)

    def _decide(
        self,
        batch: _Batch,
        due: Sequence[Notification],
        file: LoanFile | None,
        preferences: Mapping[tuple[str, str], Preferences],
        ledger: list[Contact],
    ) -> None:
        """Cancel, suppress, fail or queue for sending each of one loan's due notifications."""
        for n in due:
            batch.settled.append(n)
            if file is None:
                batch.move(n, NotificationStatus.CANCELLED, reason="unknown_loan")
                continue
            prefs = preferences.get((file.lender_id, file.borrower_ref))
            reason = stop_reason(n, file, prefs)
            if reason is None and n.channel not in file.reachable:
                reason = f"no_{n.channel.value}_address"
            if reason is not None:
                n.reason = reason
                batch.move(n, NotificationStatus.CANCELLED, reason=reason)
                continue
            try:
                decision = rules_decision(
                    n, file, prefs, ledger, self.packs[file.jurisdiction], batch.now
                )
                message = self.messages.compose(n, file, batch.now)
            except LookupError as error:  # the address went with a newer report
                n.reason = str(error)
                batch.move(n, NotificationStatus.CANCELLED, reason=n.reason)
                continue
            except Exception as error:  # a template, a key no longer in the ring: this one only
                log.exception("notification not composed", notification_id=str(n.id))
                batch.fail(n, f"not composed ({type(error).__name__})")
                continue
            n.pack_version = decision.pack_version
            if not decision.allowed:
                self._suppress(
                    batch, n, decision.refused_by, decision.explanation, decision.next_allowed_at
                )
                continue
            ledger.append(intended_contact(n, file, batch.now))  # the next one sees this one
            batch.to_send.append((n, file, message))

    async def _fence(self, batch: _Batch) -> None:
        """Mark the sends about to begin; leave out those no longer this batch's to send."""
        async with transaction(self.sessions) as session:
            began = await begin_sends(
                session, batch.token, [n.id for n, _, _ in batch.to_send], self.lease
            )
        lost = {n.id for n, _, _ in batch.to_send} - set(began)
        if lost:
            log.info("sends fenced off", count=len(lost))
            batch.settled = [n for n in batch.settled if n.id not in lost]
        batch.to_send = [(n, f, m) for n, f, m in batch.to_send if n.id in began]
        for n, _, _ in batch.to_send:
            n.attempts, n.send_began_at = began[n.id], batch.now

    async def _send_all(
        self, batch: _Batch, items: Sequence[tuple[Notification, LoanFile, OutgoingMessage]]
    ) -> None:
        for n, file, message in items:
            try:
                receipt = await self.dispatchers[n.channel].send(message)
            except ProviderError as error:
                if error.ambiguous:
                    self._await_report(batch, n, error.provider, error.reason)
                else:
                    self._retry_or_fail(batch, n, file, error)
                continue
            except Exception as error:  # after the request may have left: it may be out
                log.exception("send raised", notification_id=str(n.id))
                self._await_report(batch, n, None, f"send raised {type(error).__name__}")
                continue
            batch.went(n, file, receipt, None)

    def _await_report(
        self, batch: _Batch, n: Notification, provider: str | None, reason: str
    ) -> None:
        n.provider = provider or None
        n.reason = f"outcome unknown ({reason}): waiting for the provider's report"
        batch.in_doubt[n.id] = batch.now + self.lease

    async def _look_up(self, batch: _Batch, n: Notification, file: LoanFile | None) -> None:
        batch.settled.append(n)
        began = n.send_began_at or batch.now
        try:
            if file is None:
                raise ProviderError("loan file gone", retriable=False)
            message = self.messages.compose(n, file, began)
            receipt = await self.dispatchers[n.channel].find(message, began, n.provider)
        except Exception as error:
            reason = error.reason if isinstance(error, ProviderError) else type(error).__name__
            if batch.now - began < self.unconfirmed_after:
                n.reason = f"outcome unknown, provider not able to tell yet ({reason})"
                batch.in_doubt[n.id] = batch.now + self.lease
            elif file is not None:
                unconfirmed = SendReceipt(n.provider or "unknown", "", began)
                batch.went(n, file, unconfirmed, "unconfirmed: counted as sent, never repeated")
            else:
                batch.fail(n, "outcome unknown and loan file gone")
            return
        if receipt is not None and file is not None:
            batch.went(n, file, receipt, "confirmed by the provider's lookup")
            return
        n.send_began_at = None
        n.reason = "the provider shows the send did not go out"
        batch.move(n, NotificationStatus.SCHEDULED, reason=n.reason)

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

    def _retry_or_fail(
        self, batch: _Batch, n: Notification, file: LoanFile, error: ProviderError
    ) -> None:
        """A send the provider refused or never received: again later while the policy
        allows, counting sends (``attempts``), not claims."""
        policy = self.policies.select(file.lender_id, file.product, file.jurisdiction.value)
        failure = SendFailure.PROVIDER_UNAVAILABLE if error.retriable else SendFailure.REJECTED
        delay = policy.retry_delay(n.attempts, failure)
        if delay is None:
            batch.fail(n, error.reason)
            return
        n.reason = error.reason
        n.due_at = batch.now + delay
        batch.move(n, NotificationStatus.SCHEDULED, reason=f"retry after: {error.reason}")

    async def _record(self, batch: _Batch) -> None:
        async with transaction(self.sessions) as session:
            written = await record(session, batch.outcomes())
            await enqueue(session, self.notifications_topic, batch.events(written))
        skipped = len(batch.settled) - len(written)
        if skipped:
            log.info("outcomes not recorded: settled elsewhere meanwhile", count=skipped)
