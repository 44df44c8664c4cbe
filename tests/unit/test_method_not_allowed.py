"""A 405 names in ``Allow`` every method the path takes, not only those of the first route."""

import httpx

from deploy.devstack.platform import SERVICES, PlatformSecrets, build_app, service_options


async def test_a_405_allows_every_method_of_the_path() -> None:
    gateway = next(s for s in SERVICES if s.name == "agency_gateway")
    options = service_options(
        gateway, "postgresql+asyncpg://-/-", "-:0", PlatformSecrets.generate()
    )
    transport = httpx.ASGITransport(app=build_app("agency_gateway", options))
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as http:
        response = await http.request("OPTIONS", "/v1/agencies/agency-north")
        listed = await http.delete("/v1/assignments")
    assert response.status_code == 405
    assert response.headers["content-type"] == "application/problem+json"
    assert response.headers["allow"] == "GET, PUT"
    assert listed.headers["allow"] == "GET"
