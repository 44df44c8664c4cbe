"""Overdue reports, one at a time or in batches of up to 1,000."""

from typing import Annotated

from fastapi import APIRouter, Depends, Request, status
from fastapi.responses import JSONResponse
from pydantic import ValidationError
from sqlalchemy.ext.asyncio import AsyncSession

from services.intake.api.idempotency import fingerprint, idempotency_key, respond_once
from services.intake.api.single_reports import SingleReport, SingleReports
from services.intake.reporting import Acceptance, ReportIntake
from services.intake.schemas import (
    AcceptedReport,
    BatchOfReports,
    BatchResult,
    ItemResult,
    OverdueLoanReport,
)
from shared.auth import Principal, Role
from shared.http.problems import field_errors
from shared.runtime import ServiceRuntime


def reports_router(runtime: ServiceRuntime, intake: ReportIntake) -> APIRouter:
    router = APIRouter(prefix="/v1", tags=["overdue reports"])
    require_lender = runtime.auth.require(Role.LENDER)
    single_reports = SingleReports(runtime.sessions, intake, on_commit=lambda: runtime.relay.wake())

    @router.post(
        "/overdue-loans",
        status_code=status.HTTP_202_ACCEPTED,
        response_model=AcceptedReport,
        summary="Report an overdue loan (or an update of one)",
        responses={
            200: {"model": AcceptedReport, "description": "The same report was made before"},
            409: {"description": "The loan is closed"},
        },
    )
    async def report_overdue_loan(
        report: OverdueLoanReport,
        request: Request,
        lender: Annotated[Principal, Depends(require_lender)],
        key: Annotated[str | None, Depends(idempotency_key)],
    ) -> JSONResponse:
        request_fingerprint = fingerprint(request, report) if key is not None else b""
        return await single_reports.accept(
            SingleReport(lender.subject, report, key, request_fingerprint)
        )

    @router.post(
        "/overdue-loans/batch",
        response_model=BatchResult,
        summary="Report up to 1,000 overdue loans; each item stands or falls on its own",
    )
    async def report_batch(
        batch: BatchOfReports,
        request: Request,
        lender: Annotated[Principal, Depends(require_lender)],
        key: Annotated[str | None, Depends(idempotency_key)],
    ) -> JSONResponse:
        results: dict[int, ItemResult] = {}
        valid: list[tuple[int, OverdueLoanReport]] = []
        for index, item in enumerate(batch.items):
            try:
                valid.append((index, OverdueLoanReport.model_validate(item)))
            except ValidationError as error:
                loan_id = item.get("loan_id") if isinstance(item, dict) else None
                results[index] = ItemResult(
                    index=index,
                    status="rejected",
                    loan_id=loan_id if isinstance(loan_id, str) else None,
                    errors=field_errors(error.errors()),
                )

        async def operation(session: AsyncSession) -> tuple[int, BatchResult]:
            outcomes = await intake.accept(session, lender.subject, [r for _, r in valid])
            for (index, _), outcome in zip(valid, outcomes, strict=True):
                if isinstance(outcome, Acceptance):
                    results[index] = ItemResult(
                        index=index,
                        status="duplicate" if outcome.duplicate else "accepted",
                        loan_id=outcome.loan_id,
                        event_id=outcome.event_id,
                    )
                else:
                    results[index] = ItemResult(
                        index=index,
                        status="rejected",
                        loan_id=outcome.loan_id,
                        errors=[
                            {"field": "loan_id", "message": outcome.reason, "code": "conflict"}
                        ],
                    )
            ordered = [results[index] for index in sorted(results)]
            return 200, BatchResult(
                accepted=sum(r.status == "accepted" for r in ordered),
                duplicates=sum(r.status == "duplicate" for r in ordered),
                rejected=sum(r.status == "rejected" for r in ordered),
                results=ordered,
            )

        return await respond_once(runtime, request, lender, key, batch, operation)

    return router
