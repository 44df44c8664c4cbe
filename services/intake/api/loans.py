"""A loan's state and history, and the changes a lender reports after the overdue report."""

from collections.abc import Callable
from typing import Literal

from fastapi import APIRouter, Request, status
from fastapi.responses import JSONResponse

from services.intake.api.dependencies import Commands, Lender, UnitOfWorkFactory
from services.intake.api.idempotency import IdempotencyKey, reply, submit
from services.intake.api.schemas import (
    ClosureRequest,
    EventAccepted,
    HoldPlacedResponse,
    HoldRequest,
    LoanView,
    PaymentAccepted,
    PaymentReport,
    RecallRequest,
)
from services.intake.application.command_bus import Reply
from services.intake.application.handlers import (
    Accepted,
    HoldRecorded,
    PaymentRecorded,
    loan_record,
)
from services.intake.domain.commands import LiftHold
from shared.http.params import HoldId, LoanId

DUPLICATE = {"description": "A resubmission: the event on record"}
NOT_FOUND = {"description": "No such loan for this lender"}
CONFLICT = {"description": "The loan's state does not allow it (e.g. closed)"}

router = APIRouter(prefix="/v1/loans", tags=["loans"])


@router.get("/{loan_id}", summary="A loan's current state and its event history")
async def get_loan(loan_id: LoanId, lender: Lender, unit_of_work: UnitOfWorkFactory) -> LoanView:
    async with unit_of_work() as uow:
        return LoanView.of(await loan_record(uow, lender.tenant, loan_id))


@router.post(
    "/{loan_id}/payments",
    status_code=status.HTTP_202_ACCEPTED,
    response_model=PaymentAccepted,
    summary="Report a payment; paying what is outstanding cures the loan",
    responses={200: DUPLICATE, 404: NOT_FOUND, 409: CONFLICT},
)
async def report_payment(
    loan_id: LoanId,
    payment: PaymentReport,
    request: Request,
    lender: Lender,
    key: IdempotencyKey,
    bus: Commands,
) -> JSONResponse:
    def present(recorded: PaymentRecorded) -> Reply:
        accepted, loan = recorded.accepted, recorded.loan
        body = PaymentAccepted(
            event_id=accepted.event_id,
            loan_id=loan_id,
            payment_id=payment.payment_id,
            status=_status(accepted),
            loan_status=loan.status.value,
            outstanding=loan.money(loan.outstanding),
        )
        return reply(200 if accepted.duplicate else 202, body)

    return await submit(bus, request, lender, key, payment, payment.command(loan_id), present)


@router.post(
    "/{loan_id}/holds",
    status_code=status.HTTP_201_CREATED,
    response_model=HoldPlacedResponse,
    summary="Pause collection (dispute, hardship, complaint, legal review, illegal debt)",
    responses={200: DUPLICATE, 404: NOT_FOUND, 409: CONFLICT},
)
async def place_hold(
    loan_id: LoanId,
    hold: HoldRequest,
    request: Request,
    lender: Lender,
    key: IdempotencyKey,
    bus: Commands,
) -> JSONResponse:
    def present(recorded: HoldRecorded) -> Reply:
        accepted = recorded.accepted
        body = HoldPlacedResponse(
            event_id=accepted.event_id,
            loan_id=loan_id,
            hold_id=recorded.hold_id,
            status=_status(accepted),
        )
        return reply(200 if accepted.duplicate else 201, body)

    return await submit(bus, request, lender, key, hold, hold.command(loan_id), present)


@router.delete(
    "/{loan_id}/holds/{hold_id}",
    response_model=EventAccepted,
    summary="Lift a hold; collection resumes when no other hold is active",
    responses={404: NOT_FOUND},
)
async def lift_hold(
    loan_id: LoanId, hold_id: HoldId, request: Request, lender: Lender, bus: Commands
) -> JSONResponse:
    command = LiftHold(loan_id, hold_id)
    return await submit(bus, request, lender, None, None, command, _event_reply(200, 200))


@router.post(
    "/{loan_id}/recall",
    status_code=status.HTTP_202_ACCEPTED,
    response_model=EventAccepted,
    summary="Take the loan back from the agency that holds it",
    responses={404: NOT_FOUND, 409: CONFLICT},
)
async def recall_loan(
    loan_id: LoanId,
    recall: RecallRequest,
    request: Request,
    lender: Lender,
    key: IdempotencyKey,
    bus: Commands,
) -> JSONResponse:
    command = recall.command(loan_id)
    return await submit(bus, request, lender, key, recall, command, _event_reply(202, 202))


@router.post(
    "/{loan_id}/close",
    status_code=status.HTTP_202_ACCEPTED,
    response_model=EventAccepted,
    summary="Write off, settle or close the loan: all collection stops for good",
    responses={200: DUPLICATE, 404: NOT_FOUND, 409: CONFLICT},
)
async def close_loan(
    loan_id: LoanId,
    closure: ClosureRequest,
    request: Request,
    lender: Lender,
    key: IdempotencyKey,
    bus: Commands,
) -> JSONResponse:
    command = closure.command(loan_id)
    return await submit(bus, request, lender, key, closure, command, _event_reply(202, 200))


def _status(accepted: Accepted) -> Literal["accepted", "duplicate"]:
    return "duplicate" if accepted.duplicate else "accepted"


def _event_reply(new: int, duplicate: int) -> Callable[[Accepted], Reply]:
    def present(accepted: Accepted) -> Reply:
        body = EventAccepted(
            event_id=accepted.event_id, loan_id=accepted.loan_id, status=_status(accepted)
        )
        return reply(duplicate if accepted.duplicate else new, body)

    return present
