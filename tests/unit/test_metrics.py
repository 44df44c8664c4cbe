"""The metrics: HTTP requests labelled by route template (never the raw path), the facts read
off committed events, provider calls, dead-letter reasons, and ``/metrics`` mounted on every
service's app behind the operator role."""

from datetime import UTC, datetime
from uuid import uuid4

import httpx
import pytest
from fastapi import FastAPI
from fastapi.routing import APIRoute, iter_route_contexts
from prometheus_client import REGISTRY, generate_latest

from deploy.devstack.platform import SERVICES, PlatformSecrets, Service, build_app, service_options
from services.notifier.adapters.providers.dispatch import failure_kind
from services.notifier.application.ports import ProviderError
from shared.auth import Role, RoleGate
from shared.events.catalog import (
    ASSIGNMENT_EXPIRED,
    ASSIGNMENT_PLACED,
    NOTIFICATION_EVENTS,
    VIOLATION_FOUND,
    EventType,
)
from shared.events.envelope import Envelope
from shared.events.notifications import NotificationStatus
from shared.http.limits import BodySizeLimit
from shared.http.metrics import HttpMetrics
from shared.observability import metrics
from tests.support.fake_borrower_desk import FakeBorrowerDesk
from tests.unit.intake.borrower_site_support import borrower_app, client_of


def sample(name: str, **labels: str) -> float:
    return REGISTRY.get_sample_value(name, labels) or 0.0


def small_app(service: str) -> FastAPI:
    app = FastAPI()

    @app.get("/v1/loans/{loan_id}")
    async def read(loan_id: str) -> dict[str, str]:
        return {"loan_id": loan_id}

    @app.post("/v1/loans/{loan_id}/notes")
    async def note(loan_id: str) -> dict[str, str]:
        return {}

    @app.get("/boom")
    async def boom() -> None:
        raise RuntimeError("boom")

    app.add_middleware(BodySizeLimit, default_limit=10)
    app.add_middleware(HttpMetrics, service=service)
    return app


