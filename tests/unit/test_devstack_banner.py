"""``make run``'s banner says where the console is and how to get a key for ``/metrics``
(a command the operator CLI has)."""

import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from deploy.cli.app import app
from deploy.devstack import runner
from deploy.devstack.infrastructure import LocalInfrastructure
from deploy.devstack.platform import ServiceProcess, console_banner

COMPLIANCE = ServiceProcess(
    "compliance",
    8004,
    [sys.executable, "-m", "services.compliance"],
    {},
    banner=console_banner(8004),
)


def test_the_banner_names_the_console_and_how_to_get_a_metrics_key(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    runner._print_banner(LocalInfrastructure(tmp_path), [COMPLIANCE], 1.0, services_too=True)
    printed = capsys.readouterr().out
    line = next(line for line in printed.splitlines() if "compliance" in line)
    assert "http://127.0.0.1:8004/console/" in line
    assert "http://127.0.0.1:8004/docs" in line
    metrics = next(line for line in printed.splitlines() if line.strip().startswith("Metrics"))
    command = metrics.split("(uv run collections ", 1)[1].rstrip(")").split()
    assert command[:4] == ["keys", "issue", "--role", "operator"]
    help_text = CliRunner().invoke(app, [*command[:2], "--help"]).output
    assert "--role" in help_text
    assert "--tenant" in help_text
