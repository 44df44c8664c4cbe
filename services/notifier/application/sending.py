"""The sender's use cases: due reminders and notices go out under the contact rules, at most
once, and sends whose outcome never came are settled by the provider.

``send_due`` takes a batch the worker claimed under a fencing token, reads what deciding needs
in one go, and decides each (a loan's own notifications in order, so the second sees the first
in the ledger). Those to send are fenced in one short transaction (``begin_sends``): only the
ones still claimed and still scheduled go out, so a stop the consumer recorded first wins. Each
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
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from uuid import UUID

import structlog

from services.notifier.application.ports import (
    BorrowerKey,
    Composer,
    Dispatcher,
    OutgoingMessage,
    ProviderError,
    SendReceipt,
    UnitOfWork,
)
from services.notifier.application.send_batch import SendBatch
from services.notifier.domain.cadence_policies import CadencePolicies
from services.notifier.domain.files import Case, Notification, Preferences
from services.notifier.domain.outreach import intended_contact, rules_decision, stop_reason
from services.notifier.domain.policy import SendFailure
from shared.contact_rules import Contact, RulePack
from shared.events.envelope import message_key
from shared.events.notifications import NotificationStatus
from shared.observability.tracing import causes
from shared.vocabulary import Channel, Jurisdiction

log = structlog.get_logger(__name__)


def _now() -> datetime:
    return datetime.now(UTC)


@dataclass(frozen=True)
class Claim:
    """Notifications a worker holds under ``token`` until its lease runs out."""

    token: UUID
    notifications: Sequence[Notification]


@dataclass
class SendHandlers:
    unit_of_work: Callable[[], UnitOfWork]
    policies: CadencePolicies
    packs: Mapping[Jurisdiction, RulePack]
    composer: Composer
    dispatchers: Mapping[Channel, Dispatcher]
    lease: timedelta = timedelta(seconds=60)
    unconfirmed_after: timedelta = timedelta(minutes=10)
    clock: Callable[[], datetime] = _now

    async def send_due(self, claim: Claim) -> None:
        """Decide, fence, send and record one claimed batch of due notifications."""
        batch = SendBatch(self.clock(), claim.token)
        keys = {(n.lender_id, n.loan_id) for n in claim.notifications}
        async with self.unit_of_work() as uow:
            cases = await uow.cases.cases_of(keys)
            borrowers = {(c.lender_id, c.borrower_ref) for c in cases.values()}
            preferences = await uow.cases.preferences(borrowers)
            ledger = await uow.sending.ledger_of(keys, borrowers, batch.now)
            await uow.commit()
        for key, due in itertools.groupby(
            sorted(claim.notifications, key=lambda n: (n.lender_id, n.loan_id, n.due_at)),
            key=lambda n: (n.lender_id, n.loan_id),
        ):
            self._decide(batch, list(due), cases.get(key), preferences, ledger.get(key, []))
        await self._fence(batch)
        by_loan = itertools.groupby(batch.to_send, key=lambda item: item[1].key)
        await asyncio.gather(*(self._send_all(batch, list(items)) for _, items in by_loan))
        await self._record(batch)

    async def settle_in_doubt(self, claim: Claim) -> None:
        """Ask the providers about claimed sends whose outcome never came."""
        async with self.unit_of_work() as uow:
            cases = await uow.cases.cases_of(
                {(n.lender_id, n.loan_id) for n in claim.notifications}
            )
            await uow.commit()
        batch = SendBatch(self.clock(), claim.token)
        await asyncio.gather(
            *(
                self._look_up(batch, n, cases.get((n.lender_id, n.loan_id)))
                for n in claim.notifications
            )
        )
        await self._record(batch)

    def _decide(
        self,
        batch: SendBatch,
        due: Sequence[Notification],
        case: Case | None,
        preferences: Mapping[BorrowerKey, Preferences],
        ledger: list[Contact],
    ) -> None:
        """Cancel, suppress, fail or queue for sending each of one loan's due notifications."""
        for n in due:
            batch.settled.append(n)
            if case is None:
                batch.move(n, NotificationStatus.CANCELLED, reason="unknown_loan")
                continue
            prefs = preferences.get((case.lender_id, case.borrower_ref))
            reason = stop_reason(n, case, prefs)
            if reason is None and n.channel not in case.reachable:
                reason = f"no_{n.channel.value}_address"
            if reason is not None:
                n.reason = reason
                batch.move(n, NotificationStatus.CANCELLED, reason=reason)
                continue
            try:
                decision = rules_decision(
                    n, case, prefs, ledger, self.packs[case.jurisdiction], batch.now
                )
                message = self.composer.compose(n, case, batch.now)
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
            ledger.append(intended_contact(n, case, batch.now))  # the next one sees this one
            batch.to_send.append((n, case, message))

    async def _fence(self, batch: SendBatch) -> None:
        """Mark the sends about to begin; leave out those no longer this batch's to send."""
        async with self.unit_of_work() as uow:
            began = await uow.sending.begin_sends(
                batch.token, [n.id for n, _, _ in batch.to_send], self.lease
            )
            await uow.commit()
        lost = {n.id for n, _, _ in batch.to_send} - set(began)
        if lost:
            log.info("sends fenced off", count=len(lost))
            batch.settled = [n for n in batch.settled if n.id not in lost]
        batch.to_send = [(n, c, m) for n, c, m in batch.to_send if n.id in began]
        for n, _, _ in batch.to_send:
            n.attempts, n.send_began_at = began[n.id], batch.now

    async def _send_all(
        self, batch: SendBatch, items: Sequence[tuple[Notification, Case, OutgoingMessage]]
    ) -> None:
        for n, case, message in items:
            try:
                receipt = await self.dispatchers[n.channel].send(message)
            except ProviderError as error:
                if error.ambiguous:
                    self._await_report(batch, n, error.provider, error.reason)
                else:
                    self._retry_or_fail(batch, n, case, error)
                continue
            except Exception as error:  # after the request may have left: it may be out
                log.exception("send raised", notification_id=str(n.id))
                self._await_report(batch, n, None, f"send raised {type(error).__name__}")
                continue
            batch.went(n, case, receipt, None)

    def _await_report(
        self, batch: SendBatch, n: Notification, provider: str | None, reason: str
    ) -> None:
        n.provider = provider or None
        n.reason = f"outcome unknown ({reason}): waiting for the provider's report"
        batch.in_doubt[n.id] = batch.now + self.lease

    async def _look_up(self, batch: SendBatch, n: Notification, case: Case | None) -> None:
        batch.settled.append(n)
        began = n.send_began_at or batch.now
        try:
            if case is None:
                raise ProviderError("loan file gone", retriable=False)
            message = self.composer.compose(n, case, began)
            receipt = await self.dispatchers[n.channel].find(message, began, n.provider)
        except Exception as error:
            reason = error.reason if isinstance(error, ProviderError) else type(error).__name__
            if batch.now - began < self.unconfirmed_after:
                n.reason = f"outcome unknown, provider not able to tell yet ({reason})"
                batch.in_doubt[n.id] = batch.now + self.lease
            elif case is not None:
                unconfirmed = SendReceipt(n.provider or "unknown", "", began)
                batch.went(n, case, unconfirmed, "unconfirmed: counted as sent, never repeated")
            else:
                batch.fail(n, "outcome unknown and loan file gone")
            return
        if receipt is not None and case is not None:
            batch.went(n, case, receipt, "confirmed by the provider's lookup")
            return
        n.send_began_at = None
        n.reason = "the provider shows the send did not go out"
        batch.move(n, NotificationStatus.SCHEDULED, reason=n.reason)

    def _suppress(
        self,
        batch: SendBatch,
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
        self, batch: SendBatch, n: Notification, case: Case, error: ProviderError
    ) -> None:
        """A send the provider refused or never received: again later while the policy
        allows, counting sends (``attempts``), not claims."""
        policy = self.policies.select(case.lender_id, case.product, case.jurisdiction.value)
        failure = SendFailure.PROVIDER_UNAVAILABLE if error.retriable else SendFailure.REJECTED
        delay = policy.retry_delay(n.attempts, failure)
        if delay is None:
            batch.fail(n, error.reason)
            return
        n.reason = error.reason
        n.due_at = batch.now + delay
        batch.move(n, NotificationStatus.SCHEDULED, reason=f"retry after: {error.reason}")

    async def _record(self, batch: SendBatch) -> None:
        async with self.unit_of_work() as uow:
            written = await uow.sending.record(batch.results())
            traces = {  # what happened to a notification continues the trace that planned it
                message_key(n.lender_id, n.loan_id): (n.traceparent, n.tracestate)
                for n in batch.settled
                if n.traceparent
            }
            with causes(traces):
                for event in batch.events(written):
                    uow.publish(event)
            await uow.commit()
        skipped = len(batch.settled) - len(written)
        if skipped:
            log.info("outcomes not recorded: settled elsewhere meanwhile", count=skipped)
