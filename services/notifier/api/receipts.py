"""``POST /v1/receipts/{provider}``: providers' delivery reports and borrowers' replies.

Authenticated the way each provider signs its callbacks (not with an API key).
"""

from typing import Annotated
from uuid import UUID

from fastapi import APIRouter, Path, Query, Request
from pydantic import BaseModel

from services.notifier.adapters.providers.callbacks import CallbackParser, CallbackRejected
from services.notifier.receipts import Receipts
from shared.db.engine import transaction
from shared.db.unit_of_work import enqueue
from shared.events.topics import Topic
from shared.http.problems import ProblemError
from shared.runtime import ServiceRuntime

router = APIRouter(prefix="/v1", tags=["receipts"])


class Acknowledged(BaseModel):
    """What both providers take for "received": Alibaba retries anything but HTTP 200 with a
    numeric ``code``; Twilio accepts any 2xx."""

    code: int = 0
    msg: str = "ok"


@router.post(
    "/receipts/{provider}",
    summary="A provider's delivery report or inbound message (signed as that provider signs)",
)
async def provider_callback(
    request: Request,
    provider: Annotated[str, Path(pattern=r"^[a-z][a-z0-9_-]{0,31}$")],
    notification: Annotated[
        UUID | None,
        Query(description="Set by the notifier in the callback URL it gives the provider."),
    ] = None,
) -> Acknowledged:
    parsers: dict[str, CallbackParser] = request.app.state.callback_parsers
    parser = parsers.get(provider)
    if parser is None:
        raise ProblemError(404, "Unknown provider", f"No provider {provider!r} reports here.")
    body = await request.body()
    try:
        items = parser.parse(url=str(request.url), headers=dict(request.headers), body=body)
    except CallbackRejected as error:
        raise ProblemError(error.status, "Callback rejected", error.reason) from error
    runtime: ServiceRuntime = request.app.state.runtime
    receipts: Receipts = request.app.state.receipts
    async with transaction(runtime.sessions) as session:
        events = await receipts.apply(session, provider, items, notification)
        await enqueue(session, runtime.topic(Topic.NOTIFICATIONS), events)
    return Acknowledged()
