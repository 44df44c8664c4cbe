"""Accepting overdue reports: state, report history and outbox rows in one transaction."""

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from uuid import UUID, uuid4

from sqlalchemy.ext.asyncio import AsyncSession

from services.intake.adapters.loans import LoanKey, LoanRepository
from services.intake.domain import KnownLoan, LoanStatus, ReportOutcome, outcome_of
from services.intake.schemas import OverdueLoanReport
from shared.crypto import KeyRing, Pseudonymizer
from shared.events.catalog import (
    OVERDUE_REPORTED,
    BorrowerContact,
    BorrowerProfile,
    OverdueReported,
)
from shared.events.envelope import Envelope
from shared.kafka import outbox

SOURCE = "/collections/intake"


@dataclass(frozen=True)
class Acceptance:
    event_id: UUID
    loan_id: str
    duplicate: bool


@dataclass(frozen=True)
class Sealing:
    """The keys intake seals personal data with: at rest, in events, and for pseudonyms."""

    storage: KeyRing
    transit: KeyRing
    pseudonyms: Pseudonymizer


class ReportIntake:
    def __init__(self, sealing: Sealing, delinquency_topic: str) -> None:
        self._sealing = sealing
        self._topic = delinquency_topic

    async def accept(
        self, session: AsyncSession, lender_id: str, reports: Sequence[OverdueLoanReport]
    ) -> list[Acceptance]:
        """Record a batch of reports for one lender; repeats return the standing event id."""
        repository = LoanRepository(session)
        known = await repository.lock_known({(lender_id, r.loan_id) for r in reports})
        event_ids = [uuid4() for _ in reports]
        outcomes: list[ReportOutcome] = []
        for report in reports:
            outcome = outcome_of(known.get((lender_id, report.loan_id)), report.as_of)
            outcomes.append(outcome)
            if outcome is not ReportOutcome.STALE:
                known[(lender_id, report.loan_id)] = KnownLoan(as_of=report.as_of)
        fresh = await repository.record_reports(
            [
                {
                    "event_id": event_id,
                    "lender_id": lender_id,
                    "loan_id": report.loan_id,
                    "as_of": report.as_of,
                    "outcome": outcome.value,
                }
                for event_id, report, outcome in zip(event_ids, reports, outcomes, strict=True)
            ]
        )
        repeats = {
            (lender_id, r.loan_id, r.as_of)
            for event_id, r in zip(event_ids, reports, strict=True)
            if event_id not in fresh
        }
        standing = await repository.event_ids_of(repeats) if repeats else {}

        latest: dict[LoanKey, tuple[datetime, dict[str, object]]] = {}
        envelopes: list[Envelope] = []
        results: list[Acceptance] = []
        now = datetime.now(UTC)
        for event_id, report in zip(event_ids, reports, strict=True):
            if event_id not in fresh:
                original = standing[(lender_id, report.loan_id, report.as_of)]
                results.append(Acceptance(original, report.loan_id, duplicate=True))
                continue
            profile, row = self._seal(lender_id, report, now)
            envelopes.append(self._event(event_id, lender_id, report, profile))
            results.append(Acceptance(event_id, report.loan_id, duplicate=False))
            key = (lender_id, report.loan_id)
            if key not in latest or report.as_of > latest[key][0]:
                latest[key] = (report.as_of, row)
        if latest:
            await repository.upsert_loans([row for _, row in latest.values()])
        await outbox.enqueue(session, self._topic, envelopes)
        return results

    def _seal(
        self, lender_id: str, report: OverdueLoanReport, now: datetime
    ) -> tuple[BorrowerProfile, dict[str, object]]:
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
        at_rest = self._sealing.storage.seal(plaintext, associated_data=reference.encode())
        row: dict[str, object] = {
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
            "currency": report.amount_overdue.currency,
            "due_date": report.due_date,
            "days_past_due": report.days_past_due,
            "as_of": report.as_of,
            "status": LoanStatus.DELINQUENT.value,
            "updated_at": now,
        }
        return profile, row

    def _event(
        self, event_id: UUID, lender_id: str, report: OverdueLoanReport, profile: BorrowerProfile
    ) -> Envelope:
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
