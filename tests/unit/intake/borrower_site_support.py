"""The borrowers' site on a fake desk, for the unit tests: an app and a client per test."""

import httpx
from fastapi import FastAPI

from services.intake.settings import IntakeSettings
from services.intake.wiring import create_borrower_app
from tests.support.fake_borrower_desk import LINK_KEYS, FakeBorrowerDesk

ORIGIN = "http://127.0.0.1:8005"
CLIENT_ADDRESS = "203.0.113.7"


def borrower_app(desk: FakeBorrowerDesk) -> FastAPI:
    settings = IntakeSettings(link_keys=LINK_KEYS, borrower_base_url=ORIGIN)
    return create_borrower_app(settings, desk)


def client_of(app: FastAPI, address: str = CLIENT_ADDRESS) -> httpx.AsyncClient:
    transport = httpx.ASGITransport(app=app, client=(address, 40000))
    return httpx.AsyncClient(transport=transport, base_url=ORIGIN)
