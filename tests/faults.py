"""Fault injection for the integration tests: a TCP proxy whose link can be cut and restored.

Point a client (e.g. a SQLAlchemy engine) at :attr:`TcpProxy.port` instead of the real server.
:meth:`TcpProxy.cut` resets every live connection (both sides, with a TCP RST) and resets every
new one as soon as it is accepted; :meth:`TcpProxy.restore` forwards again. The server behind
the proxy sees its client vanish, as when a network link or a database host goes away.
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
import struct
from collections.abc import AsyncIterator
from dataclasses import dataclass, field

_CHUNK = 64 * 1024


@dataclass(eq=False)
class _Link:
    """One client connection and its upstream twin, with the two pumps between them."""

    client: asyncio.StreamWriter
    upstream: asyncio.StreamWriter
    pumps: list[asyncio.Task[None]] = field(default_factory=list)

    def reset(self) -> None:
        for writer in (self.client, self.upstream):
            _reset(writer)
        for pump in self.pumps:
            pump.cancel()


def _reset(writer: asyncio.StreamWriter) -> None:
    """Close with an RST rather than a FIN: the peer sees a hard failure, not a goodbye."""
    sock = writer.get_extra_info("socket")
    if sock is not None:
        with contextlib.suppress(OSError):
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    writer.transport.abort()


class TcpProxy:
    """Forwards 127.0.0.1:<port> to ``target_host:target_port`` until told to cut the link."""

    def __init__(self, target_host: str, target_port: int) -> None:
        self._target = (target_host, target_port)
        self._server: asyncio.Server | None = None
        self._links: set[_Link] = set()
        self._cut = False
        self.accepted = 0
        """Connections forwarded since the start."""
        self.refused = 0
        """Connections reset on arrival while the link was cut."""
        self.severed = 0
        """Live connections reset by :meth:`cut`."""

    @property
    def port(self) -> int:
        if self._server is None:
            raise RuntimeError("the proxy is not started")
        port: int = self._server.sockets[0].getsockname()[1]
        return port

    @property
    def live_connections(self) -> int:
        return len(self._links)

    @property
    def is_cut(self) -> bool:
        return self._cut

    async def start(self) -> None:
        self._server = await asyncio.start_server(self._accept, "127.0.0.1", 0)

    async def close(self) -> None:
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()
            self._server = None
        self._reset_all()

    def cut(self) -> None:
        """Reset every live connection and every new one until :meth:`restore`."""
        self._cut = True
        self.severed += len(self._links)
        self._reset_all()

    def restore(self) -> None:
        """Forward new connections again (the severed ones stay dead, as they would)."""
        self._cut = False

    def _reset_all(self) -> None:
        links, self._links = self._links, set()
        for link in links:
            link.reset()

    async def _accept(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        if self._cut:
            self.refused += 1
            _reset(writer)
            return
        try:
            upstream_reader, upstream_writer = await asyncio.open_connection(*self._target)
        except OSError:
            _reset(writer)
            return
        if self._cut:  # cut while connecting upstream
            self.refused += 1
            _reset(writer)
            _reset(upstream_writer)
            return
        self.accepted += 1
        link = _Link(writer, upstream_writer)
        link.pumps = [
            asyncio.create_task(self._pump(reader, upstream_writer, link)),
            asyncio.create_task(self._pump(upstream_reader, writer, link)),
        ]
        self._links.add(link)

    async def _pump(
        self, source: asyncio.StreamReader, sink: asyncio.StreamWriter, link: _Link
    ) -> None:
        try:
            while data := await source.read(_CHUNK):
                sink.write(data)
                await sink.drain()
        except (ConnectionError, OSError):
            pass
        finally:
            # One side hung up (or the link was reset): end the other side as well.
            if link in self._links:
                self._links.discard(link)
                for writer in (link.client, link.upstream):
                    writer.close()


@contextlib.asynccontextmanager
async def tcp_proxy(target_host: str, target_port: int) -> AsyncIterator[TcpProxy]:
    proxy = TcpProxy(target_host, target_port)
    await proxy.start()
    try:
        yield proxy
    finally:
        await proxy.close()
