"""The notifier's refusals answered as problem+json, in one place."""

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse

from services.notifier.application.errors import (
    CallbackRejected,
    LoanNotFoundError,
    UnknownProviderError,
)
from shared.http.problems import problem_response


async def _loan_not_found(_request: Request, error: Exception) -> JSONResponse:
    return problem_response(404, "Loan not found", str(error))


async def _unknown_provider(_request: Request, error: Exception) -> JSONResponse:
    return problem_response(404, "Unknown provider", str(error))


async def _callback_rejected(_request: Request, error: Exception) -> JSONResponse:
    assert isinstance(error, CallbackRejected)
    return problem_response(error.status, "Callback rejected", error.reason)


def answer_refusals(app: FastAPI) -> None:
    app.add_exception_handler(LoanNotFoundError, _loan_not_found)
    app.add_exception_handler(UnknownProviderError, _unknown_provider)
    app.add_exception_handler(CallbackRejected, _callback_rejected)
