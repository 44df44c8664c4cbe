"""What compliance's routes are given: the auditor calling and its scope (a lender, for the
evidence bundle), the reads, the log writer (its key and latest checkpoint), the evidence
bundles and the clock.

Wiring puts the application on ``app.state.compliance``; routes stay plain module-level
functions.
"""

from collections.abc import Callable
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, Request

from services.compliance.application.evidence import EvidenceBundles
from services.compliance.application.log_writer import LogWriter
from services.compliance.application.ports import AuditReads, Clock
from shared.auth import ALL_LENDERS, Principal, Role, role_required

ReadsFactory = Callable[[], AbstractAsyncContextManager[AuditReads]]


@dataclass(frozen=True)
class ComplianceApplication:
    reads: ReadsFactory  # each statement on its own: the hot single reads
    proof_reads: ReadsFactory  # the same, on connections lent unpinged: proofs
    consistent_reads: ReadsFactory  # one transaction: reads that must agree
    writer: LogWriter
    clock: Clock
    evidence: EvidenceBundles


def _application(request: Request) -> ComplianceApplication:
    application: ComplianceApplication = request.app.state.compliance
    return application


async def _reads(request: Request) -> ReadsFactory:  # async: no worker-thread hop
    return _application(request).reads


async def _proof_reads(request: Request) -> ReadsFactory:
    return _application(request).proof_reads


async def _consistent_reads(request: Request) -> ReadsFactory:
    return _application(request).consistent_reads


async def _writer(request: Request) -> LogWriter:
    return _application(request).writer


async def _evidence(request: Request) -> EvidenceBundles:
    return _application(request).evidence


async def _clock(request: Request) -> Clock:
    return _application(request).clock


def own_lender(auditor: Principal) -> str | None:
    """The lender an auditor's key is scoped to (a lender's key: that lender); None for an
    auditor of every lender."""
    return None if auditor.tenant == ALL_LENDERS else auditor.tenant


Auditor = Annotated[Principal, Depends(role_required(Role.AUDITOR))]
# The evidence bundle alone also serves lenders (their own loans).
LenderOrAuditor = Annotated[Principal, Depends(role_required(Role.LENDER, Role.AUDITOR))]
Reads = Annotated[ReadsFactory, Depends(_reads)]
ProofReads = Annotated[ReadsFactory, Depends(_proof_reads)]
ConsistentReads = Annotated[ReadsFactory, Depends(_consistent_reads)]
Writer = Annotated[LogWriter, Depends(_writer)]
Evidence = Annotated[EvidenceBundles, Depends(_evidence)]
WallClock = Annotated[Clock, Depends(_clock)]
