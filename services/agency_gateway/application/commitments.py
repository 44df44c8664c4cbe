"""Promises, payments and disputes an agency reports, and legal escalation.

A promise is kept or broken by the lender's payments, an agency's payment is reconciled with
the lender's record of it (both computed when read, from what is stored); a dispute puts the
case on hold (contact checks refuse, escalation waits) and is published for the lender's
systems; an escalation request is decided at once against the policy's prerequisites, and a
granted one starts the loan's legal stage (``application/legal.py``).
"""

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal
from uuid import uuid4

from services.agency_gateway.application.assignments import own_active
from services.agency_gateway.application.errors import (
    FieldProblem,
    InvalidReportError,
    LoanNotFoundError,
    NotPlacedError,
)
from services.agency_gateway.application.events import loan_event
from services.agency_gateway.application.legal import start_legal_stage
from services.agency_gateway.application.ports import Clock, Row, UnitOfWork, utc_now
from services.agency_gateway.domain.cases import apply_event
from services.agency_gateway.domain.commitments import (
    EscalationFacts,
    reconcile,
    unmet_prerequisites,
)
from services.agency_gateway.domain.policy import PlacementPolicy
from shared.contact_rules.sources import dispute_hold
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
from shared.promises import Paid, promise_status


@dataclass(frozen=True)
class Promise:
    promise_id: str  # the agency's own
    amount: Money
    due_date: date


@dataclass(frozen=True)
class ReportedPayment:
    payment_id: str  # the agency's own
    amount: Money
    paid_at: datetime


@dataclass(frozen=True)
class Dispute:
    dispute_id: str  # the agency's own
    reason: str


@dataclass(frozen=True)
class PromiseState:
    promise: Row
    status: str  # pending, kept or broken


@dataclass(frozen=True)
class PaymentState:
    payment: Row
    reconciled_with: str | None  # the lender's payment id it matches


@dataclass(frozen=True)
class AssignmentCommitments:
    promises: list[PromiseState]
    payments: list[PaymentState]
    disputes: list[Row]


@dataclass(frozen=True)
class EscalationDecision:
    escalation_id: str
    assignment_id: str
    requested_by: str  # agency or lender
    granted: bool
    unmet: list[UnmetPrerequisite]
    policy_version: str
    decided_at: datetime


def _positive(amount: Decimal) -> None:
    if amount <= 0:
        raise InvalidReportError(
            "Invalid amount",
            "The amount must be more than zero.",
            [FieldProblem("amount.amount", "must be > 0")],
        )


