"""Notifier's HTTP entry points."""

from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Depends
from pydantic import BaseModel

from services.notifier.adapters.plans import PlanRepository
from shared.auth import Principal, Role
from shared.db.engine import transaction
from shared.http.params import LoanId
from shared.http.problems import ProblemError
from shared.runtime import ServiceRuntime


class Reminder(BaseModel):
    step: int
    channel: str
    scheduled_for: datetime
    status: str


class LoanNotifications(BaseModel):
    loan_id: str
    reminders: list[Reminder]


def notifications_router(runtime: ServiceRuntime) -> APIRouter:
    router = APIRouter(prefix="/v1", tags=["notifications"])
    require_lender = runtime.auth.require(Role.LENDER)

    @router.get("/loans/{loan_id}/notifications", summary="A loan's reminder plan and notices")
    async def loan_notifications(
        loan_id: LoanId, lender: Annotated[Principal, Depends(require_lender)]
    ) -> LoanNotifications:
        async with transaction(runtime.sessions) as session:
            repository = PlanRepository(session)
            if not await repository.loan_exists(lender.subject, loan_id):
                raise ProblemError(404, "Loan not found", f"No loan {loan_id!r} is known here.")
            rows = await repository.reminders_of(lender.subject, loan_id)
        return LoanNotifications(
            loan_id=loan_id, reminders=[Reminder.model_validate(row) for row in rows]
        )

    return router
