"""The operator's ``collections`` command as a process, the way an operator runs it."""

import asyncio
import json
import os
import sys
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

REPO_ROOT = Path(__file__).resolve().parents[2]


@dataclass(frozen=True)
class Completed:
    code: int
    out: str
    err: str

    def json(self) -> Any:
        assert self.code == 0, self.err
        return json.loads(self.out)


async def collections(*args: str, env: Mapping[str, str] | None = None) -> Completed:
    """``python -m deploy.cli ARGS`` (the ``collections`` script) with ``env`` added."""
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "deploy.cli",
        *args,
        cwd=REPO_ROOT,
        env={**os.environ, "COLUMNS": "200", **(env or {})},
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await process.communicate()
    assert process.returncode is not None
    return Completed(process.returncode, out.decode(), err.decode())


def invoke(*args: str) -> Completed:
    """The command in this process (typer's test runner), for commands that start no event
    loop of their own while one runs (e.g. ``audit verify-bundle``, ``--help``)."""
    from typer.testing import CliRunner

    from deploy.cli.app import app

    result = CliRunner().invoke(app, list(args), env={"COLUMNS": "200"})
    return Completed(result.exit_code, result.stdout, result.stderr)
