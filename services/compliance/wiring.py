"""Composition root: builds compliance's app from its settings."""

from pathlib import Path

from fastapi import FastAPI

from services.compliance.api import audit_router
from services.compliance.consumer import AUDITED_TOPICS, GROUP, compliance_handlers
from services.compliance.settings import ComplianceSettings
from shared.auth import Role
from shared.http.app import service_app
from shared.runtime import ServiceRuntime

MIGRATIONS = Path(__file__).parent / "migrations"
ROLES = (Role.AUDITOR,)  # the roles whose keys compliance serves


def create_app(settings: ComplianceSettings | None = None) -> FastAPI:
    runtime = ServiceRuntime("compliance", settings or ComplianceSettings(), MIGRATIONS, ROLES)
    runtime.consume(GROUP, AUDITED_TOPICS, compliance_handlers())
    return service_app(
        runtime,
        title="Collections compliance",
        description="Tamper-evident audit log, violations and proofs, for auditors.",
        routers=[audit_router(runtime)],
    )
