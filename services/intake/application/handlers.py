"""Intake's use cases: one method per command, each inside the caller's unit of work.

Each loads (and locks) what it changes, lets the ``Loan`` decide, then records the event in the
history (where a resubmission finds the event on record instead) and publishes it. A method
that refuses raises before it writes anything.
"""

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from uuid import UUID, uuid4

from pydantic import BaseModel

from services.intake.application import report_events
from services.intake.application.borrower_desk import LoanEndedError
from services.intake.application.ports import (
    DataRequestRecord,
    EncodedEvent,
    HistoryEntry,
    HolderRecord,
    RecordedEvent,
    ReportedLoan,
    StoredPreferences,
    UnitOfWork,
)
from services.intake.application.sealing import SealedBorrower, Sealing
from services.intake.domain import identities
from services.intake.domain.commands import (
    CloseLoan,
    LiftHold,
    OverdueReport,
    PlaceHold,
    RecallPlacement,
    RecordPayment,
    ReportOverdueLoans,
    ResolveDispute,
    RevokeBorrowerLinks,
    UpdateContactPreferences,
)
from services.intake.domain.disputes import (
    BorrowerChoices,
    Dispute,
    DisputeNotFoundError,
    checked_details,
    effective_preferences,
)
from services.intake.domain.loan import (
    Hold,
    Loan,
    LoanConflictError,
    LoanNotFoundError,
    LoanStatus,
    ReportOutcome,
)
from shared.crypto import without_sealed_values
from shared.events.borrowers import (
    DataRequested,
    DisputeOpened,
    DisputeOutcome,
    DisputeReason,
    DisputeResolved,
)
from shared.events.catalog import (
    CONTACT_PREFERENCES_UPDATED,
    EVENT_TYPES,
    OVERDUE_REPORTED,
    EventType,
)
from shared.events.envelope import Envelope
from shared.events.models import (
    BorrowerProfile,
    ClosureReason,
    ContactPreferences,
    ContactPreferencesUpdated,
    HoldReason,
    OverdueReported,
)
from shared.events.money import Money

SOURCE = "/collections/intake"
_TYPE_OF_DATA: dict[type[BaseModel], EventType] = {t.model: t for t in EVENT_TYPES.values()}


@dataclass(frozen=True, slots=True)
class Accepted:
    """The event that stands for a change: new, or the one on record for a resubmission."""

    event_id: UUID
    loan_id: str
    duplicate: bool = False


@dataclass(frozen=True, slots=True)
class Refused:
    """A report the loan's state does not allow (a closed loan); the batch goes on."""

    loan_id: str
    reason: str


@dataclass(frozen=True, slots=True)
class PaymentRecorded:
    accepted: Accepted
    loan: Loan


@dataclass(frozen=True, slots=True)
class HoldRecorded:
    accepted: Accepted
    hold_id: str


@dataclass(frozen=True, slots=True)
class PreferencesRecorded:
    event_id: UUID
    borrower_id: str
    version: int
    preferences: ContactPreferences | None = None  # what was published


@dataclass(frozen=True, slots=True)
class LoanRecord:
    """What a lender reads about a loan: its state, holds, history, disputes and holder."""

    loan: Loan
    holds: list[Hold]
    history: list[HistoryEntry]
    disputes: list[Dispute] = field(default_factory=list)
    held_by: HolderRecord | None = None

    @property
    def on_hold(self) -> bool:
        return any(hold.active for hold in self.holds)