@dataclass(frozen=True)
class CommitmentHandlers:
    unit_of_work: Callable[[], UnitOfWork]
    policy: PlacementPolicy
    clock: Clock = field(default=utc_now)

    async def promise(
        self, agency_id: str, assignment_id: str, promise: Promise
    ) -> tuple[PromiseState, bool]:
        """The promise as stored, and whether it is new (a repeated id is a no-op)."""
        _positive(promise.amount.amount)
        async with self.unit_of_work() as uow:
            row, _case = await own_active(uow, agency_id, assignment_id)
            now = self.clock()
            stored, new = await uow.commitments.add_once(
                "promise",
                self._row(row, agency_id, now)
                | {
                    "promise_id": promise.promise_id,
                    "amount": promise.amount.amount,
                    "currency": promise.amount.currency,
                    "due_date": promise.due_date,
                },
            )
            if new:
                data = PromiseRecorded(
                    promise_id=promise.promise_id,
                    assignment_id=assignment_id,
                    loan_id=row["loan_id"],
                    agency_id=agency_id,
                    amount=promise.amount,
                    due_date=promise.due_date,
                    recorded_at=now,
                )
                uow.publish(loan_event(row, PROMISE_RECORDED, data))
            paid = await _lender_paid(uow, row)
            await uow.commit()
        return self._promise_state(stored, paid), new

    async def payment(
        self, agency_id: str, assignment_id: str, payment: ReportedPayment
    ) -> tuple[PaymentState, bool]:
        """The payment as stored with its reconciliation, and whether it is new."""
        _positive(payment.amount.amount)
        async with self.unit_of_work() as uow:
            row, _case = await own_active(uow, agency_id, assignment_id)
            now = self.clock()
            stored, new = await uow.commitments.add_once(
                "payment",
                self._row(row, agency_id, now)
                | {
                    "payment_id": payment.payment_id,
                    "amount": payment.amount.amount,
                    "currency": payment.amount.currency,
                    "paid_at": payment.paid_at,
                },
            )
            if new:
                data = AgencyPaymentReported(
                    payment_id=payment.payment_id,
                    assignment_id=assignment_id,
                    loan_id=row["loan_id"],
                    agency_id=agency_id,
                    amount=payment.amount,
                    paid_at=payment.paid_at,
                    recorded_at=now,
                )
                uow.publish(loan_event(row, AGENCY_PAYMENT_REPORTED, data))
            states = await _payment_states(uow, row)
            await uow.commit()
        return next(s for s in states if s.payment["payment_id"] == stored["payment_id"]), new

    async def dispute(
        self, agency_id: str, assignment_id: str, dispute: Dispute
    ) -> tuple[Row, bool]:
        """The dispute as stored, and whether it is new; a new one holds the case."""
        async with self.unit_of_work() as uow:
            row, case = await own_active(uow, agency_id, assignment_id)
            now = self.clock()
            stored, new = await uow.commitments.add_once(
                "dispute",
                self._row(row, agency_id, now)
                | {"dispute_id": dispute.dispute_id, "reason": dispute.reason},
            )
            if new:
                key = (row["lender_id"], row["loan_id"])
                cases = await uow.cases.for_update([key])
                data = DisputeRaised(
                    dispute_id=dispute.dispute_id,
                    assignment_id=assignment_id,
                    loan_id=row["loan_id"],
                    borrower_ref=case["borrower_ref"],
                    agency_id=agency_id,
                    reason=dispute.reason,
                    raised_at=now,
                )
                # The hold every other party puts from the event (shared.contact_rules.sources),
                # so the lender's HOLD_LIFTED of the same hold id lifts it here too. The agency
                # keeps the account, paused: the hold refuses its contacts, not its placement.
                held = dict(cases[key])
                apply_event(held, dispute_hold(data))
                await uow.cases.change(key, holds=held["holds"], updated_at=now)
                uow.publish(loan_event(row, DISPUTE_RAISED, data))
            await uow.commit()
        return stored, new

    async def commitments(self, agency_id: str, assignment_id: str) -> AssignmentCommitments:
        async with self.unit_of_work() as uow:
            row, _case = await own_active(uow, agency_id, assignment_id)
            paid = await _lender_paid(uow, row)
            promises = await uow.commitments.promises(assignment_id)
            payments = await _payment_states(uow, row)
            disputes = await uow.commitments.disputes(assignment_id)
        return AssignmentCommitments(
            promises=[self._promise_state(p, paid) for p in promises],
            payments=payments,
            disputes=disputes,
        )

    async def escalate_by_agency(self, agency_id: str, assignment_id: str) -> EscalationDecision:
        async with self.unit_of_work() as uow:
            row, case = await own_active(uow, agency_id, assignment_id)
            decision = await self._escalate(uow, row, case, "agency")
            await uow.commit()
        return decision

    async def escalate_by_lender(
        self, lender_id: str, loan_id: str, approve: bool
    ) -> EscalationDecision:
        """The lender's approval (or its withdrawal) is recorded, then escalation of the
        current assignment is decided."""
        async with self.unit_of_work() as uow:
            case = await uow.cases.get(lender_id, loan_id)
            if case is None:
                raise LoanNotFoundError(f"No case for loan {loan_id!r} is open.")
            approved_at = self.clock() if approve else None
            await uow.cases.change((lender_id, loan_id), escalation_approved_at=approved_at)
            case["escalation_approved_at"] = approved_at
            row = (await uow.assignments.active([(lender_id, loan_id)])).get((lender_id, loan_id))
            if row is None:
                raise NotPlacedError(f"Loan {loan_id!r} is with no agency to escalate.")
            decision = await self._escalate(uow, row, case, "lender")
            await uow.commit()
        return decision

    async def _escalate(
        self, uow: UnitOfWork, row: Row, case: Row, requested_by: str
    ) -> EscalationDecision:
        """Decide a request for legal escalation now; the decision is recorded and published."""
        now = self.clock()
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
        decision = EscalationDecision(
            escalation_id=f"E-{uuid4().hex}",
            assignment_id=row["assignment_id"],
            requested_by=requested_by,
            granted=not unmet,
            unmet=unmet,
            policy_version=self.policy.version,
            decided_at=now,
        )
        await uow.commitments.add_escalation(
            self._row(row, row["agency_id"], now)
            | {
                "escalation_id": decision.escalation_id,
                "requested_by": requested_by,
                "granted": decision.granted,
                "unmet": [u.model_dump() for u in unmet],
                "policy_version": decision.policy_version,
            }
        )
        data = EscalationDecided(
            escalation_id=decision.escalation_id,
            requested_by=requested_by,
            granted=decision.granted,
            unmet=unmet,
            policy_version=decision.policy_version,
            decided_at=now,
            assignment_id=row["assignment_id"],
            loan_id=row["loan_id"],
            agency_id=row["agency_id"],
        )
        uow.publish(loan_event(row, ESCALATION_DECIDED, data))
        if decision.granted:
            await start_legal_stage(uow, row, case, decision.escalation_id, requested_by, now)
        return decision

    @staticmethod
    def _row(row: Row, agency_id: str, now: datetime) -> Row:
        return {
            "agency_id": agency_id,
            "assignment_id": row["assignment_id"],
            "lender_id": row["lender_id"],
            "loan_id": row["loan_id"],
            "recorded_at": now,
        }

    def _promise_state(self, stored: Row, paid: list[Paid]) -> PromiseState:
        status = promise_status(
            stored["amount"],
            stored["currency"],
            stored["recorded_at"],
            stored["due_date"],
            paid,
            self.clock().date(),
        )
        return PromiseState(stored, status.value)


async def _lender_paid(uow: UnitOfWork, row: Row) -> list[Paid]:
    found = await uow.commitments.lender_payments(row["lender_id"], row["loan_id"])
    return [Paid(p["payment_id"], p["amount"], p["currency"], p["paid_at"]) for p in found]


async def _payment_states(uow: UnitOfWork, row: Row) -> list[PaymentState]:
    reported = await uow.commitments.payments(row["assignment_id"])
    matches = reconcile(
        [Paid(p["payment_id"], p["amount"], p["currency"], p["paid_at"]) for p in reported],
        await _lender_paid(uow, row),
    )
    return [PaymentState(p, matches[p["payment_id"]]) for p in reported]
