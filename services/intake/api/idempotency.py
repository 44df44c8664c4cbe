"""Safe retries: the ``Idempotency-Key`` header on every POST.

The same key with the same request replays the first response (``Idempotent-Replayed: true``);
the same key with another request is a 409. The stored response commits in the transaction
that made it, so a replay never points at work that was rolled back.
"""

import hashlib
import re
from collections.abc import Awaitable, Callable
from typing import Annotated, Any

from fastapi import Header, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel
from sqlalchemy.ext.asyncio import AsyncSession

from services.intake.adapters.idempotency import IdempotencyStore, StoredResponse
from shared.auth import Principal
from shared.db.engine import SessionFactory, transaction
from shared.http.problems import ProblemError
from shared.runtime import ServiceRuntime

KEY_PATTERN = re.compile(r"^[\x21-\x7e]{1,255}$")
Operation = Callable[[AsyncSession], Awaitable[tuple[int, BaseModel]]]


async def idempotency_key(  # async: FastAPI would run a plain def in a worker thread
    key: Annotated[
        str | None,
        Header(
            alias="Idempotency-Key",
            description="Any unique string (e.g. a UUID) per logical request; retries reuse it.",
        ),
    ] = None,
) -> str | None:
    if key is not None and not KEY_PATTERN.match(key):
        raise ProblemError(
            422,
            "Invalid request",
            "Idempotency-Key: 1 to 255 printable ASCII characters",
            errors=[{"field": "Idempotency-Key", "message": "1 to 255 printable ASCII characters"}],
        )
    return key


def fingerprint(request: Request, body: BaseModel | None) -> bytes:
    payload = body.model_dump_json().encode() if body is not None else b""
    return hashlib.sha256(
        request.method.encode() + b" " + request.url.path.encode() + b"\n" + payload
    ).digest()


class _KeyTakenError(Exception):
    pass


async def run_idempotently(
    sessions: SessionFactory,
    lender_id: str,
    key: str | None,
    request_fingerprint: bytes,
    operation: Operation,
) -> JSONResponse:
    """Run ``operation`` in one transaction, or replay what an earlier run with ``key`` sent."""
    if key is None:
        async with transaction(sessions) as session:
            status, body = await operation(session)
        return JSONResponse(body.model_dump(mode="json"), status_code=status)
    try:
        async with transaction(sessions) as session:
            store = IdempotencyStore(session)
            stored = await store.find(lender_id, key)
            if stored is None:
                status, body = await operation(session)
                stored = StoredResponse(request_fingerprint, status, body.model_dump(mode="json"))
                if not await store.save(lender_id, key, stored):
                    raise _KeyTakenError
                return JSONResponse(stored.body, status_code=stored.status_code)
    except _KeyTakenError:
        async with transaction(sessions) as session:
            stored = await IdempotencyStore(session).find(lender_id, key)
        assert stored is not None
    return replay(stored, request_fingerprint)


async def respond_once(
    runtime: ServiceRuntime,
    request: Request,
    lender: Principal,
    key: str | None,
    body: BaseModel,
    operation: Operation,
) -> JSONResponse:
    """Run a write idempotently, then tell the outbox relay there is something to publish."""
    response = await run_idempotently(
        runtime.sessions, lender.subject, key, fingerprint(request, body), operation
    )
    runtime.relay.wake()
    return response


def replay(stored: StoredResponse, request_fingerprint: bytes) -> JSONResponse:
    """The stored response again, or a 409 if the key came with another request."""
    if stored.fingerprint != request_fingerprint:
        raise ProblemError(
            409,
            "Idempotency-Key reused",
            "This key was used for a different request; use a new key for a new request.",
        )
    body: Any = stored.body
    return JSONResponse(
        body, status_code=stored.status_code, headers={"Idempotent-Replayed": "true"}
    )
