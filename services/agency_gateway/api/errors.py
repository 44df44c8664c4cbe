"""The one place the gateway's refusals become problem+json (RFC 9457): each application
error's status and title, and the fields it names (``body.<field>``)."""

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse

from services.agency_gateway.application.errors import (
    ActivityIdReusedError,
    AgencyNotFoundError,
    AssignmentEndedError,
    AssignmentNotFoundError,
    GatewayError,
    InvalidReportError,
    LoanNotFoundError,
    NoLegalStageError,
    NotPlacedError,
    StageMoveError,
    StageReportForbiddenError,
)
from shared.http.problems import ProblemError, problem_response

ANSWERS: dict[type[GatewayError], tuple[int, str]] = {
    AssignmentNotFoundError: (404, "Assignment not found"),
    AssignmentEndedError: (410, "Assignment ended"),
    LoanNotFoundError: (404, "Loan not found"),
    AgencyNotFoundError: (404, "Agency not found"),
    NotPlacedError: (409, "Not placed"),
    NoLegalStageError: (409, "No legal stage"),
    StageMoveError: (409, "Legal stage move not allowed"),
    StageReportForbiddenError: (403, "Not allowed to report the legal stage"),
}


async def _answer(_request: Request, error: Exception) -> JSONResponse:
    if isinstance(error, InvalidReportError):
        errors = [
            {"field": f"body.{p.field}", "message": p.message, "code": p.code}
            for p in error.problems
        ]
        return problem_response(422, error.title, str(error), errors=errors)
    if isinstance(error, ActivityIdReusedError):
        errors = [{"field": f"body.{error.field}", "message": "already used", "code": "conflict"}]
        return problem_response(409, "Activity id reused", str(error), errors=errors)
    assert isinstance(error, GatewayError)
    status, title = ANSWERS[type(error)]
    return problem_response(status, title, str(error))


def answer_refusals(app: FastAPI) -> None:
    for error in (*ANSWERS, InvalidReportError, ActivityIdReusedError):
        app.add_exception_handler(error, _answer)


def bad_query(name: str, message: str) -> ProblemError:
    """A query parameter no schema can refuse (a cursor this API did not give)."""
    return ProblemError(
        422,
        "Invalid query",
        f"{name} {message}.",
        errors=[{"field": f"query.{name}", "message": message, "code": "invalid"}],
    )
