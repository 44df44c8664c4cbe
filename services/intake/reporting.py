"""Accepting overdue reports: loan state, history and outbox rows in one transaction.

Batch-first: a single report is a batch of one, and a batch costs a handful of statements
whatever its size.
"""

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from uuid import UUID, uuid4

from sqlalchemy.ext.asyncio import AsyncSession

from services.intake.adapters.loans import LoanKey, LoanRepository
from services.intake.domain import (
    KnownLoan,
    LoanConflictError,
    ReportOutcome,
    outcome_of,
    status_after_report,
)
from services.intake.schemas import OverdueLoanReport
from services.intake.sealing import Sealing
from shared.crypto import without_sealed_values
from shared.events.catalog import OVERDUE_REPORTED
from shared.events.envelope import Envelope
from shared.events.models import BorrowerContact, BorrowerProfile, OverdueReported
from shared.kafka import outbox

SOURCE = "/collections/intake"


@dataclass(frozen=True)
class Acceptance:
    event_id: UUID
    loan_id: str
    duplicate: bool


@dataclass(frozen=True)
class Refusal:
    loan_id: str
    reason: str


def report_identity(report: OverdueLoanReport) -> str:
    """A report is the same as an earlier one when loan and ``as_of`` (the instant) match."""
    return f"report:{report.loan_id}:{report.as_of.astimezone(UTC).isoformat()}"


class ReportIntake:
    def __init__(self, sealing: Sealing, delinquency_topic: str) -> None:
        self._sealing = sealing
        self._topic = delinquency_topic

    async def accept(
        self, session: AsyncSession, lender_id: str, reports: Sequence[OverdueLoanReport]
    ) -> list[Acceptance | Refusal]:
        """Record a batch of one lender's reports; repeats return the event on record.

        Reports are handled in (loan, as_of) order, whatever order they came in: concurrent
        batches then take their row and index locks in the same order and cannot deadlock, and
        one loan's events enter the outbox oldest first. Results keep the request's order.
        """
        repository = LoanRepository(session)
        known = await repository.lock_known(lender_id, {r.loan_id for r in reports})
        order = sorted(range(len(reports)), key=lambda i: (reports[i].loan_id, reports[i].as_of))
        results: dict[int, Acceptance | Refusal] = {}
        planned: list[tuple[int, _Prepared, ReportOutcome]] = []
        for index in order:
            report = reports[index]
            key = (lender_id, report.loan_id)
            try:
                outcome = outcome_of(known.get(key), report.as_of)
            except LoanConflictError as conflict:
                results[index] = Refusal(report.loan_id, str(conflict))
                continue
            planned.append((index, self._prepare(lender_id, report), outcome))
            if outcome is not ReportOutcome.STALE:
                status = status_after_report(report.amount_overdue.amount)
                known[key] = KnownLoan(as_of=report.as_of, status=status)
        fresh = (
            await repository.record_events(
                [self._history_row(lender_id, item, outcome) for _, item, outcome in planned]
            )
            if planned
            else set()
        )
        repeats = [
            report_identity(item.report) for _, item, _ in planned if item.event_id not in fresh
        ]
        on_record = await repository.event_ids_of(lender_id, repeats) if repeats else {}

        latest: dict[LoanKey, dict[str, Any]] = {}  # sorted by as_of: the last one wins
        new_events: list[Envelope] = []
        for index, item, _ in planned:
            loan_id = item.report.loan_id
            if item.event_id not in fresh:
                original = on_record[report_identity(item.report)]
                results[index] = Acceptance(original, loan_id, duplicate=True)
                continue
            results[index] = Acceptance(item.event_id, loan_id, duplicate=False)
            latest[(lender_id, loan_id)] = self._loan_row(lender_id, item)
            new_events.append(item.envelope)
        if latest:
            await repository.upsert_loans(list(latest.values()))
        await outbox.enqueue(session, self._topic, new_events)
        return [results[index] for index in range(len(reports))]

    def _prepare(self, lender_id: str, report: OverdueLoanReport) -> "_Prepared":
        """The report's event, with its borrower pseudonym and contact details sealed once."""
        borrower = report.borrower
        reference = self._sealing.pseudonyms.reference(lender_id, borrower.id)
        contact = BorrowerContact(name=borrower.name, phone=borrower.phone, email=borrower.email)
        plaintext = contact.model_dump_json().encode()
        profile = BorrowerProfile(
            ref=reference,
            contact=self._sealing.transit.seal(plaintext, associated_data=reference.encode()),
            locale=borrower.locale,
            timezone=borrower.timezone,
        )
        data = OverdueReported(
            loan_id=report.loan_id,
            borrower=profile,
            jurisdiction=report.jurisdiction,
            product=report.product,
            amount_overdue=report.amount_overdue,
            due_date=report.due_date,
            days_past_due=report.days_past_due,
            as_of=report.as_of,
        )
        envelope = OVERDUE_REPORTED.envelope(
            source=SOURCE, subject=report.loan_id, tenant=lender_id, data=data, event_id=uuid4()
        )
        return _Prepared(report, envelope, reference, plaintext)

    def _history_row(
        self, lender_id: str, item: "_Prepared", outcome: ReportOutcome
    ) -> dict[str, Any]:
        event = item.envelope
        return {
            "event_id": event.id,
            "lender_id": lender_id,
            "loan_id": item.report.loan_id,
            "event_type": event.type,
            "identity": report_identity(item.report),
            "occurred_at": item.report.as_of,
            "details": {**without_sealed_values(event.data), "outcome": outcome.value},
        }

    def _loan_row(self, lender_id: str, item: "_Prepared") -> dict[str, Any]:
        report, borrower, reference = item.report, item.report.borrower, item.reference
        at_rest = self._sealing.storage.seal(item.contact, associated_data=reference.encode())
        return {
            "lender_id": lender_id,
            "loan_id": report.loan_id,
            "borrower_id": borrower.id,
            "borrower_ref": reference,
            "contact_sealed": at_rest.model_dump(),
            "locale": borrower.locale,
            "timezone": borrower.timezone,
            "jurisdiction": report.jurisdiction,
            "product": report.product,
            "amount_overdue": report.amount_overdue.amount,
            "paid_since_report": 0,
            "currency": report.amount_overdue.currency,
            "due_date": report.due_date,
            "days_past_due": report.days_past_due,
            "as_of": report.as_of,
            "status": status_after_report(report.amount_overdue.amount).value,
            "updated_at": datetime.now(UTC),
        }


@dataclass(frozen=True)
class _Prepared:
    report: OverdueLoanReport
    envelope: Envelope
    reference: str
    contact: bytes  # BorrowerContact as JSON: personal data, only ever sealed before it leaves

    @property
    def event_id(self) -> UUID:
        return self.envelope.id
