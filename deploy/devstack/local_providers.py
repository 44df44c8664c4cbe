"""``make run`` starts the provider emulators (deploy/local_providers) beside the services, so
the notifier's SMS and e-mail reach them and a person can read what borrowers got."""

from __future__ import annotations

import dataclasses
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from deploy.local_providers.config import EmulatorConfig
from deploy.local_providers.smtp_server import self_signed_certificate

if TYPE_CHECKING:
    from .platform import ServiceProcess

NAME = "local_providers"
HTTP_PORT = EmulatorConfig.http_port
SMTP_PORT = EmulatorConfig.smtp_port
MESSAGES_URL = f"http://127.0.0.1:{HTTP_PORT}/v1/messages"


def with_local_providers(root: Path, planned: list[ServiceProcess]) -> list[ServiceProcess]:
    """The emulators first (their own HTTP readiness), then the services, the notifier told to
    trust the local SMTP server's certificate (made here, before anything starts)."""
    from .platform import ServiceProcess

    state = root / NAME
    certificate, _ = self_signed_certificate(state)
    emulators = ServiceProcess(
        name=NAME,
        port=HTTP_PORT,
        argv=[sys.executable, "-m", "deploy.local_providers", "--state-dir", str(state)],
        env={},
    )
    trusting = [
        dataclasses.replace(s, env={**s.env, "NOTIFIER_SMTP_CA_FILE": str(certificate)})
        if s.name == "notifier"
        else s
        for s in planned
    ]
    return [emulators, *trusting]


def banner_lines(width: int) -> list[str]:
    return [
        f"  {'Messages':<{width}}{MESSAGES_URL}   (SMS and e-mail borrowers got; ?to=)",
        f"  {'SMTP':<{width}}127.0.0.1:{SMTP_PORT}   (local mail server, STARTTLS)",
    ]
