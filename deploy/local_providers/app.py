"""The emulators' HTTP side: the provider endpoints, and the read/control API for people and
tests: ``GET /v1/messages``, ``POST /v1/replies``, ``POST /v1/faults``. The control API has no
authentication: it listens on 127.0.0.1 only, and is a development tool."""

from dataclasses import asdict
from typing import Any, Literal

from fastapi import FastAPI, HTTPException
from pydantic import BaseModel, Field

from . import aliyun_api, twilio_api
from .callbacks import CallbackPoster
from .config import EmulatorConfig
from .journal import Fault, Faults, Journal

Provider = Literal["twilio", "aliyun"]


class Reply(BaseModel):
    provider: Provider
    from_: str = Field(alias="from", pattern=r"^\+[1-9]\d{7,14}$")
    body: str = Field(min_length=1, max_length=1600)


class FaultRequest(BaseModel):
    provider: Literal["twilio", "aliyun", "smtp"]
    status: int = Field(ge=200, le=599)
    count: int = Field(default=1, ge=0)
    code: str | None = Field(default=None, description="Provider error code (Aliyun, Twilio)")


def create_app(
    config: EmulatorConfig, journal: Journal, faults: Faults, callbacks: CallbackPoster
) -> FastAPI:
    app = FastAPI(title="Local providers", description=__doc__)
    app.include_router(twilio_api.twilio_router(config, journal, faults, callbacks))
    app.include_router(aliyun_api.aliyun_router(config, journal, faults, callbacks))

    @app.get("/healthz")
    @app.get("/readyz")
    async def healthz() -> dict[str, str]:
        return {"status": "ok"}

    @app.get("/v1/messages")
    async def messages(to: str | None = None) -> list[dict[str, Any]]:
        """What borrowers got, oldest first (``?to=`` an E.164 number or e-mail address)."""
        return [asdict(message) for message in journal.messages(to)]

    @app.post("/v1/replies")
    async def reply(reply: Reply) -> dict[str, Any]:
        """A borrower replies: the provider posts the inbound message to the notifier."""
        if reply.provider == "twilio":
            url = config.twilio_inbound_url
            status = await callbacks.post(
                url, **twilio_api.inbound_message(config, reply.from_, reply.body)
            )
        else:
            url = config.aliyun_push_url
            items = aliyun_api.inbound_message(reply.from_, reply.body, config.aliyun_sign_names[0])
            status = await callbacks.post(url, json_body=items)
        if not 200 <= status < 300:
            raise HTTPException(502, f"the receiver at {url} answered {status or 'nothing'}")
        return {"provider": reply.provider, "delivered_to": url, "status": status}

    @app.post("/v1/faults")
    async def fault(request: FaultRequest) -> dict[str, Any]:
        """The next ``count`` requests to ``provider`` fail with ``status`` (and ``code``)."""
        faults.set(request.provider, Fault(request.status, request.count, request.code))
        return request.model_dump()

    return app
