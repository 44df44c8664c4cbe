"""The emulators' HTTP side: the provider endpoints, and the read/control API for people and
tests: ``GET /v1/messages``, ``POST /v1/replies``, ``POST /v1/faults``. The control API has no
authentication: it listens on 127.0.0.1 only, and is a development tool."""

import time
from dataclasses import asdict
from typing import Any, Literal, Self

from fastapi import FastAPI, HTTPException
from pydantic import BaseModel, Field, model_validator

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
    status: int | None = Field(
        default=None, ge=200, le=599, description="Answer with this status (SMTP: reply code)"
    )
    count: int = Field(default=1, ge=0, description="How many requests get the fault")
    code: str | None = Field(default=None, description="Provider error code (Aliyun, Twilio)")
    delay_seconds: float = Field(default=0.0, ge=0, le=600, description="Answer this late")
    after_accept: bool = Field(
        default=False,
        description="Accept the message first, then answer late: an ambiguous timeout",
    )
    for_seconds: float | None = Field(
        default=None, gt=0, le=3600, description="Every request for this long (count ignored)"
    )

    @model_validator(mode="after")
    def _a_fault_does_something(self) -> Self:
        if self.status is None and not self.delay_seconds:
            raise ValueError("give a status, a delay_seconds, or both")
        if self.after_accept and (self.status is not None or not self.delay_seconds):
            raise ValueError("after_accept needs delay_seconds and no status")
        return self

    def fault(self) -> Fault:
        until = time.monotonic() + self.for_seconds if self.for_seconds else None
        return Fault(
            self.status, self.count, self.code, self.delay_seconds, self.after_accept, until
        )


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
        """The next ``count`` requests to ``provider`` (or all for ``for_seconds``) fail with
        ``status`` (and ``code``), or are answered ``delay_seconds`` late; with
        ``after_accept``, accepted first and answered late (replaces its earlier fault)."""
        faults.set(request.provider, request.fault())
        return request.model_dump()

    @app.get("/v1/faults")
    async def current_faults() -> dict[str, dict[str, Any]]:
        """Each provider's fault: what is left of it and how many requests it was applied to."""
        return faults.report()

    @app.delete("/v1/faults", status_code=204)
    async def clear_faults() -> None:
        """Every provider answers normally again."""
        faults.clear()

    return app
