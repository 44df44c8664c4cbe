"""Intake's refusals answered as problem+json, in one place."""

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse

from services.intake.application.command_bus import IdempotencyKeyReusedError
from services.intake.domain.loan import LoanConflictError, LoanNotFoundError
from shared.http.problems import problem_response


async def _not_found(_request: Request, error: Exception) -> JSONResponse:
    return problem_response(404, "Not found", str(error))


async def _conflict(_request: Request, error: Exception) -> JSONResponse:
    return problem_response(409, "Conflict", str(error))


async def _key_reused(_request: Request, _error: Exception) -> JSONResponse:
    return problem_response(
        409,
        "Idempotency-Key reused",
        "This key was used for a different request; use a new key for a new request.",
    )


def answer_refusals(app: FastAPI) -> None:
    app.add_exception_handler(LoanNotFoundError, _not_found)
    app.add_exception_handler(LoanConflictError, _conflict)
    app.add_exception_handler(IdempotencyKeyReusedError, _key_reused)
