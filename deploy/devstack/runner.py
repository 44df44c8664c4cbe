"""``make run``: the servers, the service databases, the platform's processes, until Ctrl-C."""

from __future__ import annotations

import asyncio
import contextlib
import importlib
import logging
import os
import signal
import sys
import time
from collections.abc import Awaitable, Callable, Coroutine
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeAlias, cast
from urllib.parse import urlsplit, urlunsplit

import httpx

from . import local_providers
from .errors import DevstackError
from .infrastructure import LocalInfrastructure
from .paths import REPO_ROOT
from .processes import ManagedProcess, RunLock, ensure_port_free, stop_leftover, tail

if TYPE_CHECKING:
    from .platform import ServiceProcess

log = logging.getLogger("devstack")

SERVICE_DATABASES = ("intake", "notifier", "agency_gateway", "compliance")
READY_TIMEOUT = 120.0

Prepare: TypeAlias = "Callable[[LocalInfrastructure, Path], Awaitable[list[ServiceProcess]]]"


def run_until_signal(main: Coroutine[Any, Any, int]) -> int:
    """Run ``main``; the first SIGINT/SIGTERM cancels it (so it cleans up), later ones wait."""

    async def guarded() -> int:
        loop = asyncio.get_running_loop()
        task = asyncio.current_task()
        assert task is not None
        stopping = False
        first_signal = 0.0

        def on_signal(sig: signal.Signals) -> None:
            nonlocal stopping, first_signal
            if stopping:
                # `uv run` forwards the terminal's Ctrl-C: a second copy comes at once.
                if time.monotonic() - first_signal > 1.0:
                    log.info("still stopping, please wait...")
                return
            stopping, first_signal = True, time.monotonic()
            log.info("%s: stopping...", sig.name)
            task.cancel()

        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, on_signal, sig)
        try:
            return await main
        except asyncio.CancelledError:
            if not stopping:
                raise
            log.info("stopped")
            return 0

    return asyncio.run(guarded())


async def run(
    root: Path,
    *,
    kafka_port: int,
    postgres_port: int,
    cache_dir: Path,
    services: bool = True,
    prepare: Prepare | None = None,
) -> int:
    """Start everything, print where it is, and wait; returns the exit code.

    ``prepare`` defaults to :func:`deploy.devstack.platform.prepare`, imported (it imports
    every service) in a thread while Kafka and PostgreSQL start.
    """
    started = time.monotonic()
    with RunLock(root / "run.lock", f"`make run` in {root}"):
        return await _run(root, kafka_port, postgres_port, cache_dir, services, prepare, started)


async def _run(
    root: Path,
    kafka_port: int,
    postgres_port: int,
    cache_dir: Path,
    services: bool,
    prepare: Prepare | None,
    started: float,
) -> int:
    infra = LocalInfrastructure.from_environment(
        root, kafka_port=kafka_port, postgres_port=postgres_port, cache_dir=cache_dir
    )
    loading = None
    if services and prepare is None:
        loading = asyncio.ensure_future(asyncio.to_thread(_load_prepare))
    try:
        async with infra:
            await asyncio.gather(*(infra.create_database(name) for name in SERVICE_DATABASES))
            if loading is not None:
                prepare = await loading
            planned = await prepare(infra, infra.root) if prepare is not None else []
            if loading is not None:  # the platform's own processes: the emulators beside them
                planned = local_providers.with_local_providers(infra.root, planned)
            return await _serve(infra, planned, started, services_too=services)
    finally:
        if loading is not None and not loading.done():
            loading.cancel()


def _load_prepare() -> Prepare:
    return cast(Prepare, importlib.import_module("deploy.devstack.platform").prepare)


async def _serve(
    infra: LocalInfrastructure, planned: list[ServiceProcess], started: float, *, services_too: bool
) -> int:
    """Start the services, wait until they are ready, then watch everything until stopped."""
    processes: list[tuple[ServiceProcess, ManagedProcess]] = []
    try:
        for service in planned:
            processes.append((service, await _start_service(infra.root, service)))
        await _wait_ready(processes)
        _print_banner(infra, planned, time.monotonic() - started, services_too=services_too)
        return await _watch(infra, processes)
    finally:
        await asyncio.gather(*(process.stop() for _, process in processes))


