"""Revocations reach every running replica at once, not when its key cache expires.

Revoking a key also sends a PostgreSQL ``NOTIFY`` from the same transaction (delivered only if
it commits); every server ``LISTEN``s on its own connection and drops the key from its cache.
Whenever the listening connection is (re)made the whole cache is dropped, since a revocation
may have been missed while it was down; until then the cache's expiry bounds the delay.
"""

import asyncio
from collections.abc import Callable

import asyncpg
import structlog
from sqlalchemy import make_url

from shared.auth.keys import REVOCATIONS_CHANNEL
from shared.db.engine import connect_ssl
from shared.db.tls import PostgresTls

APPLICATION_NAME = "api-key-revocations"  # names the listening connection in pg_stat_activity
log = structlog.get_logger(__name__)


class RevocationListener:
    def __init__(
        self,
        database_url: str,
        forget: Callable[[str], None],
        forget_all: Callable[[], None],
        check_every: float = 10.0,
        tls: PostgresTls | None = None,
    ) -> None:
        self._dsn = make_url(database_url).set(drivername="postgresql")
        self._forget = forget
        self._forget_all = forget_all
        self._check_every = check_every
        self._tls = tls
        self.listening = asyncio.Event()

    async def run(self) -> None:
        """Listen until cancelled; raises when the connection is lost (the caller restarts it)."""
        connection = await asyncpg.connect(
            self._dsn.render_as_string(hide_password=False),
            timeout=10,
            server_settings={"application_name": APPLICATION_NAME},
            **connect_ssl(self._tls),
        )
        try:
            lost = asyncio.Event()
            connection.add_termination_listener(lambda _connection: lost.set())
            await connection.add_listener(REVOCATIONS_CHANNEL, self._notified)
            self._forget_all()
            self.listening.set()
            while True:
                try:
                    await asyncio.wait_for(lost.wait(), self._check_every)
                except TimeoutError:
                    await connection.execute("SELECT 1", timeout=5)  # a silent dead link raises
                else:
                    raise ConnectionError("the connection listening for revocations was closed")
        finally:
            self.listening.clear()
            self._forget_all()
            await _close_quietly(connection)

    def _notified(self, _connection: object, _pid: int, _channel: str, key_id: object) -> None:
        log.info("api key revoked; dropped from the cache", key_id=key_id)
        self._forget(str(key_id))


async def _close_quietly(connection: "asyncpg.Connection[asyncpg.Record]") -> None:
    try:
        await asyncio.wait_for(connection.close(), 5)
    except (OSError, asyncpg.PostgresError, TimeoutError):
        connection.terminate()
