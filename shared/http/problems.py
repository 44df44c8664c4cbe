"""RFC 9457 problem details for every error a client can cause; nothing leaks as a 500."""

import traceback
from collections.abc import Mapping, Sequence
from typing import Any

import structlog
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from fastapi.routing import iter_route_contexts
from pydantic import BaseModel, Field
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.routing import compile_path

from shared.kafka.faults import is_transient

PROBLEM_JSON = "application/problem+json"
HTTP_TITLES = {
    400: "Bad request",
    404: "Not found",
    405: "Method not allowed",
    413: "Request body too large",
    415: "Unsupported media type",
    503: "Service unavailable",
}
RETRY_AFTER_SECONDS = 5
"""What a 503 asks the client to wait before it retries (the database away, a deadlock)."""
log = structlog.get_logger(__name__)


class FieldError(BaseModel):
    """One thing wrong with a request: where, what, and a machine-readable code."""

    field: str = Field(description="Dotted location, e.g. 'borrower.phone' or 'path.loan_id'")
    message: str
    code: str | None = Field(default=None, description="e.g. 'missing', 'string_too_long'")


class Problem(BaseModel):
    """An RFC 9457 problem details body (``application/problem+json``)."""

    type: str = Field(default="about:blank")
    title: str
    status: int = Field(ge=400, le=599)
    detail: str | None = Field(default=None, description="What went wrong, for a person")
    errors: list[FieldError] | None = Field(
        default=None, description="Each bad field, when the request was refused for its fields"
    )


class ProblemError(Exception):
    """Raise from anywhere in a request to answer with a problem+json body."""

    def __init__(
        self,
        status: int,
        title: str,
        detail: str = "",
        *,
        errors: Sequence[dict[str, Any]] = (),
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(detail or title)
        self.status = status
        self.title = title
        self.detail = detail
        self.errors = list(errors)
        self.headers = headers


def problem_response(
    status: int,
    title: str,
    detail: str = "",
    errors: Sequence[dict[str, Any]] = (),
    headers: Mapping[str, str] | None = None,
) -> JSONResponse:
    body: dict[str, Any] = {"type": "about:blank", "title": title, "status": status}
    if detail:
        body["detail"] = detail
    if errors:
        body["errors"] = list(errors)
    return JSONResponse(body, status_code=status, media_type=PROBLEM_JSON, headers=headers)


def field_errors(errors: Sequence[Any]) -> list[dict[str, Any]]:
    """Pydantic errors as ``{"field": "borrower.phone", "message": ...}``, input never echoed."""
    result = []
    for error in errors:
        if error.get("type") == "json_invalid":
            # FastAPI locates a JSON syntax error at ("body", <character offset>): no field.
            *_, offset = error.get("loc", ("body",))
            reason = (error.get("ctx") or {}).get("error", "invalid JSON")
            result.append(
                {
                    "field": "body",
                    "message": f"not valid JSON: {reason} (character {offset})",
                    "code": "json_invalid",
                }
            )
            continue
        location = [str(part) for part in error.get("loc", ()) if part not in ("body",)]
        result.append(
            {
                "field": ".".join(location) or "body",
                "message": str(error.get("msg", "invalid")).removeprefix("Value error, "),
                "code": error.get("type", "invalid"),
            }
        )
    return result


def _declares_json(content_type: str | None) -> bool:
    """Whether FastAPI reads a body with this Content-Type as JSON (not when none is sent)."""
    if not content_type:
        return False
    media_type = content_type.partition(";")[0].strip().lower()
    kind, _, subtype = media_type.partition("/")
    return kind == "application" and (subtype == "json" or subtype.endswith("+json"))


def _unparsable_body(error: StarletteHTTPException) -> dict[str, str] | None:
    """The field error of a JSON body the parser gave up on (FastAPI answers such a body with
    a bare 400 raised from the parser's error): nested too deeply, or a number too long."""
    cause = error.__cause__
    if error.status_code != 400 or not isinstance(cause, RecursionError | ValueError):
        return None
    reason = (
        "nested too deeply"
        if isinstance(cause, RecursionError)
        else "cannot be decoded as JSON (e.g. a number with thousands of digits)"
    )
    return {"field": "body", "message": reason, "code": "json_invalid"}


def allowed_methods(request: Request) -> str:
    """Every method some route of this path takes: Starlette's 405 names only the first route
    matching the path, though one path often has a route per method."""
    methods: set[str] = set()
    for route in iter_route_contexts(request.app.routes):
        if route.path and compile_path(route.path)[0].match(request.url.path):
            methods |= route.methods or set()
    return ", ".join(sorted(methods))


def install_problem_handlers(app: FastAPI) -> None:
    async def on_problem(_request: Request, error: Exception) -> JSONResponse:
        assert isinstance(error, ProblemError)
        return problem_response(
            error.status, error.title, error.detail, error.errors, error.headers
        )

    async def on_validation(request: Request, error: Exception) -> JSONResponse:
        assert isinstance(error, RequestValidationError)
        body_refused = any(e.get("loc", ())[:1] == ("body",) for e in error.errors())
        if body_refused and not _declares_json(request.headers.get("content-type")):
            # FastAPI parses only JSON bodies and hands anything else over as bytes, which
            # would read as "the body is not an object".
            return problem_response(
                415,
                HTTP_TITLES[415],
                "Send the body as JSON with 'Content-Type: application/json'.",
                [
                    {
                        "field": "Content-Type",
                        "message": "must be application/json",
                        "code": "unsupported_media_type",
                    }
                ],
            )
        errors = field_errors(error.errors())
        return problem_response(
            422,
            "Invalid request",
            "; ".join(f"{e['field']}: {e['message']}" for e in errors),
            errors,
        )

    async def on_http(_request: Request, error: Exception) -> JSONResponse:
        assert isinstance(error, StarletteHTTPException)
        title = HTTP_TITLES.get(error.status_code, "Error")
        detail = error.detail if isinstance(error.detail, str) else ""
        unparsable = _unparsable_body(error)
        if unparsable is not None:
            return problem_response(400, title, f"body: {unparsable['message']}", [unparsable])
        headers = error.headers
        if error.status_code == 405:
            headers = {**(headers or {}), "Allow": allowed_methods(_request)}
        return problem_response(error.status_code, title, detail, headers=headers)

    async def on_unexpected(request: Request, error: Exception) -> JSONResponse:
        # The message and the locals of an exception can hold request data (SQL parameters,
        # say); log where it happened, never what it said.
        transient = is_transient(error)
        (log.warning if transient else log.error)(
            "transient error" if transient else "unhandled error",
            path=request.url.path,
            error_type=type(error).__name__,
            where=traceback.format_tb(error.__traceback__)[-3:],
        )
        if transient:
            return problem_response(
                503,
                HTTP_TITLES[503],
                "A service this one depends on is briefly unavailable; retry later (a retry"
                " with the same Idempotency-Key is safe).",
                headers={"Retry-After": str(RETRY_AFTER_SECONDS)},
            )
        return problem_response(500, "Internal error", "The error was logged.")

    app.add_exception_handler(ProblemError, on_problem)
    app.add_exception_handler(RequestValidationError, on_validation)
    app.add_exception_handler(StarletteHTTPException, on_http)
    app.add_exception_handler(Exception, on_unexpected)
