"""Compliance's refusals as problem+json, in one place: each application error's answer."""

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse

from services.compliance.application.errors import (
    LenderRequiredError,
    LoanNotFoundError,
    OtherLenderError,
    OutOfRangeError,
)
from shared.http.problems import problem_response


async def _other_lender(_request: Request, error: Exception) -> JSONResponse:
    return problem_response(404, "Not found", str(error))


async def _loan_not_found(_request: Request, error: Exception) -> JSONResponse:
    return problem_response(404, "Loan not found", str(error))


async def _invalid(_request: Request, error: Exception) -> JSONResponse:
    assert isinstance(error, LenderRequiredError | OutOfRangeError)
    code = "missing" if isinstance(error, LenderRequiredError) else "out_of_range"
    message = str(error)
    field = {"field": error.field, "message": message, "code": code}
    return problem_response(422, "Invalid request", message, errors=[field])


def answer_errors(app: FastAPI) -> None:
    app.add_exception_handler(OtherLenderError, _other_lender)
    app.add_exception_handler(LoanNotFoundError, _loan_not_found)
    app.add_exception_handler(LenderRequiredError, _invalid)
    app.add_exception_handler(OutOfRangeError, _invalid)
