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
        """Record a batch of one lender's reports; repeats return the event on record."""
        repository = LoanRepository(session)
        known = await repository.lock_known(lender_id, {r.loan_id for r in reports})
        planned: list[tuple[UUID, OverdueLoanReport, ReportOutcome] | Refusal] = []
        for report in reports:
            key = (lender_id, report.loan_id)
            try:
                outcome = outcome_of(known.get(key), report.as_of)
            except LoanConflictError as conflict:
                planned.append(Refusal(report.loan_id, str(conflict)))
                continue
            planned.append((uuid4(), report, outcome))
            if outcome is not ReportOutcome.STALE:
                known[key] = KnownLoan(
                    as_of=report.as_of, status=status_after_report(report.amount_overdue.amount)
                )
        accepted = [item for item in planned if not isinstance(item, Refusal)]
        envelopes = {
            event_id: self._event(event_id, lender_id, report) for event_id, report, _ in accepted
        }
        fresh = (
            await repository.record_events(
                [
                    self._history_row(lender_id, report, outcome, envelopes[event_id])
                    for event_id, report, outcome in accepted
                ]
            )
            if accepted
            else set()
        )
        repeats = [report_identity(r) for event_id, r, _ in accepted if event_id not in fresh]
        on_record = await repository.event_ids_of(lender_id, repeats) if repeats else {}

        latest: dict[LoanKey, tuple[datetime, dict[str, Any]]] = {}
        results: list[Acceptance | Refusal] = []
        for item in planned:
            if isinstance(item, Refusal):
                results.append(item)
                continue
            event_id, report, _ = item
            if event_id not in fresh:
                original = on_record[report_identity(report)]
                results.append(Acceptance(original, report.loan_id, duplicate=True))
                continue
            results.append(Acceptance(event_id, report.loan_id, duplicate=False))
            key = (lender_id, report.loan_id)
            if key not in latest or report.as_of > latest[key][0]:
                latest[key] = (report.as_of, self._loan_row(lender_id, report))
        if latest:
            await repository.upsert_loans([row for _, row in latest.values()])
        new_events = [
            envelopes[r.event_id] for r in results if isinstance(r, Acceptance) and not r.duplicate
        ]
        await outbox.enqueue(session, self._topic, new_events)
        return results

    def _profile(self, lender_id: str, report: OverdueLoanReport) -> tuple[BorrowerProfile, bytes]:
        borrower = report.borrower
        contact = BorrowerContact(name=borrower.name, phone=borrower.phone, email=borrower.email)
        reference = self._sealing.pseudonyms.reference(lender_id, borrower.id)
        plaintext = contact.model_dump_json().encode()
        profile = BorrowerProfile(
            ref=reference,
            contact=self._sealing.transit.seal(plaintext, associated_data=reference.encode()),
            locale=borrower.locale,
            timezone=borrower.timezone,
        )
        return profile, plaintext

    def _event(self, event_id: UUID, lender_id: str, report: OverdueLoanReport) -> Envelope:
        profile, _ = self._profile(lender_id, report)
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
        return OVERDUE_REPORTED.envelope(
            source=SOURCE, subject=report.loan_id, tenant=lender_id, data=data, event_id=event_id
        )

    def _history_row(
        self, lender_id: str, report: OverdueLoanReport, outcome: ReportOutcome, event: Envelope
    ) -> dict[str, Any]:
        return {
            "event_id": event.id,
            "lender_id": lender_id,
            "loan_id": report.loan_id,
            "event_type": event.type,
            "identity": report_identity(report),
            "occurred_at": report.as_of,
            "details": {**without_sealed_values(event.data), "outcome": outcome.value},
        }

    def _loan_row(self, lender_id: str, report: OverdueLoanReport) -> dict[str, Any]:
        borrower = report.borrower
        reference = self._sealing.pseudonyms.reference(lender_id, borrower.id)
        contact = BorrowerContact(name=borrower.name, phone=borrower.phone, email=borrower.email)
        at_rest = self._sealing.storage.seal(
            contact.model_dump_json().encode(), associated_data=reference.encode()
        )
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
