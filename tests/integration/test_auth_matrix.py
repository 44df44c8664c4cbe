"""Every endpoint of every service, by every role, on its own and another tenant's objects.

The routes are read from each app's ``app.routes``, so an endpoint added later is covered
without touching this file, or the test fails and says what it is missing: an endpoint must
admit callers through a role gate (``Authenticator.require`` / ``role_required``) or be in
``EXEMPT`` with the reason; a path parameter must be in ``OBJECTS`` (it names an object of one
tenant) or ``OWN_NAMESPACE``; a request body needs an example in ``BODIES``.

For each endpoint: no credential is 401 with ``WWW-Authenticate: Bearer``; a key of every role
the endpoint does not admit is 403 (a role the service does not serve included: with one
registry every key is known everywhere, so 403 proves the role check, not an unknown key);
each admitted role gets past authentication on its own tenant's objects, and gets 404 for
another tenant's.
"""

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from functools import partial
from typing import Any
from uuid import uuid4

import httpx
import pytest
from fastapi.routing import APIRoute, iter_route_contexts

from services.intake.settings import IntakeSettings
from services.intake.wiring import borrower_desk
from shared.auth import ALL_LENDERS, Role, RoleGate
from shared.events.borrowers import DisputeReason
from tests.harness import RunningPlatform, eventually
from tests.support.factories import new_loan_id, payment, report

# Paths answered to anyone, on purpose.
EXEMPT = {
    "/healthz": "liveness probe",
    "/readyz": "readiness probe",
    "/openapi.json": "the API description",
    "/docs": "the API description",
    "/docs/oauth2-redirect": "Swagger UI's helper page",
    "/redoc": "the API description",
    # Routes authenticated by other means, with how:
    "/v1/receipts/{provider}": "providers' callbacks, each checked against its signature "
    "(Twilio) or secret token (Alibaba Cloud); tests/integration/notifier covers refusals",
    "/console": "compliance's console (HTML, mounted): the same keys, signed in through a form "
    "into a sealed session cookie; tests/integration/compliance/test_console.py covers refusals",
}

# Path parameters that name an object of one tenant: another tenant's is a 404.
OBJECTS = {"loan_id", "hold_id", "assignment_id", "dispute_id"}
# Path parameters naming something the caller writes in its own tenant (a PUT upserts it):
# no other tenant's object can be reached through them.
OWN_NAMESPACE = {
    "borrower_id": "a lender's borrowers are its own; PUT creates or replaces",
    "agency_id": "operators manage the one registry of agencies; PUT creates or replaces",
}


def _batch() -> dict[str, Any]:
    return {"items": [report(new_loan_id())]}


# An example body per request model: a valid body reaches the tenancy check (a 422 would not).
BODIES: dict[str, Callable[[], dict[str, Any]]] = {
    "OverdueLoanReport": lambda: report(new_loan_id()),
    "BatchOfReports": _batch,
    "PaymentReport": lambda: payment(f"P-{uuid4().hex[:8]}", "1.00"),
    "HoldRequest": lambda: {"reason": "dispute"},
    "RecallRequest": lambda: {},
    "ClosureRequest": lambda: {"reason": "settled"},
    "ResolutionRequest": lambda: {"outcome": "rejected"},
    "PreferencesRequest": lambda: {"opted_out_channels": ["sms"]},
    "ActivityReport": lambda: {
        "activity_id": f"ACT-{uuid4().hex[:8]}",
        "type": "note",
        "direction": "outbound",
        "outcome": "delivered",
        "at": datetime.now(UTC).isoformat(),
        "text": "agreed to pay on Friday",
    },
    "ReturnRequest": lambda: {"reason": "auth matrix"},
    "PromiseRequest": lambda: {
        "promise_id": f"PR-{uuid4().hex[:8]}",
        "amount": {"amount": "100.00", "currency": "CNY"},
        "due_date": "2026-12-31",
    },
    "AgencyPaymentRequest": lambda: {
        "payment_id": f"AP-{uuid4().hex[:8]}",
        "amount": {"amount": "100.00", "currency": "CNY"},
        "paid_at": datetime.now(UTC).isoformat(),
    },
    "DisputeRequest": lambda: {"dispute_id": f"D-{uuid4().hex[:8]}", "reason": "not my loan"},
    "EscalationRequest": lambda: {},
    "StageMoveRequest": lambda: {"stage": "demand_sent"},
    "LenderEscalationRequest": lambda: {"approve": True},
    "RedeliveryRequest": lambda: {"delivery_ids": ["wh-none"]},
    "ContactCheckRequest": lambda: {"channel": "sms"},
    "AgencyRequest": lambda: {"name": "Matrix", "jurisdictions": ["US"], "capacity": 0, "share": 0},
}


