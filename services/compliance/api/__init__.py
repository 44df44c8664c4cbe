"""Compliance's HTTP entry points, for auditors (read-only)."""

from typing import Annotated

from fastapi import Depends, Request

from services.compliance.log_writer import LogWriter
from shared.auth import Principal, Role, role_required
from shared.runtime import ServiceRuntime

Auditor = Annotated[Principal, Depends(role_required(Role.AUDITOR))]


def _runtime(request: Request) -> ServiceRuntime:
    runtime: ServiceRuntime = request.app.state.runtime
    return runtime


def _writer(request: Request) -> LogWriter:
    writer: LogWriter = request.app.state.log_writer
    return writer


Runtime = Annotated[ServiceRuntime, Depends(_runtime)]
Writer = Annotated[LogWriter, Depends(_writer)]
