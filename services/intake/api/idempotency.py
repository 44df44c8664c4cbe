"""Safe retries: the ``Idempotency-Key`` header on every POST, and replies as responses.

The same key with the same request replays the first response (``Idempotent-Replayed: true``);
the same key with another request is a 409 (the command bus decides, this maps).
"""

import hashlib
import re
from collections.abc import Callable
from typing import Annotated, Any

import orjson
from fastapi import Depends, Header, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel

from services.intake.application.command_bus import CommandBus, Reply, Submission
from services.intake.domain.commands import Command
from shared.auth import Principal
from shared.http.problems import ProblemError

KEY_PATTERN = re.compile(r"^[\x21-\x7e]{1,255}$")


async def _idempotency_key(  # async: FastAPI would run a plain def in a worker thread
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


IdempotencyKey = Annotated[str | None, Depends(_idempotency_key)]


def fingerprint(request: Request, body: BaseModel | None) -> bytes:
    payload = body.model_dump_json().encode() if body is not None else b""
    return hashlib.sha256(
        request.method.encode() + b" " + request.url.path.encode() + b"\n" + payload
    ).digest()


async def submit(
    commands: CommandBus,
    request: Request,
    lender: Principal,
    key: str | None,
    body: BaseModel | None,
    command: Command,
    present: Callable[[Any], Reply],
) -> JSONResponse:
    """Send a command through the bus and answer with its reply (or replay)."""
    submission = Submission(
        lender.tenant,
        command,
        present,
        key=key,
        fingerprint=fingerprint(request, body) if key is not None else b"",
    )
    return as_response(await commands.submit(submission))


class _Json(JSONResponse):
    """JSON written by orjson (a batch's reply has a thousand items): the same JSON."""

    def render(self, content: Any) -> bytes:
        return orjson.dumps(content)


def as_response(reply: Reply) -> JSONResponse:
    headers = {"Idempotent-Replayed": "true"} if reply.replayed else None
    return _Json(reply.body, status_code=reply.status, headers=headers)


def reply(status: int, body: BaseModel) -> Reply:
    return Reply(status, body.model_dump(mode="json"))