class IntakeHandlers:
    def __init__(
        self, sealing: Sealing, clock: Callable[[], datetime] = lambda: datetime.now(UTC)
    ) -> None:
        self._sealing = sealing
        self._now = clock

    async def report_overdue_loans(
        self, uow: UnitOfWork, lender_id: str, command: ReportOverdueLoans
    ) -> list[Accepted | Refused]:
        """Record a lender's reports; a repeat returns the event on record.

        Reports are handled in (loan, as_of) order, whatever order they came in: concurrent
        batches then take their locks in the same order and cannot deadlock, and one loan's
        events reach the outbox oldest first. Results keep the command's order. No model is
        made per report: each event is serialized once (``report_events``) for the outbox and
        its history entry, and the contact details are sealed without one (``Sealing.seal``).
        """
        reports = command.reports
        loans = await uow.loans.lock(lender_id, {r.loan_id for r in reports})
        results: dict[int, Accepted | Refused] = {}
        planned: list[tuple[int, OverdueReport, SealedBorrower, EncodedEvent, HistoryEntry]] = []
        changed: set[UUID] = set()  # events of reports newer than the loan's
        now = self._now()
        for index in sorted(range(len(reports)), key=lambda i: _report_order(reports[i])):
            report = reports[index]
            reference = self._sealing.reference(lender_id, report.borrower.id)
            loan = loans.get(report.loan_id)
            try:
                outcome = self._take(loans, lender_id, report, reference, loan)
            except LoanConflictError as conflict:
                results[index] = Refused(report.loan_id, str(conflict))
                continue
            borrower = self._sealing.seal(lender_id, report.borrower, reference)
            data = report_events.overdue_reported(report, borrower)
            event = report_events.encoded(
                OVERDUE_REPORTED,
                source=SOURCE,
                tenant=lender_id,
                subject=report.loan_id,
                data=data,
                event_id=uuid4(),
                time=now,
            )
            entry = HistoryEntry(
                event_id=event.event_id,
                loan_id=report.loan_id,
                event_type=event.type,
                identity=identities.report(report.loan_id, report.as_of),
                occurred_at=report.as_of,
                details=report_events.history_details(data, outcome.value),
            )
            planned.append((index, report, borrower, event, entry))
            if outcome is not ReportOutcome.STALE:
                changed.add(event.event_id)

        fresh = await uow.history.record(lender_id, [entry for *_, entry in planned])
        repeats = [entry.identity for *_, entry in planned if entry.event_id not in fresh]
        on_record = await uow.history.on_record(lender_id, repeats) if repeats else {}
        newest: dict[str, ReportedLoan] = {}  # in as_of order: the last one wins
        published: list[EncodedEvent] = []
        for index, report, borrower, event, entry in planned:
            if event.event_id not in fresh:
                results[index] = Accepted(
                    on_record[entry.identity].event_id, report.loan_id, duplicate=True
                )
                continue
            results[index] = Accepted(event.event_id, report.loan_id)
            if event.event_id in changed:
                newest[report.loan_id] = ReportedLoan(loans[report.loan_id], borrower)
            published.append(event)
        await uow.loans.save_reported(list(newest.values()))
        await uow.publish_encoded(published)
        return [results[index] for index in range(len(reports))]

    @staticmethod
    def _take(
        loans: dict[str, Loan],
        lender_id: str,
        report: OverdueReport,
        borrower_ref: str,
        loan: Loan | None,
    ) -> ReportOutcome:
        if loan is None:
            loans[report.loan_id] = Loan.opened_by(lender_id, report, borrower_ref)
            return ReportOutcome.OPENED
        return loan.take_report(report, borrower_ref)

    async def record_payment(
        self, uow: UnitOfWork, lender_id: str, command: RecordPayment
    ) -> PaymentRecorded:
        loan = await _locked(uow, lender_id, command.loan_id)
        identity = identities.payment(command.payment_id)
        on_record = await _on_record(
            uow, lender_id, loan, identity, f"payment {command.payment_id!r}"
        )
        if on_record is not None:
            return PaymentRecorded(on_record, loan)
        event = loan.take_payment(command)
        accepted = await _record(uow, lender_id, loan.loan_id, identity, event, command.paid_at)
        await uow.loans.save(loan)
        return PaymentRecorded(accepted, loan)

    async def place_hold(self, uow: UnitOfWork, lender_id: str, command: PlaceHold) -> HoldRecorded:
        loan = await _locked(uow, lender_id, command.loan_id)
        hold_id = command.hold_id or f"H-{uuid4().hex[:16]}"
        identity = identities.hold_placed(hold_id)
        on_record = await _on_record(uow, lender_id, loan, identity, f"hold {hold_id!r}")
        if on_record is not None:
            return HoldRecorded(on_record, hold_id)
        now = self._now()
        event = loan.place_hold(hold_id, command.reason, now)
        accepted = await _record(uow, lender_id, loan.loan_id, identity, event, now)
        if not await uow.loans.add_hold(
            lender_id, loan.loan_id, Hold(hold_id, command.reason, now)
        ):
            raise LoanConflictError(f"hold {hold_id!r} exists on another loan")
        return HoldRecorded(accepted, hold_id)

    async def lift_hold(self, uow: UnitOfWork, lender_id: str, command: LiftHold) -> Accepted:
        loan = await _locked(uow, lender_id, command.loan_id)
        hold = await uow.loans.lock_hold(lender_id, loan.loan_id, command.hold_id)
        now = self._now()
        event = loan.lift_hold(hold, command.hold_id, now)
        identity = identities.hold_lifted(command.hold_id)
        on_record = await _on_record(uow, lender_id, loan, identity, f"hold {command.hold_id!r}")
        if on_record is not None:
            return on_record
        accepted = await _record(uow, lender_id, loan.loan_id, identity, event, now)
        await uow.loans.lift_hold(lender_id, command.hold_id, now)
        return accepted

    async def recall_placement(
        self, uow: UnitOfWork, lender_id: str, command: RecallPlacement
    ) -> Accepted:
        loan = await _locked(uow, lender_id, command.loan_id)
        at = command.recalled_at or self._now()
        event = loan.recall(command.reason, at)
        return await _record(uow, lender_id, loan.loan_id, identities.recall(), event, at)

    async def close_loan(self, uow: UnitOfWork, lender_id: str, command: CloseLoan) -> Accepted:
        loan = await _locked(uow, lender_id, command.loan_id)
        identity = identities.closure(loan.loan_id)
        on_record = await _on_record(uow, lender_id, loan, identity, "the closure")
        if on_record is not None:
            return on_record
        at = command.closed_at or self._now()
        event = loan.close(command.reason, at)
        accepted = await _record(uow, lender_id, loan.loan_id, identity, event, at)
        await uow.loans.save(loan)
        return accepted

    async def update_contact_preferences(
        self, uow: UnitOfWork, lender_id: str, command: UpdateContactPreferences
    ) -> PreferencesRecorded:
        """Preferences belong to the borrower, not a loan: the event is keyed by the pseudonym.
        What the lender reports replaces its earlier report; the borrower's own choices on
        their page stay added to it."""
        stored = await uow.loans.preferences_of(lender_id, command.borrower_id)
        choices = stored.choices if stored is not None else BorrowerChoices()
        return await self._save_preferences(
            uow, lender_id, command.borrower_id, command.preferences, choices, command.effective_at
        )

    async def set_borrower_choices(
        self, uow: UnitOfWork, lender_id: str, borrower_id: str, choices: BorrowerChoices
    ) -> PreferencesRecorded:
        """The borrower's own opt-outs and inconvenient times replace their earlier ones; what
        the lender reported stays. Published as the lender's updates are."""
        stored = await uow.loans.preferences_of(lender_id, borrower_id)
        reported = stored.reported if stored is not None else ContactPreferences()
        return await self._save_preferences(uow, lender_id, borrower_id, reported, choices, None)

    async def _save_preferences(
        self,
        uow: UnitOfWork,
        lender_id: str,
        borrower_id: str,
        reported: ContactPreferences,
        choices: BorrowerChoices,
        effective_at: datetime | None,
    ) -> PreferencesRecorded:
        reference = self._sealing.reference(lender_id, borrower_id)
        effective = effective_preferences(reported, choices)
        version = await uow.loans.save_preferences(
            lender_id, borrower_id, reference, StoredPreferences(reported, choices, effective)
        )
        data = ContactPreferencesUpdated(
            borrower_ref=reference,
            preferences=effective,
            effective_at=effective_at or self._now(),
        )
        envelope = CONTACT_PREFERENCES_UPDATED.envelope(
            source=SOURCE, subject=reference, tenant=lender_id, data=data
        )
        uow.publish(envelope)
        return PreferencesRecorded(envelope.id, borrower_id, version, effective)

    async def open_dispute(
        self,
        uow: UnitOfWork,
        lender_id: str,
        loan_id: str,
        borrower_ref: str,
        reason: DisputeReason,
        details: str,
    ) -> Dispute:
        """The borrower disputes the debt: the dispute, its hold and both events, together."""
        loan = await _locked(uow, lender_id, loan_id)
        if loan.borrower_ref != borrower_ref:
            raise LoanNotFoundError(f"no loan {loan_id!r}")
        if loan.status is LoanStatus.CLOSED:
            raise LoanEndedError("the loan is closed")
        details = checked_details(details)
        now = self._now()
        dispute = Dispute.by_borrower(lender_id, f"D-{uuid4().hex[:16]}", loan_id, reason, now)
        opened = DisputeOpened(
            loan_id=loan_id,
            dispute_id=dispute.dispute_id,
            borrower_ref=borrower_ref,
            reason=reason,
            hold_id=dispute.hold_id,
            opened_at=now,
        )
        held = loan.place_hold(dispute.hold_id, HoldReason.DISPUTE, now)
        await _record(
            uow, lender_id, loan_id, identities.dispute_opened(dispute.dispute_id), opened, now
        )
        await _record(uow, lender_id, loan_id, identities.hold_placed(dispute.hold_id), held, now)
        await uow.loans.add_hold(lender_id, loan_id, Hold(dispute.hold_id, HoldReason.DISPUTE, now))
        sealed = self._sealing.seal_text(details, _context(dispute, "details")) if details else None
        await uow.disputes.add(dispute, sealed)
        return dispute

    async def resolve_dispute(
        self, uow: UnitOfWork, lender_id: str, command: ResolveDispute
    ) -> Dispute:
        """Rejected: the hold is lifted. Upheld: the loan is closed, or its debt corrected and
        the hold lifted. Everything is decided before anything is written."""
        loan = await _locked(uow, lender_id, command.loan_id)
        dispute = await uow.disputes.lock(lender_id, loan.loan_id, command.dispute_id)
        if dispute is None:
            raise DisputeNotFoundError(
                f"no dispute {command.dispute_id!r} on loan {command.loan_id!r}"
            )
        now = self._now()
        resolved = dispute.resolve(command.outcome, now, command.corrected_amount)
        after: list[tuple[str, BaseModel]] = []
        lift = command.outcome is DisputeOutcome.REJECTED
        if command.outcome is DisputeOutcome.UPHELD and command.corrected_amount is None:
            after.append(
                (identities.closure(loan.loan_id), loan.close(ClosureReason.DISPUTE_UPHELD, now))
            )
        elif command.corrected_amount is not None:
            after.append(
                (
                    identities.report(loan.loan_id, now),
                    await self._corrected(uow, loan, command.corrected_amount, now),
                )
            )
            lift = True
        resolution = DisputeResolved(
            loan_id=loan.loan_id,
            dispute_id=dispute.dispute_id,
            borrower_ref=loan.borrower_ref,
            source=dispute.source,
            outcome=command.outcome,
            hold_id=dispute.hold_id,
            corrected_amount=command.corrected_amount,
            resolved_at=now,
        )
        await _record(
            uow,
            lender_id,
            loan.loan_id,
            identities.dispute_resolved(dispute.dispute_id),
            resolution,
            now,
        )
        for identity, event in after:
            await _record(uow, lender_id, loan.loan_id, identity, event, now)
        if after:
            await uow.loans.save(loan)
        if lift:
            await self._lift_if_held(uow, lender_id, loan, dispute.hold_id, now)
        note = (
            self._sealing.seal_text(command.note, _context(dispute, "note"))
            if command.note
            else None
        )
        await uow.disputes.resolve(resolved, note)
        return resolved

    async def _corrected(
        self, uow: UnitOfWork, loan: Loan, amount: Money, now: datetime
    ) -> OverdueReported:
        """The new report an upheld dispute makes: the corrected figures, the borrower as
        stored (contact details resealed for transit)."""
        stored = await uow.loans.borrower_of(loan.lender_id, loan.loan_id)
        if stored is None or stored.contact is None:
            raise LoanConflictError(
                "the borrower's contact details were erased; report the loan anew instead"
            )
        loan.correct(amount, now)
        profile = BorrowerProfile(
            ref=loan.borrower_ref,
            contact=self._sealing.contact_for_transit(loan.borrower_ref, stored.contact),
            locale=stored.locale,
            timezone=stored.timezone,
            region=stored.region,
        )
        return OverdueReported(
            loan_id=loan.loan_id,
            borrower=profile,
            jurisdiction=loan.jurisdiction,
            product=loan.product,
            amount_overdue=amount,
            due_date=loan.due_date,
            days_past_due=loan.days_past_due,
            as_of=now,
        )

    @staticmethod
    async def _lift_if_held(
        uow: UnitOfWork, lender_id: str, loan: Loan, hold_id: str, now: datetime
    ) -> None:
        """Lift a dispute's hold, whoever issued it (``agency-dispute:`` holds included),
        unless it was lifted already."""
        hold = await uow.loans.lock_hold(lender_id, loan.loan_id, hold_id)
        if hold is None or not hold.active:
            return
        identity = identities.hold_lifted(hold_id)
        if await uow.history.on_record(lender_id, [identity]):
            return
        await _record(
            uow, lender_id, loan.loan_id, identity, loan.lift_hold(hold, hold_id, now), now
        )
        await uow.loans.lift_hold(lender_id, hold_id, now)

    async def record_data_request(self, uow: UnitOfWork, request: DataRequestRecord) -> None:
        """A borrower's data request, stored and published on the loan's stream."""
        await uow.borrowers.add_request(request)
        data = DataRequested(
            request_id=request.request_id,
            loan_id=request.loan_id,
            borrower_ref=request.borrower_ref,
            kind=request.kind,
            requested_at=request.requested_at,
            due_by=request.due_by,
        )
        identity = identities.data_requested(request.request_id)
        await _record(uow, request.lender_id, request.loan_id, identity, data, request.requested_at)

    async def revoke_borrower_links(
        self, uow: UnitOfWork, lender_id: str, command: RevokeBorrowerLinks
    ) -> str:
        loan = await _locked(uow, lender_id, command.loan_id)
        await uow.borrowers.revoke_links(lender_id, loan.loan_id, self._now())
        return loan.loan_id


