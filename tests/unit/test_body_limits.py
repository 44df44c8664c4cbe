"""Every service refuses a body over its limit with 413 problem+json before reading it, and
before authenticating the caller: no route, signed callbacks included, buffers more."""

from collections.abc import AsyncIterator

import httpx
import pytest

from deploy.devstack.platform import SERVICES, PlatformSecrets, Service, build_app, service_options

LIMIT = 64 * 1024
# A route of each service that takes a body, or (compliance has none) any route.
ROUTES = {
    "intake": "/v1/overdue-loans",
    "notifier": "/v1/receipts/aliyun?token=local-aliyun-callback-token",
    "agency_gateway": "/v1/assignments/A-1/activities",
    "compliance": "/v1/audit/entries",
}


def client(service: Service) -> httpx.AsyncClient:
    options = service_options(
        service, "postgresql+asyncpg://-/-", "-:0", PlatformSecrets.generate()
    )
    transport = httpx.ASGITransport(app=build_app(service.name, options))
    return httpx.AsyncClient(transport=transport, base_url="http://test")


def assert_too_large(response: httpx.Response) -> None:
    assert response.status_code == 413, response.text
    assert response.headers["content-type"] == "application/problem+json"
    assert response.json()["status"] == 413


@pytest.mark.parametrize("service", SERVICES, ids=lambda service: service.name)
async def test_a_declared_length_over_the_limit_is_413_unread(service: Service) -> None:
    async with client(service) as http:
        response = await http.post(ROUTES[service.name], content=b"[" + b" " * LIMIT + b"]")
    assert_too_large(response)


TAKING_BODIES = [service for service in SERVICES if service.name != "compliance"]
"""Compliance's routes are all reads: a body it does not read costs it nothing."""


@pytest.mark.parametrize("service", TAKING_BODIES, ids=lambda service: service.name)
async def test_a_streamed_body_is_cut_off_at_the_limit(service: Service) -> None:
    async def chunks() -> AsyncIterator[bytes]:
        for _ in range(3):
            yield b" " * (LIMIT // 2)

    async with client(service) as http:
        response = await http.post(ROUTES[service.name], content=chunks())
    assert_too_large(response)


def test_each_service_reads_its_limit_from_its_settings() -> None:
    for service in SERVICES:
        assert service.settings().max_body_bytes == LIMIT, service.name
