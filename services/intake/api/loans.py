"""A loan's state and history, and the changes a lender reports after the overdue report."""

from typing import Annotated

from fastapi import APIRouter, Depends, Path, Request, status
from fastapi.responses import JSONResponse
from sqlalchemy.ext.asyncio import AsyncSession

from services.intake.adapters.loans import LoanRepository
from services.intake.api.idempotency import idempotency_key, respond_once
from services.intake.domain import LoanNotFoundError
from services.intake.lifecycle import LoanLifecycle
from services.intake.schemas import (
    IDENTIFIER_PATTERN,
    ClosureRequest,
    EventAccepted,
    HistoryEntry,
    HoldPlacedResponse,
    HoldRequest,
    HoldView,
    LoanView,
    PaymentAccepted,
    PaymentReport,
    RecallRequest,
)
from shared.auth import Principal, Role
from shared.db.engine import transaction
from shared.events.money import Money
from shared.runtime import ServiceRuntime

LoanId = Annotated[str, Path(pattern=IDENTIFIER_PATTERN, description="The lender's loan id")]
HoldId = Annotated[str, Path(pattern=IDENTIFIER_PATTERN)]
DUPLICATE = {"description": "A resubmission: the event on record"}
NOT_FOUND = {"description": "No such loan for this lender"}
CONFLICT = {"description": "The loan's state does not allow it (e.g. closed)"}


def loans_router(runtime: ServiceRuntime, lifecycle: LoanLifecycle) -> APIRouter:
    router = APIRouter(prefix="/v1/loans", tags=["loans"])
    require_lender = runtime.auth.require(Role.LENDER)
    Lender = Annotated[Principal, Depends(require_lender)]  # noqa: N806
    Key = Annotated[str | None, Depends(idempotency_key)]  # noqa: N806

    @router.get("/{loan_id}", summary="A loan's current state and its event history")
    async def get_loan(loan_id: LoanId, lender: Lender) -> LoanView:
        async with transaction(runtime.sessions) as session:
            repository = LoanRepository(session)
            loan = await repository.loan(lender.subject, loan_id)
            if loan is None:
                raise LoanNotFoundError(f"no loan {loan_id!r}")
            hold_rows = await repository.holds_of(lender.subject, loan_id)
            history = await repository.history(lender.subject, loan_id)
        currency = loan["currency"]
        outstanding = max(loan["amount_overdue"] - loan["paid_since_report"], 0)
        return LoanView(
            loan_id=loan_id,
            status=loan["status"],
            on_hold=any(h["lifted_at"] is None for h in hold_rows),
            jurisdiction=loan["jurisdiction"],
            product=loan["product"],
            borrower_ref=loan["borrower_ref"],
            amount_overdue=Money.in_minor_units(loan["amount_overdue"], currency),
            outstanding=Money.in_minor_units(outstanding, currency),
            due_date=loan["due_date"],
            days_past_due=loan["days_past_due"],
            as_of=loan["as_of"],
            closure_reason=loan["closure_reason"],
            holds=[HoldView.model_validate(h) for h in hold_rows],
            history=[
                HistoryEntry(
                    event_id=h["event_id"],
                    type=h["event_type"],
                    occurred_at=h["occurred_at"],
                    recorded_at=h["recorded_at"],
                    details=h["details"],
                )
                for h in history
            ],
        )

    @router.post(
        "/{loan_id}/payments",
        status_code=status.HTTP_202_ACCEPTED,
        response_model=PaymentAccepted,
        summary="Report a payment; paying what is outstanding cures the loan",
        responses={200: DUPLICATE, 404: NOT_FOUND, 409: CONFLICT},
    )
    async def report_payment(
        loan_id: LoanId, payment: PaymentReport, request: Request, lender: Lender, key: Key
    ) -> JSONResponse:
        async def operation(session: AsyncSession) -> tuple[int, PaymentAccepted]:
            recorded, state = await lifecycle.record_payment(
                session, lender.subject, loan_id, payment
            )
            body = PaymentAccepted(
                event_id=recorded.event_id,
                loan_id=loan_id,
                payment_id=payment.payment_id,
                status="duplicate" if recorded.duplicate else "accepted",
                loan_status=state.status.value,
                outstanding=Money.in_minor_units(state.outstanding, state.currency),
            )
            return (200 if recorded.duplicate else 202), body

        return await respond_once(runtime, request, lender, key, payment, operation)

    @router.post(
        "/{loan_id}/holds",
        status_code=status.HTTP_201_CREATED,
        response_model=HoldPlacedResponse,
        summary="Pause collection (dispute, hardship, complaint, legal review, illegal debt)",
        responses={200: DUPLICATE, 404: NOT_FOUND, 409: CONFLICT},
    )
    async def place_hold(
        loan_id: LoanId, hold: HoldRequest, request: Request, lender: Lender, key: Key
    ) -> JSONResponse:
        async def operation(session: AsyncSession) -> tuple[int, HoldPlacedResponse]:
            recorded, hold_id = await lifecycle.place_hold(session, lender.subject, loan_id, hold)
            body = HoldPlacedResponse(
                event_id=recorded.event_id,
                loan_id=loan_id,
                hold_id=hold_id,
                status="duplicate" if recorded.duplicate else "accepted",
            )
            return (200 if recorded.duplicate else 201), body

        return await respond_once(runtime, request, lender, key, hold, operation)

    @router.delete(
        "/{loan_id}/holds/{hold_id}",
        summary="Lift a hold; collection resumes when no other hold is active",
        responses={404: NOT_FOUND},
    )
    async def lift_hold(loan_id: LoanId, hold_id: HoldId, lender: Lender) -> EventAccepted:
        async with transaction(runtime.sessions) as session:
            recorded = await lifecycle.lift_hold(session, lender.subject, loan_id, hold_id)
        runtime.relay.wake()
        return EventAccepted(
            event_id=recorded.event_id,
            loan_id=loan_id,
            status="duplicate" if recorded.duplicate else "accepted",
        )

    @router.post(
        "/{loan_id}/recall",
        status_code=status.HTTP_202_ACCEPTED,
        response_model=EventAccepted,
        summary="Take the loan back from the agency that holds it",
        responses={404: NOT_FOUND, 409: CONFLICT},
    )
    async def recall(
        loan_id: LoanId, recall: RecallRequest, request: Request, lender: Lender, key: Key
    ) -> JSONResponse:
        async def operation(session: AsyncSession) -> tuple[int, EventAccepted]:
            recorded = await lifecycle.recall(session, lender.subject, loan_id, recall)
            return 202, EventAccepted(event_id=recorded.event_id, loan_id=loan_id)

        return await respond_once(runtime, request, lender, key, recall, operation)

    @router.post(
        "/{loan_id}/close",
        status_code=status.HTTP_202_ACCEPTED,
        response_model=EventAccepted,
        summary="Write off, settle or close the loan: all collection stops for good",
        responses={200: DUPLICATE, 404: NOT_FOUND, 409: CONFLICT},
    )
    async def close(
        loan_id: LoanId, closure: ClosureRequest, request: Request, lender: Lender, key: Key
    ) -> JSONResponse:
        async def operation(session: AsyncSession) -> tuple[int, EventAccepted]:
            recorded = await lifecycle.close(session, lender.subject, loan_id, closure)
            body = EventAccepted(
                event_id=recorded.event_id,
                loan_id=loan_id,
                status="duplicate" if recorded.duplicate else "accepted",
            )
            return (200 if recorded.duplicate else 202), body

        return await respond_once(runtime, request, lender, key, closure, operation)

    return router