async def loan_record(uow: UnitOfWork, lender_id: str, loan_id: str) -> LoanRecord:
    """The read side: a loan as intake knows it (another lender's loan is not found)."""
    loan = await uow.loans.get(lender_id, loan_id)
    if loan is None:
        raise LoanNotFoundError(f"no loan {loan_id!r}")
    holds = await uow.loans.holds_of(lender_id, loan_id)
    return LoanRecord(
        loan,
        holds,
        await uow.history.of(lender_id, loan_id),
        await uow.disputes.of_loan(lender_id, loan_id),
        await uow.borrowers.holder_of(lender_id, loan_id),
    )


def _context(dispute: Dispute, part: str) -> str:
    """What a dispute's sealed text is bound to (it cannot be moved to another dispute)."""
    return f"{dispute.lender_id}/{dispute.dispute_id}/{part}"


def _report_order(report: OverdueReport) -> tuple[str, datetime]:
    return report.loan_id, report.as_of


async def _locked(uow: UnitOfWork, lender_id: str, loan_id: str) -> Loan:
    loan = (await uow.loans.lock(lender_id, [loan_id])).get(loan_id)
    if loan is None:
        raise LoanNotFoundError(f"no loan {loan_id!r}")
    return loan


async def _on_record(
    uow: UnitOfWork, lender_id: str, loan: Loan, identity: str, what: str
) -> Accepted | None:
    """The event a resubmission stands for. Payment and hold ids are unique per lender, so
    one already recorded on another loan is a conflict, not a retry."""
    recorded: RecordedEvent | None = (await uow.history.on_record(lender_id, [identity])).get(
        identity
    )
    if recorded is None:
        return None
    if recorded.loan_id != loan.loan_id:
        raise LoanConflictError(f"{what} is recorded on another loan")
    return Accepted(recorded.event_id, loan.loan_id, duplicate=True)


def _envelope(lender_id: str, loan_id: str, data: BaseModel) -> Envelope:
    return _TYPE_OF_DATA[type(data)].envelope(
        source=SOURCE, subject=loan_id, tenant=lender_id, data=data, event_id=uuid4()
    )


def _history(
    envelope: Envelope, identity: str, occurred_at: datetime, **extra: str
) -> HistoryEntry:
    return HistoryEntry(
        event_id=envelope.id,
        loan_id=envelope.subject,
        event_type=envelope.type,
        identity=identity,
        occurred_at=occurred_at,
        details={**without_sealed_values(envelope.data), **extra},
    )


async def _record(
    uow: UnitOfWork,
    lender_id: str,
    loan_id: str,
    identity: str,
    data: BaseModel,
    occurred_at: datetime,
) -> Accepted:
    """History entry and event for a change the caller checked is new."""
    envelope = _envelope(lender_id, loan_id, data)
    if not await uow.history.record(lender_id, [_history(envelope, identity, occurred_at)]):
        # A concurrent request recorded the same change on another loan first.
        raise LoanConflictError("the same change was just recorded on another loan")
    uow.publish(envelope)
    return Accepted(envelope.id, loan_id)
