"""Composition root: builds compliance's app from its settings."""

from pathlib import Path

from fastapi import FastAPI

from services.compliance.adapters.checkpoints import log_gauges
from services.compliance.adapters.clock import SystemClock
from services.compliance.adapters.statement_pdf import render_statement
from services.compliance.adapters.unit_of_work import (
    ComplianceUnitOfWork,
    audit_reads,
    proof_engine,
    waking,
)
from services.compliance.api import entries, evidence, proofs, reports, violations
from services.compliance.api.console import ConsoleSite, create_console
from services.compliance.api.console_security import PREFIX, Sessions
from services.compliance.api.dependencies import ComplianceApplication
from services.compliance.api.errors import answer_errors
from services.compliance.application.data_requests import DataRequests
from services.compliance.application.evidence import EvidenceBundles
from services.compliance.application.judge import Judge
from services.compliance.application.log_writer import LogWriter
from services.compliance.consumer import AUDITED_TOPICS, GROUP, Recorder
from services.compliance.settings import ComplianceSettings
from services.compliance.workers import Judging
from shared.auth import Role
from shared.contact_rules import load_pack
from shared.db.engine import create_session_factory
from shared.http.app import service_app
from shared.http.metrics import Refresh, on_scrape
from shared.observability.metrics import set_audit_state
from shared.personal_data import collection_records
from shared.runtime import ServiceRuntime
from shared.tlog.note import Signer
from shared.vocabulary import Jurisdiction

MIGRATIONS = Path(__file__).parent / "migrations"
ROLES = (Role.AUDITOR, Role.LENDER, Role.OPERATOR)  # lenders: bundles; operators: /metrics


def create_app(settings: ComplianceSettings | None = None) -> FastAPI:
    settings = settings or ComplianceSettings()
    if not settings.log_signing_key.get_secret_value():
        raise ValueError("COMPLIANCE_LOG_SIGNING_KEY is required: the audit log's checkpoint key")
    packs = {jurisdiction: load_pack(jurisdiction) for jurisdiction in Jurisdiction}
    runtime = ServiceRuntime("compliance", settings, MIGRATIONS, ROLES)
    clock = SystemClock()
    signer = Signer.parse(settings.log_signing_key.get_secret_value())
    writer = LogWriter(signer, Judge(packs), clock)
    units = runtime.units_of_work(ComplianceUnitOfWork)
    judging = Judging(units, writer)
    runtime.work("judging", judging.run)
    recorder = Recorder(writer, DataRequests(clock, collection_records))
    runtime.consume(GROUP, AUDITED_TOPICS, recorder.handlers(), waking(units, judging.wake.set))
    app = service_app(
        runtime,
        title="Collections compliance",
        description="Tamper-evident audit log (a signed Merkle tree), proofs and the auditor's "
        "reads.",
        routers=[proofs.router, entries.router, evidence.router, violations.router, reports.router],
        max_body_bytes=settings.max_body_bytes,
    )
    app.state.authenticator = runtime.auth  # what role_required checks keys with
    reads = audit_reads(runtime.reads)
    proofs_engine = proof_engine(
        settings.database_url, max(2, settings.database_pool_size // 2), runtime.database_tls
    )
    runtime.close_on_stop(proofs_engine.dispose)
    proof_reads = audit_reads(create_session_factory(proofs_engine), unpinged=True)
    consistent_reads = audit_reads(runtime.sessions, in_transaction=True)
    bundles = EvidenceBundles(writer, render_statement)
    app.state.compliance = ComplianceApplication(
        reads=reads,
        proof_reads=proof_reads,
        consistent_reads=consistent_reads,
        writer=writer,
        clock=clock,
        evidence=bundles,
    )
    answer_errors(app)
    # The console: the same keys (its session seals one, under a key derived from the log's).
    console = ConsoleSite(
        sessions=Sessions.from_secret(settings.log_signing_key.get_secret_value()),
        authenticator=runtime.auth,
        reads=reads,
        consistent_reads=consistent_reads,
        writer=writer,
        clock=clock,
        evidence=bundles,
    )
    app.mount(PREFIX, create_console(console))
    on_scrape(app.state, audit_gauges(runtime))
    return app


def audit_gauges(runtime: ServiceRuntime) -> Refresh:
    """The audit log's size and checkpoint age, read into the metrics at scrape time."""

    async def refresh() -> None:
        async with runtime.reads() as session:
            set_audit_state(*await log_gauges(session))

    return refresh
