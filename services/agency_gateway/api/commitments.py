"""Promises, payments, disputes and legal escalation: the agency's routes and the lender's."""

from fastapi import APIRouter, Response

from services.agency_gateway.api.dependencies import AgencyKey, Commitments, LenderKey
from services.agency_gateway.api.models import (
    ENDED,
    AgencyPaymentRequest,
    AgencyPaymentView,
    AssignmentId,
    DisputeRequest,
    DisputeView,
    EscalationRequest,
    EscalationView,
    LenderEscalationRequest,
    PromiseRequest,
    PromiseView,
    repeated,
)
from services.agency_gateway.api.models import Commitments as CommitmentsView
from services.agency_gateway.application.commitments import (
    Dispute,
    EscalationDecision,
    PaymentState,
    Promise,
    PromiseState,
    ReportedPayment,
)
from shared.events.money import Money
from shared.http.params import LoanId

CREATED, REPEATED = 201, 200
BASE = "/assignments/{assignment_id}"

router = APIRouter(prefix="/v1", tags=["commitments"])


@router.get(
    f"{BASE}/commitments",
    summary="The assignment's promises, payments, disputes",
    responses=ENDED,
)
async def list_commitments(
    assignment_id: AssignmentId, agency: AgencyKey, handlers: Commitments
) -> CommitmentsView:
    found = await handlers.commitments(agency.tenant, assignment_id)
    return CommitmentsView(
        promises=[_promise(p) for p in found.promises],
        payments=[_payment(p) for p in found.payments],
        disputes=[DisputeView.model_validate(d) for d in found.disputes],
    )


@router.post(
    f"{BASE}/promises",
    status_code=CREATED,
    summary="Record a promise to pay (idempotent)",
    responses=ENDED | repeated(PromiseView, "promise"),
)
async def record_promise(
    assignment_id: AssignmentId,
    body: PromiseRequest,
    agency: AgencyKey,
    handlers: Commitments,
    response: Response,
) -> PromiseView:
    promise = Promise(body.promise_id, body.amount, body.due_date)
    state, new = await handlers.promise(agency.tenant, assignment_id, promise)
    response.status_code = CREATED if new else REPEATED
    return _promise(state)


@router.post(
    f"{BASE}/payments",
    status_code=CREATED,
    summary="Report a payment collected (idempotent)",
    responses=ENDED | repeated(AgencyPaymentView, "payment"),
)
async def record_agency_payment(
    assignment_id: AssignmentId,
    body: AgencyPaymentRequest,
    agency: AgencyKey,
    handlers: Commitments,
    response: Response,
) -> AgencyPaymentView:
    payment = ReportedPayment(body.payment_id, body.amount, body.paid_at)
    state, new = await handlers.payment(agency.tenant, assignment_id, payment)
    response.status_code = CREATED if new else REPEATED
    return _payment(state)


@router.post(
    f"{BASE}/disputes",
    status_code=CREATED,
    summary="Report the borrower's dispute: the loan goes on hold (idempotent)",
    responses=ENDED | repeated(DisputeView, "dispute"),
)
async def raise_dispute(
    assignment_id: AssignmentId,
    body: DisputeRequest,
    agency: AgencyKey,
    handlers: Commitments,
    response: Response,
) -> DisputeView:
    dispute = Dispute(body.dispute_id, body.reason)
    stored, new = await handlers.dispute(agency.tenant, assignment_id, dispute)
    response.status_code = CREATED if new else REPEATED
    return DisputeView.model_validate(stored)


@router.post(
    f"{BASE}/escalations",
    summary="Request legal escalation: granted, or refused naming each unmet prerequisite",
    responses=ENDED,
)
async def request_escalation(
    assignment_id: AssignmentId,
    _body: EscalationRequest,
    agency: AgencyKey,
    handlers: Commitments,
) -> EscalationView:
    return _escalation(await handlers.escalate_by_agency(agency.tenant, assignment_id))


@router.post(
    "/loans/{loan_id}/escalations",
    summary="The lender approves (or withdraws approval of) legal escalation and requests it",
    responses={409: {"description": "The loan is with no agency: nothing to escalate"}},
)
async def decide_escalation(
    loan_id: LoanId, body: LenderEscalationRequest, lender: LenderKey, handlers: Commitments
) -> EscalationView:
    return _escalation(await handlers.escalate_by_lender(lender.tenant, loan_id, body.approve))


def _promise(state: PromiseState) -> PromiseView:
    stored = state.promise
    return PromiseView(
        promise_id=stored["promise_id"],
        amount=Money.in_minor_units(stored["amount"], stored["currency"]),
        due_date=stored["due_date"],
        recorded_at=stored["recorded_at"],
        status=state.status,
    )


def _payment(state: PaymentState) -> AgencyPaymentView:
    stored = state.payment
    return AgencyPaymentView(
        payment_id=stored["payment_id"],
        amount=Money.in_minor_units(stored["amount"], stored["currency"]),
        paid_at=stored["paid_at"],
        recorded_at=stored["recorded_at"],
        reconciled_with=state.reconciled_with,
    )


def _escalation(decision: EscalationDecision) -> EscalationView:
    return EscalationView(
        escalation_id=decision.escalation_id,
        assignment_id=decision.assignment_id,
        requested_by=decision.requested_by,
        granted=decision.granted,
        unmet=decision.unmet,
        policy_version=decision.policy_version,
        decided_at=decision.decided_at,
    )
