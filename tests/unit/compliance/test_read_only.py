"""The auditor's API is read-only: compliance serves no route that writes."""

from fastapi.routing import iter_route_contexts

from deploy.devstack.platform import SERVICES, PlatformSecrets, build_app, service_options


def test_every_compliance_route_is_a_read() -> None:
    service = next(s for s in SERVICES if s.name == "compliance")
    app = build_app(
        "compliance",
        service_options(service, "postgresql+asyncpg://-/-", "-:0", PlatformSecrets.generate()),
    )
    contexts = list(iter_route_contexts(app.routes))
    assert {context.path for context in contexts} >= {
        "/v1/audit/checkpoint",
        "/v1/audit/public-key",
        "/v1/audit/proofs/inclusion",
        "/v1/audit/proofs/consistency",
        "/v1/audit/entries",
        "/v1/audit/export",
        "/v1/loans/{loan_id}/timeline",
        "/v1/violations",
        "/v1/reports/agencies",
    }
    methods = {m for context in contexts for m in context.methods or ()}
    assert methods <= {"GET", "HEAD"}
