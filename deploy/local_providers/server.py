"""Runs the emulators in the caller's event loop: ``running_providers`` for tests and the
command line alike."""

import asyncio
import contextlib
import tempfile
from collections.abc import AsyncIterator, Generator
from dataclasses import dataclass
from pathlib import Path

import uvicorn
from fastapi import FastAPI

from .app import create_app
from .callbacks import CallbackPoster
from .config import EmulatorConfig
from .journal import Faults, Journal
from .smtp_server import start_smtp_server


@dataclass(frozen=True)
class RunningProviders:
    http_url: str  # e.g. http://127.0.0.1:8010
    smtp_port: int
    smtp_certificate: Path  # the PEM a client trusts for STARTTLS
    journal: Journal
    faults: Faults

    @property
    def messages_url(self) -> str:
        return f"{self.http_url}/v1/messages"


class _InProcessServer(uvicorn.Server):
    """uvicorn without its signal handlers: the host process keeps its own."""

    @contextlib.contextmanager
    def capture_signals(self) -> Generator[None, None, None]:
        yield


@contextlib.asynccontextmanager
async def serving(app: FastAPI, host: str = "127.0.0.1", port: int = 0) -> AsyncIterator[str]:
    """Serve ``app`` over HTTP in this event loop (port 0: any free one); yields its base URL."""
    server = _InProcessServer(
        uvicorn.Config(app, host=host, port=port, log_level="warning", lifespan="off")
    )
    task = asyncio.create_task(server.serve())
    try:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + 10.0
        while not server.started:
            if task.done() or loop.time() > deadline:
                raise RuntimeError(f"HTTP server on {host}:{port} did not start (port in use?)")
            await asyncio.sleep(0.01)
        yield f"http://{host}:{server.servers[0].sockets[0].getsockname()[1]}"
    finally:
        server.should_exit = True
        await asyncio.gather(task, return_exceptions=True)


@contextlib.asynccontextmanager
async def running_providers(config: EmulatorConfig) -> AsyncIterator[RunningProviders]:
    journal = Journal(config.state_dir / "messages.jsonl" if config.state_dir else None)
    faults = Faults()
    callbacks = CallbackPoster(config)
    async with contextlib.AsyncExitStack() as stack:
        stack.push_async_callback(callbacks.aclose)
        cert_dir = config.state_dir or Path(stack.enter_context(tempfile.TemporaryDirectory()))
        smtp, certificate = await start_smtp_server(config, journal, faults, cert_dir)
        stack.push_async_callback(smtp.wait_closed)
        stack.callback(smtp.close)
        app = create_app(config, journal, faults, callbacks)
        http_url = await stack.enter_async_context(serving(app, config.host, config.http_port))
        smtp_port = smtp.sockets[0].getsockname()[1]
        yield RunningProviders(http_url, smtp_port, certificate, journal, faults)