async def _start_service(root: Path, service: ServiceProcess) -> ManagedProcess:
    pid_path = root / "run" / f"{service.name}.pid"
    await stop_leftover(pid_path, " ".join(service.argv), f"the {service.name} service")
    ensure_port_free(service.port, f"the {service.name} service")
    process = ManagedProcess(
        service.name,
        service.argv,
        log_path=root / "logs" / f"{service.name}.log",
        pid_path=pid_path,
        env={**os.environ, "PYTHONUNBUFFERED": "1", **service.env},
        cwd=REPO_ROOT,
        stop_plan=((signal.SIGTERM, 15.0),),
    )
    process.start()
    return process


async def _wait_ready(processes: list[tuple[ServiceProcess, ManagedProcess]]) -> None:
    async with httpx.AsyncClient(timeout=2.0) as client:
        await asyncio.gather(*(_wait_one(client, s, p) for s, p in processes))


async def _wait_one(
    client: httpx.AsyncClient, service: ServiceProcess, process: ManagedProcess
) -> None:
    url = f"http://127.0.0.1:{service.port}/readyz"
    deadline = time.monotonic() + READY_TIMEOUT
    while True:
        if not process.running():
            raise DevstackError(
                f"{service.name} exited (code {process.returncode}) while starting; "
                f"see {process.log_path}:\n{tail(process.log_path)}"
            )
        with contextlib.suppress(httpx.HTTPError):
            if (await client.get(url)).status_code == 200:
                log.info("%s ready on http://127.0.0.1:%d", service.name, service.port)
                return
        if time.monotonic() >= deadline:
            raise DevstackError(
                f"{service.name} was not ready within {READY_TIMEOUT:.0f} s ({url}); "
                f"see {process.log_path}"
            )
        await asyncio.sleep(0.5)


def _print_banner(
    infra: LocalInfrastructure,
    services: list[ServiceProcess],
    seconds: float,
    *,
    services_too: bool,
) -> None:
    width = max([len(s.name) for s in services] + [len("Credentials")]) + 2
    what = "The collections platform is" if services_too else "Kafka and PostgreSQL are"
    lines = ["", f"{what} up ({seconds:.1f} s)."]
    for service in services:
        base = f"http://127.0.0.1:{service.port}"
        shown = service.banner or f"{base}   docs: {base}/docs"
        lines.append(f"  {service.name:<{width}}{shown}")
    if services:
        lines.append(
            f"  {'Metrics':<{width}}/metrics on each port above, for an operator key "
            "(uv run collections keys issue --role operator --tenant prometheus)"
        )
    if services_too and not services:
        lines.append("  (no services started: deploy/devstack/platform.py lists none)")
    if any(s.name == local_providers.NAME for s in services):
        lines += local_providers.banner_lines(width)
    databases = ", ".join(SERVICE_DATABASES)
    lines += [
        f"  {'Kafka':<{width}}{infra.kafka_bootstrap}",
        f"  {'PostgreSQL':<{width}}{_database_url_pattern(infra)}   ({databases})",
        f"  {'Logs':<{width}}{infra.logs_dir}/",
    ]
    credentials = infra.root / "credentials.json"
    note = "" if credentials.exists() else "   (not written: no services)"
    lines += [f"  {'Credentials':<{width}}{credentials}{note}", "Ctrl-C to stop.", ""]
    print("\n".join(lines), flush=True)


def _database_url_pattern(infra: LocalInfrastructure) -> str:
    """The SQLAlchemy URL with ``<database>`` in place of the database name."""
    parts = urlsplit(infra.postgres_url("postgres"))
    return urlunsplit(parts._replace(path="/<database>"))


async def _watch(
    infra: LocalInfrastructure, processes: list[tuple[ServiceProcess, ManagedProcess]]
) -> int:
    """Wait until a process dies (then report it: exit code 1) or the run is cancelled."""
    while True:
        for service, process in processes:
            if not process.running():
                print(
                    f"devstack: {service.name} exited (code {process.returncode}); "
                    f"see {process.log_path}:\n{tail(process.log_path)}\n"
                    "devstack: stopping everything",
                    file=sys.stderr,
                    flush=True,
                )
                return 1
        failure = infra.failure()
        if failure is not None:
            print(f"devstack: {failure}; stopping everything", file=sys.stderr, flush=True)
            return 1
        await asyncio.sleep(0.5)