async def test_requests_are_counted_by_route_template_status_and_duration() -> None:
    service = f"t-{uuid4().hex[:6]}"
    transport = httpx.ASGITransport(app=small_app(service), raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as http:
        for loan in ("L-1", "L-2", "L-3"):
            assert (await http.get(f"/v1/loans/{loan}")).status_code == 200
        assert (await http.get("/nowhere/L-9")).status_code == 404
        too_large = await http.post("/v1/loans/L-4/notes", content=b"x" * 100)
        assert too_large.status_code == 413
        assert (await http.get("/boom")).status_code == 500

    template = "/v1/loans/{loan_id}"
    requests = "collections_http_requests_total"
    assert sample(requests, service=service, method="GET", route=template, status="200") == 3
    assert sample(requests, service=service, method="GET", route="unmatched", status="404") == 1
    notes = "/v1/loans/{loan_id}/notes"  # refused before routing, still labelled by its route
    assert sample(requests, service=service, method="POST", route=notes, status="413") == 1
    assert sample(requests, service=service, method="GET", route="/boom", status="500") == 1
    durations = "collections_http_request_duration_seconds_count"
    assert sample(durations, service=service, method="GET", route=template) == 3
    exposed = [line for line in generate_latest().decode().splitlines() if service in line]
    assert exposed
    leaked = [line for line in exposed if any(f"L-{n}" in line for n in range(10))]
    assert not leaked, "a raw path leaked into a label"


def envelope_of(event_type: EventType, data: dict[str, object]) -> Envelope:
    return Envelope(
        id=uuid4(),
        source="test",
        type=event_type.name,
        time=datetime.now(UTC),
        subject="L-1",
        schemaversion=1,
        tenantid="lender",
        data=data,
    )


def test_committed_events_count_notifications_placements_and_violations() -> None:
    agency, rule = f"AG-{uuid4().hex[:6]}", f"R-{uuid4().hex[:6]}"
    suppressed = NOTIFICATION_EVENTS[NotificationStatus.SUPPRESSED]
    sent = NOTIFICATION_EVENTS[NotificationStatus.SENT]
    before = {
        "sent": sample(
            "collections_notifications_total", status="sent", channel="sms", rule="none"
        ),
        "expired": sample(
            "collections_placement_ends_total", how="expired", reason="ack_lease_lapsed"
        ),
    }
    metrics.count_committed(
        [
            envelope_of(suppressed, {"status": "suppressed", "channel": "sms", "rule_ids": [rule]}),
            envelope_of(sent, {"status": "sent", "channel": "sms", "rule_ids": []}),
            envelope_of(sent, {"status": "sent", "channel": "sms", "rule_ids": []}),
            envelope_of(ASSIGNMENT_PLACED, {"agency_id": agency}),
            envelope_of(ASSIGNMENT_EXPIRED, {"agency_id": agency, "reason": "ack_lease_lapsed"}),
            envelope_of(VIOLATION_FOUND, {"rule_id": rule, "party": f"agency:{agency}"}),
        ]
    )
    notifications = "collections_notifications_total"
    assert sample(notifications, status="suppressed", channel="sms", rule=rule) == 1
    assert sample(notifications, status="sent", channel="sms", rule="none") == before["sent"] + 2
    assert sample("collections_placements_total", agency=agency) == 1
    ends = sample("collections_placement_ends_total", how="expired", reason="ack_lease_lapsed")
    assert ends == before["expired"] + 1
    assert sample("collections_violations_total", rule=rule, party=f"agency:{agency}") == 1
    published = "collections_events_published_total"
    assert sample(published, source="test", type=sent.name) >= 2


def test_dead_letter_reasons_are_the_errors_type_not_the_message() -> None:
    assert metrics.reason_label("IntegrityError: duplicate key 42") == "IntegrityError"
    assert metrics.reason_label("not a valid event envelope: 2 errors: ...") == (
        "not a valid event envelope"
    )
    assert metrics.reason_label("") == "unknown"
    group = f"g-{uuid4().hex[:6]}"
    metrics.count_dead_letters(group, ["ValueError: a", "ValueError: b", "KeyError: c"])
    assert sample("collections_dead_letters_total", group=group, reason="ValueError") == 2
    assert sample("collections_dead_letters_total", group=group, reason="KeyError") == 1


def test_provider_calls_are_counted_by_outcome_and_failure_kind_and_timed() -> None:
    provider = f"p-{uuid4().hex[:6]}"
    with metrics.provider_send(provider, "sms", failure_kind):
        pass
    for error in (
        ProviderError("timeout", retriable=True, ambiguous=True),
        ProviderError("503", retriable=True),
        ProviderError("bad number", retriable=False),
        RuntimeError("bug"),
    ):
        with pytest.raises(type(error)), metrics.provider_send(provider, "sms", failure_kind):
            raise error
    sends = "collections_provider_sends_total"
    assert sample(sends, provider=provider, channel="sms", outcome="sent") == 1
    assert sample(sends, provider=provider, channel="sms", outcome="error") == 4
    for kind in ("ambiguous", "retriable", "refused", "unexpected"):
        errors = "collections_provider_errors_total"
        assert sample(errors, provider=provider, channel="sms", kind=kind) == 1, kind
    timed = "collections_provider_send_duration_seconds_count"
    assert sample(timed, provider=provider, channel="sms") == 5


def test_consumer_events_lag_and_webhook_outcomes() -> None:
    group = f"g-{uuid4().hex[:6]}"
    metrics.count_consumed(group, "applied", ["a", "a", "b"])
    assert (
        sample("collections_consumer_events_total", group=group, type="a", outcome="applied") == 2
    )

    class TP:
        def __init__(self, topic: str, partition: int) -> None:
            self.topic, self.partition = topic, partition

    metrics.observe_consumer_lag(group, {TP("t", 0): 7, TP("t", 1): 0})
    assert sample("collections_consumer_lag", group=group, topic="t", partition="0") == 7
    metrics.forget_partitions(group, [TP("t", 0)])
    assert (
        REGISTRY.get_sample_value(
            "collections_consumer_lag", {"group": group, "topic": "t", "partition": "0"}
        )
        is None
    )
    before = sample("collections_webhook_deliveries_total", outcome="given_up")
    metrics.count_webhook_deliveries(["delivered", "given_up", "retrying"])
    assert sample("collections_webhook_deliveries_total", outcome="given_up") == before + 1


def test_every_metric_is_named_collections_and_exports_its_suffixes() -> None:
    names = metrics.exported_names()
    assert all(name.startswith("collections_") for name in names)
    assert "collections_http_requests_total" in names
    assert "collections_http_request_duration_seconds_bucket" in names
    assert "collections_consumer_lag" in names
    assert "collections_http_requests" not in names  # a counter's samples end in _total


@pytest.mark.parametrize("service", SERVICES, ids=lambda service: service.name)
async def test_every_service_serves_metrics_to_operators_only(service: Service) -> None:
    options = service_options(
        service, "postgresql+asyncpg://-/-", "-:0", PlatformSecrets.generate()
    )
    app = build_app(service.name, options)
    route = next(c.original_route for c in iter_route_contexts(app.routes) if c.path == "/metrics")
    assert isinstance(route, APIRoute)
    gates = [d.call for d in route.dependant.dependencies if isinstance(d.call, RoleGate)]
    assert [gate.roles for gate in gates] == [(Role.OPERATOR,)]
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as http:
        anonymous = await http.get("/metrics")
    assert anonymous.status_code == 401
    assert anonymous.headers["www-authenticate"].startswith("Bearer")


async def test_a_request_refused_before_routing_in_a_service_app_keeps_its_template() -> None:
    service = next(s for s in SERVICES if s.name == "intake")
    options = service_options(
        service, "postgresql+asyncpg://-/-", "-:0", PlatformSecrets.generate()
    )
    transport = httpx.ASGITransport(app=build_app(service.name, options))
    template = "/v1/loans/{loan_id}/holds"
    labels = {"service": "intake", "method": "POST", "route": template, "status": "413"}
    before = sample("collections_http_requests_total", **labels)
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as http:
        response = await http.post("/v1/loans/L-77/holds", content=b"x" * (2 * 1024 * 1024))
    assert response.status_code == 413
    assert sample("collections_http_requests_total", **labels) == before + 1


async def test_the_borrowers_site_serves_metrics_to_operators_only_and_counts_its_pages() -> None:
    app = borrower_app(FakeBorrowerDesk())
    route = next(c.original_route for c in iter_route_contexts(app.routes) if c.path == "/metrics")
    assert isinstance(route, APIRoute)
    gates = [d.call for d in route.dependant.dependencies if isinstance(d.call, RoleGate)]
    assert [gate.roles for gate in gates] == [(Role.OPERATOR,)]
    labels = {"service": "intake-borrower", "method": "GET", "route": "/b/{token}"}
    before = sum(
        sample("collections_http_requests_total", **labels, status=str(status))
        for status in (200, 404, 410)
    )
    async with client_of(app) as http:
        anonymous = await http.get("/metrics")
        page = await http.get("/b/b1.not.a-token")
    assert anonymous.status_code == 401
    after = sum(
        sample("collections_http_requests_total", **labels, status=str(status))
        for status in (200, 404, 410)
    )
    assert after == before + 1, page.status_code
    assert "b1.not.a-token" not in generate_latest().decode()


async def test_a_mounted_apps_routes_are_labelled_with_the_mounts_prefix() -> None:
    service = f"t-{uuid4().hex[:6]}"
    inner = FastAPI()

    @inner.get("/loans/{loan_id}")
    async def page(loan_id: str) -> dict[str, str]:
        return {}

    outer = small_app(service)
    outer.mount("/console", inner)
    transport = httpx.ASGITransport(app=outer)
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as http:
        assert (await http.get("/console/loans/L-5")).status_code == 200
        assert (await http.get("/console/nowhere")).status_code == 404
        assert (await http.get("/v1/loans/L-6")).status_code == 200
    requests = "collections_http_requests_total"
    labels = {"service": service, "method": "GET"}
    assert sample(requests, **labels, route="/console/loans/{loan_id}", status="200") == 1
    assert sample(requests, **labels, route="unmatched", status="404") == 1
    assert sample(requests, **labels, route="/v1/loans/{loan_id}", status="200") == 1
