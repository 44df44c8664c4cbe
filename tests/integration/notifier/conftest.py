"""Fixtures of the provider tests: the local provider emulators (real HTTP and SMTP servers on
free ports), a receiver that parses their callbacks with the notifier's parsers, and the
notifier's provider settings pointed at both."""

from collections.abc import AsyncIterator
from dataclasses import dataclass, field

import pytest
from fastapi import FastAPI, Request, Response
from fastapi.responses import JSONResponse

from deploy.local_providers.config import EmulatorConfig
from deploy.local_providers.server import RunningProviders, running_providers, serving
from services.notifier.adapters.providers.callbacks import callback_parsers
from services.notifier.adapters.providers.settings import ProviderSettings
from services.notifier.application.errors import CallbackRejected
from services.notifier.application.ports import Callback, CallbackParser

CALLBACK_TOKEN = "test-callback-token"


@dataclass
class Receiver:
    """What arrived at ``POST /v1/receipts/{provider}``, parsed, and what was refused."""

    url: str
    parsers: dict[str, CallbackParser] = field(default_factory=dict)
    accepted: list[Callback] = field(default_factory=list)
    refused: list[tuple[str, int]] = field(default_factory=list)

    def app(self) -> FastAPI:
        app = FastAPI()

        @app.post("/v1/receipts/{provider}")
        async def receipts(provider: str, request: Request) -> Response:
            try:
                parsed = self.parsers[provider].parse(
                    url=str(request.url), headers=request.headers, body=await request.body()
                )
            except CallbackRejected as rejected:
                self.refused.append((provider, rejected.status))
                return JSONResponse({"detail": rejected.reason}, status_code=rejected.status)
            self.accepted.extend(parsed)
            return JSONResponse({"code": 0, "msg": "接收成功"})

        return app


@pytest.fixture
async def receiver() -> AsyncIterator[Receiver]:
    receiver = Receiver(url="")
    async with serving(receiver.app()) as url:
        receiver.url = url
        yield receiver


@pytest.fixture
async def providers(receiver: Receiver) -> AsyncIterator[RunningProviders]:
    config = EmulatorConfig(
        http_port=0,
        smtp_port=0,
        twilio_inbound_url=f"{receiver.url}/v1/receipts/twilio",
        aliyun_push_url=f"{receiver.url}/v1/receipts/aliyun?token={CALLBACK_TOKEN}",
        callback_delay_seconds=0.0,
        callback_retry_seconds=0.05,
    )
    async with running_providers(config) as running:
        yield running


@pytest.fixture
def settings(providers: RunningProviders, receiver: Receiver) -> ProviderSettings:
    settings = ProviderSettings(
        twilio_base_url=f"{providers.http_url}/twilio",
        twilio_status_callback_url=f"{receiver.url}/v1/receipts/twilio",
        aliyun_endpoint=f"{providers.http_url}/aliyun/",
        aliyun_callback_token=CALLBACK_TOKEN,
        smtp_port=providers.smtp_port,
        smtp_ca_file=str(providers.smtp_certificate),
        retry_initial_seconds=0.01,
        retry_max_seconds=0.05,
    )
    receiver.parsers = callback_parsers(settings)
    return settings
