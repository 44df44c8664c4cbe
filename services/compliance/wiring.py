"""Composition root: builds compliance's app from its settings."""

from pathlib import Path

from fastapi import FastAPI

from services.compliance.api import entries, proofs, reports, violations
from services.compliance.consumer import AUDITED_TOPICS, GROUP, Recorder
from services.compliance.judge import Judge
from services.compliance.log_writer import LogWriter
from services.compliance.settings import ComplianceSettings
from shared.auth import Role
from shared.contact_rules import load_pack
from shared.db.unit_of_work import UnitOfWork
from shared.events.topics import Topic
from shared.http.app import service_app
from shared.runtime import ServiceRuntime
from shared.tlog.note import Signer
from shared.vocabulary import Jurisdiction

MIGRATIONS = Path(__file__).parent / "migrations"
ROLES = (Role.AUDITOR,)  # the roles whose keys compliance serves


def create_app(settings: ComplianceSettings | None = None) -> FastAPI:
    settings = settings or ComplianceSettings()
    if not settings.log_signing_key.get_secret_value():
        raise ValueError("COMPLIANCE_LOG_SIGNING_KEY is required: the audit log's checkpoint key")
    packs = {jurisdiction: load_pack(jurisdiction) for jurisdiction in Jurisdiction}
    runtime = ServiceRuntime("compliance", settings, MIGRATIONS, ROLES)
    writer = LogWriter(
        Signer.parse(settings.log_signing_key.get_secret_value()),
        Judge(packs),
        runtime.topic(Topic.COMPLIANCE),
    )
    runtime.consume(
        GROUP, AUDITED_TOPICS, Recorder(writer).handlers(), runtime.units_of_work(UnitOfWork)
    )
    app = service_app(
        runtime,
        title="Collections compliance",
        description="Tamper-evident audit log (a signed Merkle tree), proofs and the auditor's "
        "reads.",
        routers=[proofs.router, entries.router, violations.router, reports.router],
        max_body_bytes=settings.max_body_bytes,
    )
    app.state.authenticator = runtime.auth  # what role_required checks keys with
    app.state.log_writer = writer
    return app
