"""``POST /v1/receipts/{provider}``: providers' delivery reports and borrowers' replies.

Authenticated the way each provider signs its callbacks (not with an API key).
"""

from typing import Annotated
from uuid import UUID

from fastapi import APIRouter, Path, Query, Request
from pydantic import BaseModel

from services.notifier.api.dependencies import Receipts

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
    receipts: Receipts,
    notification: Annotated[
        UUID | None,
        Query(description="Set by the notifier in the callback URL it gives the provider."),
    ] = None,
) -> Acknowledged:
    await receipts.take(
        provider,
        url=str(request.url),
        headers=dict(request.headers),
        body=request.body,
        notification_id=notification,
    )
    return Acknowledged()
