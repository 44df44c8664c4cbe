"""Overdue reports, one at a time or in batches of up to 1,000."""

from collections import Counter
from typing import Any

from fastapi import APIRouter, Request, status
from fastapi.responses import JSONResponse
from pydantic import TypeAdapter, ValidationError

from services.intake.api.dependencies import Commands, Lender
from services.intake.api.idempotency import IdempotencyKey, reply, submit
from services.intake.api.schemas import (
    AcceptedReport,
    BatchOfReports,
    BatchResult,
    ItemResult,
    OverdueLoanReport,
)
from services.intake.application.command_bus import Reply
from services.intake.application.handlers import Accepted, Refused
from services.intake.domain.commands import ReportOverdueLoans
from services.intake.domain.loan import LoanConflictError
from shared.http.problems import field_errors

router = APIRouter(prefix="/v1", tags=["overdue reports"])
_REPORTS = TypeAdapter(list[OverdueLoanReport])


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
    report: OverdueLoanReport, request: Request, lender: Lender, key: IdempotencyKey, bus: Commands
) -> JSONResponse:
    command = ReportOverdueLoans((report.command(),))
    return await submit(bus, request, lender, key, report, command, _single_reply)


@router.post(
    "/overdue-loans/batch",
    response_model=BatchResult,
    summary="Report up to 1,000 overdue loans; each item stands or falls on its own",
)
async def report_batch(
    batch: BatchOfReports, request: Request, lender: Lender, key: IdempotencyKey, bus: Commands
) -> JSONResponse:
    rejected: dict[int, ItemResult] = {}
    valid = _validated(batch.items, rejected)
    command = ReportOverdueLoans(tuple(report.command() for _, report in valid))

    def present(outcomes: list[Accepted | Refused]) -> Reply:
        results = {index: item.model_dump(mode="json") for index, item in rejected.items()}
        for (index, _), outcome in zip(valid, outcomes, strict=True):
            results[index] = _item_result(index, outcome)
        ordered = [results[index] for index in sorted(results)]
        statuses = Counter(result["status"] for result in ordered)
        body = {  # BatchResult, JSON-ready: no model per item (a unit test compares)
            "accepted": statuses["accepted"],
            "duplicates": statuses["duplicate"],
            "rejected": statuses["rejected"],
            "results": ordered,
        }
        return Reply(200, body)

    return await submit(bus, request, lender, key, batch, command, present)


def _validated(
    items: list[Any], rejected: dict[int, ItemResult]
) -> list[tuple[int, OverdueLoanReport]]:
    """The batch's valid reports with their index; the others go to ``rejected``.

    One validation of the whole batch first (most batches are valid throughout); when it
    fails, each item is validated on its own, so that each error names its own item's fields.
    """
    try:
        return list(enumerate(_REPORTS.validate_python(items)))
    except ValidationError:
        pass
    valid: list[tuple[int, OverdueLoanReport]] = []
    for index, item in enumerate(items):
        try:
            valid.append((index, OverdueLoanReport.model_validate(item)))
        except ValidationError as error:
            loan_id = item.get("loan_id") if isinstance(item, dict) else None
            rejected[index] = ItemResult(
                index=index,
                status="rejected",
                loan_id=loan_id if isinstance(loan_id, str) else None,
                errors=field_errors(error.errors()),
            )
    return valid


def _single_reply(outcomes: list[Accepted | Refused]) -> Reply:
    (outcome,) = outcomes
    if isinstance(outcome, Refused):
        raise LoanConflictError(outcome.reason)
    body = AcceptedReport(
        event_id=outcome.event_id,
        loan_id=outcome.loan_id,
        status="duplicate" if outcome.duplicate else "accepted",
    )
    return reply(200 if outcome.duplicate else 202, body)


def _item_result(index: int, outcome: Accepted | Refused) -> dict[str, Any]:
    """``ItemResult(...).model_dump(mode="json")`` of a handled report."""
    if isinstance(outcome, Refused):
        return {
            "index": index,
            "status": "rejected",
            "loan_id": outcome.loan_id,
            "event_id": None,
            "errors": [{"field": "loan_id", "message": outcome.reason, "code": "conflict"}],
        }
    return {
        "index": index,
        "status": "duplicate" if outcome.duplicate else "accepted",
        "loan_id": outcome.loan_id,
        "event_id": str(outcome.event_id),
        "errors": [],
    }