@dataclass(frozen=True)
class Tenant:
    """One lender's keys (an auditor scoped to that lender) and objects."""

    lender_id: str
    keys: dict[Role, str]
    objects: dict[str, str]  # path parameter -> value


@dataclass(frozen=True)
class Matrix:
    mine: Tenant
    theirs: Tenant


def bearer(api_key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {api_key}", "Idempotency-Key": str(uuid4())}


async def placed_with(
    platform: RunningPlatform, lender_key: str, agency_id: str, operator: dict[str, str]
) -> str:
    """A loan of the lender's placed with ``agency_id`` (the only agency taking new loans
    meanwhile, withdrawn again after): its assignment id."""
    gateway = platform.clients["agency_gateway"]
    terms = {"name": agency_id, "jurisdictions": ["CN"], "capacity": 1000, "share": 1}
    registered = await gateway.put(f"/v1/agencies/{agency_id}", json=terms, headers=operator)
    assert registered.status_code in (200, 201), registered.text
    loan_id = new_loan_id()
    due = (datetime.now(UTC) - timedelta(days=60)).date().isoformat()
    body = report(loan_id, days_past_due=60, due_date=due, as_of=datetime.now(UTC).isoformat())
    reported = await platform.clients["intake"].post(
        "/v1/overdue-loans", json=body, headers=bearer(lender_key)
    )
    assert reported.status_code == 202, reported.text

    async def assignment() -> str | None:
        answer = await gateway.get(f"/v1/loans/{loan_id}/placement", headers=bearer(lender_key))
        current = answer.json().get("current") if answer.status_code == 200 else None
        return str(current["assignment_id"]) if current else None

    found = await eventually(assignment, within=60)
    withdrawn = await gateway.put(
        f"/v1/agencies/{agency_id}", json=terms | {"active": False}, headers=operator
    )
    assert withdrawn.status_code == 200, withdrawn.text
    return found


async def lender_with_a_loan(
    platform: RunningPlatform,
    lender_id: str,
    lender_key: str,
    keys: dict[Role, str],
    assignment_id: str,
) -> Tenant:
    intake = platform.clients["intake"]
    loan_id = new_loan_id()
    reported = await intake.post(
        "/v1/overdue-loans", json=report(loan_id), headers=bearer(lender_key)
    )
    assert reported.status_code == 202, reported.text
    hold = await intake.post(
        f"/v1/loans/{loan_id}/holds", json={"reason": "dispute"}, headers=bearer(lender_key)
    )
    assert hold.status_code == 201, hold.text
    objects = {
        "loan_id": loan_id,
        "hold_id": hold.json()["hold_id"],
        "assignment_id": assignment_id,
        "dispute_id": await borrower_dispute(platform, lender_id, lender_key, loan_id),
    }
    return Tenant(lender_id, keys, objects)


async def borrower_dispute(
    platform: RunningPlatform, lender_id: str, lender_key: str, loan_id: str
) -> str:
    """A dispute the borrower filed on the loan from a link (intake's borrower desk)."""
    runtime = platform.runtime("intake")
    settings = runtime.settings
    assert isinstance(settings, IntakeSettings)
    loan = await platform.clients["intake"].get(f"/v1/loans/{loan_id}", headers=bearer(lender_key))
    assert loan.status_code == 200, loan.text
    desk = borrower_desk(settings, runtime)
    token = settings.borrower_links().mint(lender_id, loan_id, loan.json()["borrower_ref"])
    dispute = await desk.open_dispute(await desk.open_link(token), DisputeReason.OTHER, "")
    return dispute.dispute_id


@pytest.fixture(scope="session")
async def matrix(platform: RunningPlatform) -> Matrix:
    run = uuid4().hex[:8]
    lender_a = platform.credentials.lender
    lender_b = await platform.issue(Role.LENDER, f"lender-matrix-{run}", "auth matrix")
    auditor_a = await platform.issue(Role.AUDITOR, lender_a["id"], "auth matrix")
    auditor_b = await platform.issue(Role.AUDITOR, lender_b.tenant, "auth matrix")
    operator = await platform.issue(Role.OPERATOR, f"operator-{run}", "auth matrix")
    agency, other_agency = platform.credentials.agencies[:2]
    common = {Role.AGENCY: agency["api_key"], Role.OPERATOR: operator.api_key}
    as_operator = {"Authorization": f"Bearer {operator.api_key}"}
    # The agency key sees the assignment of "mine"; "theirs" is another agency's.
    my_assignment = await placed_with(platform, lender_a["api_key"], agency["id"], as_operator)
    their_assignment = await placed_with(
        platform, lender_b.api_key, other_agency["id"], as_operator
    )
    mine = await lender_with_a_loan(
        platform,
        lender_a["id"],
        lender_a["api_key"],
        {Role.LENDER: lender_a["api_key"], Role.AUDITOR: auditor_a.api_key, **common},
        my_assignment,
    )
    theirs = await lender_with_a_loan(
        platform,
        lender_b.tenant,
        lender_b.api_key,
        {Role.LENDER: lender_b.api_key, Role.AUDITOR: auditor_b.api_key, **common},
        their_assignment,
    )
    for service in platform.apps:
        await eventually(partial(visible, platform, service, theirs), within=60)
    return Matrix(mine, theirs)


@dataclass(frozen=True)
class Endpoint:
    path: str  # with its router's prefix
    method: str
    route: APIRoute
    gate: RoleGate

    @property
    def parameters(self) -> set[str]:
        return set(self.route.param_convertors)

    def url(self, objects: dict[str, str]) -> str:
        values = {}
        for parameter in self.parameters:
            if parameter in OBJECTS:
                values[parameter] = objects[parameter]
            else:
                assert parameter in OWN_NAMESPACE, (
                    f"{self.path}: say in OBJECTS or OWN_NAMESPACE what {{{parameter}}} names"
                )
                values[parameter] = f"X-{uuid4().hex[:12]}"
        return self.path.format(**values)

    def body(self) -> dict[str, Any] | None:
        field = self.route.body_field
        if field is None:
            return None
        model = field.field_info.annotation
        name = getattr(model, "__name__", str(model))
        assert name in BODIES, f"{self.path}: add an example {name} body to BODIES"
        return BODIES[name]()


async def visible(platform: RunningPlatform, service: str, tenant: Tenant) -> bool:
    """Whether the service shows the tenant's loan to the tenant through one of its reads
    (so a 404 to another tenant is the tenancy check, not a loan not there yet)."""
    reads = [
        e for e in endpoints(platform, service) if e.method == "GET" and e.parameters == {"loan_id"}
    ]
    for endpoint in reads:
        key = tenant.keys[endpoint.gate.roles[0]]
        response = await platform.clients[service].get(
            endpoint.url(tenant.objects), headers=bearer(key)
        )
        if response.status_code == 200:
            return True
    return not reads


def gate_of(route: APIRoute) -> RoleGate | None:
    pending = list(route.dependant.dependencies)
    while pending:
        dependency = pending.pop()
        if isinstance(dependency.call, RoleGate):
            return dependency.call
        pending.extend(dependency.dependencies)
    return None


def endpoints(platform: RunningPlatform, service: str) -> list[Endpoint]:
    """Every endpoint of the app but the exempt ones, with its role gate; fails on one that
    has none."""
    found = []
    for context in iter_route_contexts(platform.apps[service].routes):
        path = context.path or ""
        if path in EXEMPT:
            continue
        route = context.original_route
        assert isinstance(route, APIRoute), f"{service} {path}: not an API route nor exempt"
        gate = gate_of(route)
        for method in context.methods or ():
            assert gate is not None, f"{service} {method} {path}: no role gate, not exempt"
            found.append(Endpoint(path, method, route, gate))
    return found


async def call(
    client: httpx.AsyncClient, endpoint: Endpoint, url: str, headers: dict[str, str]
) -> httpx.Response:
    return await client.request(endpoint.method, url, json=endpoint.body(), headers=headers)


@pytest.mark.parametrize("service", ["intake", "notifier", "agency_gateway", "compliance"])
async def test_every_endpoint_refuses_strangers_and_wrong_roles_and_hides_other_tenants(
    platform: RunningPlatform, matrix: Matrix, service: str
) -> None:
    client = platform.clients[service]
    found = endpoints(platform, service)
    assert found, f"{service} has no endpoints"
    failures = []
    for endpoint in found:
        where = f"{service} {endpoint.method} {endpoint.path}"
        own_url = endpoint.url(matrix.mine.objects)

        anonymous = await call(client, endpoint, own_url, {"Idempotency-Key": str(uuid4())})
        if anonymous.status_code != 401 or not anonymous.headers.get(
            "www-authenticate", ""
        ).startswith("Bearer"):
            failures.append(f"{where} without a key: {anonymous.status_code}")

        for role in Role:
            headers = bearer(matrix.mine.keys[role])
            if role not in endpoint.gate.roles:
                refused = await call(client, endpoint, own_url, headers)
                if refused.status_code != 403:
                    failures.append(f"{where} as {role}: {refused.status_code}, not 403")
                continue
            if OBJECTS & endpoint.parameters:
                hidden = await call(client, endpoint, endpoint.url(matrix.theirs.objects), headers)
                if hidden.status_code != 404:
                    failures.append(f"{where} as {role} on another tenant's: {hidden.status_code}")
            admitted = await call(client, endpoint, own_url, headers)
            if admitted.status_code in (401, 403):
                failures.append(f"{where} as {role} on its own: {admitted.status_code}")
    assert not failures, "\n".join(failures)


async def test_an_auditor_of_every_lender_sees_any_lenders_loan(
    platform: RunningPlatform, matrix: Matrix
) -> None:
    """The tenant of an auditor is the lender it may see (the demo auditor's is the demo
    lender), or ``*``, which names the lender of a loan it asks about (loan ids are per
    lender)."""
    assert platform.credentials.auditor["id"] == platform.credentials.lender["id"]
    assert platform.every_lender_auditor.tenant == ALL_LENDERS
    loan_id = matrix.theirs.objects["loan_id"]
    demo = await platform.clients["compliance"].get(
        f"/v1/loans/{loan_id}/timeline",
        params={"lender_id": matrix.theirs.lender_id},
        headers=platform.as_auditor(),
    )
    assert demo.status_code == 404, demo.text  # the demo auditor sees the demo lender only
    unnamed = await platform.clients["compliance"].get(
        f"/v1/loans/{loan_id}/timeline", headers=platform.as_auditor_of_every_lender()
    )
    assert unnamed.status_code == 422, unnamed.text
    assert [error["field"] for error in unnamed.json()["errors"]] == ["query.lender_id"]
    response = await platform.clients["compliance"].get(
        f"/v1/loans/{loan_id}/timeline",
        params={"lender_id": matrix.theirs.lender_id},
        headers=platform.as_auditor_of_every_lender(),
    )
    assert response.status_code == 200, response.text
    assert {entry["lender_id"] for entry in response.json()["entries"]} == {matrix.theirs.lender_id}
