"""Promises, payments and disputes an agency reports, and legal escalation (seed step 4).

A promise is kept or broken by the lender's payments, an agency's payment is reconciled with
the lender's record of it (both computed when read, from what is stored); a dispute puts the
case on hold (contact checks refuse, escalation waits) and is published for the lender's
systems; an escalation request is decided at once against the policy's prerequisites.
"""

from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any
from uuid import uuid4

from sqlalchemy.ext.asyncio import AsyncSession

from services.agency_gateway.adapters.assignments import AssignmentStore
from services.agency_gateway.adapters.cases import CaseRepository
from services.agency_gateway.adapters.commitments import CommitmentBook
from services.agency_gateway.api.models import (
    AgencyPaymentRequest,
    AgencyPaymentView,
    Commitments,
    DisputeRequest,
    DisputeView,
    EscalationView,
    PromiseRequest,
    PromiseView,
)
from services.agency_gateway.domain.commitments import (
    EscalationFacts,
    reconcile,
    unmet_prerequisites,
)
from services.agency_gateway.domain.policy import PlacementPolicy
from services.agency_gateway.handoff import own_active, publish
from shared.db.engine import SessionFactory, transaction
from shared.events.assignments import (
    AgencyPaymentReported,
    DisputeRaised,
    EscalationDecided,
    PromiseRecorded,
    UnmetPrerequisite,
)
from shared.events.catalog import (
    AGENCY_PAYMENT_REPORTED,
    DISPUTE_RAISED,
    ESCALATION_DECIDED,
    PROMISE_RECORDED,
)
from shared.events.money import Money
from shared.http.problems import ProblemError
from shared.promises import Paid, promise_status

AGENCY_DISPUTE = "agency-dispute:"  # prefix of the hold an agency's dispute puts on a case


def _positive(amount: Decimal) -> None:
    if amount <= 0:
        raise ProblemError(
            422,
            "Invalid amount",
            "The amount must be more than zero.",
            errors=[{"field": "body.amount.amount", "message": "must be > 0", "code": "invalid"}],
        )


