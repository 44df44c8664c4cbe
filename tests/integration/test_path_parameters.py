"""Path parameters of every service follow the identifier rules of the bodies: an id no
lender could have sent (a NUL, a slash's neighbours, 65 characters) is a 422 naming the
parameter, before any query reaches PostgreSQL (which refuses NUL with a server error)."""

import httpx
import pytest

from shared.http.problems import PROBLEM_JSON
from tests.harness import RunningPlatform

BAD_IDS = ["L%00", "%00", "L-1%0A", "-L-1", "L" * 65, "L%E2%80%AE1", "L%20 1"]
ROUTES = [
    ("notifier", "/v1/loans/{id}/notifications", "lender"),
    ("agency_gateway", "/v1/loans/{id}/placement", "lender"),
    ("compliance", "/v1/loans/{id}/timeline?lender_id=lender-demo", "auditor"),
    ("intake", "/v1/loans/{id}", "lender"),
]


@pytest.mark.parametrize("bad_id", BAD_IDS)
@pytest.mark.parametrize(("service", "route", "role"), ROUTES)
async def test_a_bad_loan_id_is_a_422_naming_it(
    platform: RunningPlatform, service: str, route: str, role: str, bad_id: str
) -> None:
    headers = platform.as_lender() if role == "lender" else platform.as_auditor()
    client: httpx.AsyncClient = platform.clients[service]
    response = await client.get(route.format(id=bad_id), headers=headers)
    assert response.status_code == 422, response.text
    assert response.headers["content-type"] == PROBLEM_JSON
    body = response.json()
    assert body["status"] == 422
    assert [error["field"] for error in body["errors"]] == ["path.loan_id"]


@pytest.mark.parametrize(("service", "route", "role"), ROUTES)
async def test_a_good_unknown_loan_id_is_still_a_404(
    platform: RunningPlatform, service: str, route: str, role: str
) -> None:
    headers = platform.as_lender() if role == "lender" else platform.as_auditor()
    response = await platform.clients[service].get(
        route.format(id="L-unknown.1:a_b"), headers=headers
    )
    assert response.status_code == 404, response.text
    assert response.headers["content-type"] == PROBLEM_JSON
