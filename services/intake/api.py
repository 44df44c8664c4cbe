"""Intake's HTTP entry points."""

from typing import Annotated

from fastapi import APIRouter, Depends, Response, status

from services.intake.reporting import ReportIntake
from services.intake.schemas import AcceptedReport, OverdueLoanReport
from shared.auth import Principal, Role
from shared.db.engine import SessionFactory, transaction
from shared.runtime import ServiceRuntime


def reports_router(runtime: ServiceRuntime, intake: ReportIntake) -> APIRouter:
    router = APIRouter(prefix="/v1", tags=["overdue reports"])
    require_lender = runtime.auth.require(Role.LENDER)
    sessions: SessionFactory = runtime.sessions

    @router.post(
        "/overdue-loans",
        status_code=status.HTTP_202_ACCEPTED,
        summary="Report an overdue loan (or an update of one)",
        responses={200: {"model": AcceptedReport, "description": "A repeat of an earlier report"}},
    )
    async def report_overdue_loan(
        report: OverdueLoanReport,
        lender: Annotated[Principal, Depends(require_lender)],
        response: Response,
    ) -> AcceptedReport:
        async with transaction(sessions) as session:
            (result,) = await intake.accept(session, lender.subject, [report])
        runtime.relay.wake()
        if result.duplicate:
            response.status_code = status.HTTP_200_OK
        return AcceptedReport(
            event_id=result.event_id,
            loan_id=result.loan_id,
            status="duplicate" if result.duplicate else "accepted",
        )

    return router