@dataclass(frozen=True)
class CommitmentDesk:
    sessions: SessionFactory
    policy: PlacementPolicy
    assignments_topic: str
    activities_topic: str

    async def promise(
        self, agency_id: str, assignment_id: str, body: PromiseRequest
    ) -> tuple[PromiseView, bool]:
        _positive(body.amount.amount)
        async with transaction(self.sessions) as session:
            row, _case = await own_active(session, agency_id, assignment_id)
            now = datetime.now(UTC)
            stored, new = await CommitmentBook(session).add_once(
                "promise",
                self._row(row, agency_id, now)
                | {
                    "promise_id": body.promise_id,
                    "amount": body.amount.amount,
                    "currency": body.amount.currency,
                    "due_date": body.due_date,
                },
            )
            if new:
                data = PromiseRecorded(
                    promise_id=body.promise_id,
                    assignment_id=assignment_id,
                    loan_id=row["loan_id"],
                    agency_id=agency_id,
                    amount=body.amount,
                    due_date=body.due_date,
                    recorded_at=now,
                )
                await publish(session, self.activities_topic, row, PROMISE_RECORDED, data)
            paid = await self._lender_paid(session, row)
        return self._promise_view(stored, paid), new

    async def payment(
        self, agency_id: str, assignment_id: str, body: AgencyPaymentRequest
    ) -> tuple[AgencyPaymentView, bool]:
        _positive(body.amount.amount)
        async with transaction(self.sessions) as session:
            row, _case = await own_active(session, agency_id, assignment_id)
            now = datetime.now(UTC)
            book = CommitmentBook(session)
            stored, new = await book.add_once(
                "payment",
                self._row(row, agency_id, now)
                | {
                    "payment_id": body.payment_id,
                    "amount": body.amount.amount,
                    "currency": body.amount.currency,
                    "paid_at": body.paid_at,
                },
            )
            if new:
                data = AgencyPaymentReported(
                    payment_id=body.payment_id,
                    assignment_id=assignment_id,
                    loan_id=row["loan_id"],
                    agency_id=agency_id,
                    amount=body.amount,
                    paid_at=body.paid_at,
                    recorded_at=now,
                )
                await publish(session, self.activities_topic, row, AGENCY_PAYMENT_REPORTED, data)
            views = await self._payment_views(session, row)
        return next(v for v in views if v.payment_id == stored["payment_id"]), new

    async def dispute(
        self, agency_id: str, assignment_id: str, body: DisputeRequest
    ) -> tuple[DisputeView, bool]:
        async with transaction(self.sessions) as session:
            row, case = await own_active(session, agency_id, assignment_id)
            now = datetime.now(UTC)
            stored, new = await CommitmentBook(session).add_once(
                "dispute",
                self._row(row, agency_id, now)
                | {"dispute_id": body.dispute_id, "reason": body.reason},
            )
            if new:
                key = (row["lender_id"], row["loan_id"])
                cases = await CaseRepository(session).for_update([key])
                holds = {**cases[key]["holds"], f"{AGENCY_DISPUTE}{body.dispute_id}": "dispute"}
                await CaseRepository(session).change(key, holds=holds, updated_at=now)
                data = DisputeRaised(
                    dispute_id=body.dispute_id,
                    assignment_id=assignment_id,
                    loan_id=row["loan_id"],
                    borrower_ref=case["borrower_ref"],
                    agency_id=agency_id,
                    reason=body.reason,
                    raised_at=now,
                )
                await publish(session, self.activities_topic, row, DISPUTE_RAISED, data)
        return DisputeView.model_validate(stored), new

    async def commitments(self, agency_id: str, assignment_id: str) -> Commitments:
        async with transaction(self.sessions) as session:
            row, _case = await own_active(session, agency_id, assignment_id)
            book = CommitmentBook(session)
            paid = await self._lender_paid(session, row)
            promises = [self._promise_view(p, paid) for p in await book.promises(assignment_id)]
            payments = await self._payment_views(session, row)
            disputes = await book.disputes(assignment_id)
        return Commitments(
            promises=promises,
            payments=payments,
            disputes=[DisputeView.model_validate(d) for d in disputes],
        )

    async def escalate(
        self, session: AsyncSession, row: dict[str, Any], case: dict[str, Any], requested_by: str
    ) -> EscalationView:
        """Decide a request for legal escalation now; the decision is recorded and published."""
        now = datetime.now(UTC)
        facts = EscalationFacts(
            notice_sent_at=row["notice_sent_at"],
            open_dispute="dispute" in case["holds"].values(),
            days_past_due=case["days_past_due"],
            amount=Decimal(case["amount_overdue"]),
            lender_approved=case["escalation_approved_at"] is not None,
        )
        unmet = [
            UnmetPrerequisite(prerequisite=name, explanation=why)
            for name, why in unmet_prerequisites(facts, self.policy.escalation, now)
        ]
        view = EscalationView(
            escalation_id=f"E-{uuid4().hex}",
            assignment_id=row["assignment_id"],
            requested_by=requested_by,
            granted=not unmet,
            unmet=unmet,
            policy_version=self.policy.version,
            decided_at=now,
        )
        await CommitmentBook(session).add_escalation(
            self._row(row, row["agency_id"], now)
            | {
                "escalation_id": view.escalation_id,
                "requested_by": requested_by,
                "granted": view.granted,
                "unmet": [u.model_dump() for u in unmet],
                "policy_version": view.policy_version,
            }
        )
        data = EscalationDecided(
            **view.model_dump(exclude={"assignment_id"}),
            assignment_id=row["assignment_id"],
            loan_id=row["loan_id"],
            agency_id=row["agency_id"],
        )
        await publish(session, self.assignments_topic, row, ESCALATION_DECIDED, data)
        return view

    async def escalate_by_agency(self, agency_id: str, assignment_id: str) -> EscalationView:
        async with transaction(self.sessions) as session:
            row, case = await own_active(session, agency_id, assignment_id)
            return await self.escalate(session, row, case, "agency")

    async def escalate_by_lender(
        self, lender_id: str, loan_id: str, approve: bool
    ) -> EscalationView:
        async with transaction(self.sessions) as session:
            cases = CaseRepository(session)
            case = await cases.get(lender_id, loan_id)
            if case is None:
                raise ProblemError(404, "Loan not found", f"No case for loan {loan_id!r} is open.")
            approved_at = datetime.now(UTC) if approve else None
            await cases.change((lender_id, loan_id), escalation_approved_at=approved_at)
            case["escalation_approved_at"] = approved_at
            row = (await AssignmentStore(session).active([(lender_id, loan_id)])).get(
                (lender_id, loan_id)
            )
            if row is None:
                raise ProblemError(
                    409, "Not placed", f"Loan {loan_id!r} is with no agency to escalate."
                )
            return await self.escalate(session, row, case, "lender")

    @staticmethod
    def _row(row: dict[str, Any], agency_id: str, now: datetime) -> dict[str, Any]:
        return {
            "agency_id": agency_id,
            "assignment_id": row["assignment_id"],
            "lender_id": row["lender_id"],
            "loan_id": row["loan_id"],
            "recorded_at": now,
        }

    @staticmethod
    async def _lender_paid(session: AsyncSession, row: dict[str, Any]) -> list[Paid]:
        found = await CommitmentBook(session).lender_payments(row["lender_id"], row["loan_id"])
        return [Paid(p["payment_id"], p["amount"], p["currency"], p["paid_at"]) for p in found]

    @staticmethod
    def _promise_view(stored: dict[str, Any], paid: list[Paid]) -> PromiseView:
        status = promise_status(
            stored["amount"],
            stored["currency"],
            stored["recorded_at"],
            stored["due_date"],
            paid,
            datetime.now(UTC).date(),
        )
        return PromiseView(
            promise_id=stored["promise_id"],
            amount=Money.in_minor_units(stored["amount"], stored["currency"]),
            due_date=stored["due_date"],
            recorded_at=stored["recorded_at"],
            status=status.value,
        )

    async def _payment_views(
        self, session: AsyncSession, row: dict[str, Any]
    ) -> list[AgencyPaymentView]:
        reported = await CommitmentBook(session).payments(row["assignment_id"])
        matches = reconcile(
            [Paid(p["payment_id"], p["amount"], p["currency"], p["paid_at"]) for p in reported],
            await self._lender_paid(session, row),
        )
        return [
            AgencyPaymentView(
                payment_id=p["payment_id"],
                amount=Money.in_minor_units(p["amount"], p["currency"]),
                paid_at=p["paid_at"],
                recorded_at=p["recorded_at"],
                reconciled_with=matches[p["payment_id"]],
            )
            for p in reported
        ]
