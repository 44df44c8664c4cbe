"""Promises, payments, disputes and legal escalation: the agency's routes and the lender's."""

from typing import Annotated

from fastapi import APIRouter, Depends, Response

from services.agency_gateway.api.models import (
    ENDED,
    AgencyPaymentRequest,
    AgencyPaymentView,
    AssignmentId,
    Commitments,
    DisputeRequest,
    DisputeView,
    EscalationRequest,
    EscalationView,
    LenderEscalationRequest,
    PromiseRequest,
    PromiseView,
    repeated,
)
from services.agency_gateway.commitments import CommitmentDesk
from shared.auth import Principal, Role, role_required
from shared.http.params import LoanId

AgencyKey = Annotated[Principal, Depends(role_required(Role.AGENCY))]
LenderKey = Annotated[Principal, Depends(role_required(Role.LENDER))]
CREATED, REPEATED = 201, 200


def commitments_router(desk: CommitmentDesk) -> APIRouter:
    router = APIRouter(prefix="/v1", tags=["commitments"])
    base = "/assignments/{assignment_id}"

    @router.get(
        f"{base}/commitments",
        summary="The assignment's promises, payments, disputes",
        responses=ENDED,
    )
    async def list_commitments(assignment_id: AssignmentId, agency: AgencyKey) -> Commitments:
        return await desk.commitments(agency.subject, assignment_id)

    @router.post(
        f"{base}/promises",
        status_code=CREATED,
        summary="Record a promise to pay (idempotent)",
        responses=ENDED | repeated(PromiseView, "promise"),
    )
    async def record_promise(
        assignment_id: AssignmentId, body: PromiseRequest, agency: AgencyKey, response: Response
    ) -> PromiseView:
        view, new = await desk.promise(agency.subject, assignment_id, body)
        response.status_code = CREATED if new else REPEATED
        return view

    @router.post(
        f"{base}/payments",
        status_code=CREATED,
        summary="Report a payment collected (idempotent)",
        responses=ENDED | repeated(AgencyPaymentView, "payment"),
    )
    async def record_agency_payment(
        assignment_id: AssignmentId,
        body: AgencyPaymentRequest,
        agency: AgencyKey,
        response: Response,
    ) -> AgencyPaymentView:
        view, new = await desk.payment(agency.subject, assignment_id, body)
        response.status_code = CREATED if new else REPEATED
        return view

    @router.post(
        f"{base}/disputes",
        status_code=CREATED,
        summary="Report the borrower's dispute: the loan goes on hold (idempotent)",
        responses=ENDED | repeated(DisputeView, "dispute"),
    )
    async def raise_dispute(
        assignment_id: AssignmentId, body: DisputeRequest, agency: AgencyKey, response: Response
    ) -> DisputeView:
        view, new = await desk.dispute(agency.subject, assignment_id, body)
        response.status_code = CREATED if new else REPEATED
        return view

    @router.post(
        f"{base}/escalations",
        summary="Request legal escalation: granted, or refused naming each unmet prerequisite",
        responses=ENDED,
    )
    async def request_escalation(
        assignment_id: AssignmentId, _body: EscalationRequest, agency: AgencyKey
    ) -> EscalationView:
        return await desk.escalate_by_agency(agency.subject, assignment_id)

    @router.post(
        "/loans/{loan_id}/escalations",
        summary="The lender approves (or withdraws approval of) legal escalation and requests it",
        responses={409: {"description": "The loan is with no agency: nothing to escalate"}},
    )
    async def decide_escalation(
        loan_id: LoanId, body: LenderEscalationRequest, lender: LenderKey
    ) -> EscalationView:
        return await desk.escalate_by_lender(lender.subject, loan_id, body.approve)

    return router
