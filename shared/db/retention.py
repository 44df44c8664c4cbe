"""Deleting rows whose retention window has passed, a small batch per statement.

Each rule names a table and the condition that makes one of its rows old enough to go, given
``:cutoff`` (now minus the rule's window). A pass deletes ``DELETE ... WHERE ctid IN (SELECT
ctid ... LIMIT :batch)`` until a batch comes back short, so no statement holds many row locks
or runs long; several replicas may run it at once.
"""

import asyncio
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import structlog
from sqlalchemy import text
from sqlalchemy.engine import CursorResult
from sqlalchemy.ext.asyncio import AsyncEngine

log = structlog.get_logger(__name__)


@dataclass(frozen=True, slots=True)
class RetentionRule:
    """Rows of ``table`` for which ``condition`` holds (with ``:cutoff``) are old enough."""

    name: str
    table: str
    condition: str
    window: timedelta


def outbox_rule(hours: float) -> RetentionRule:
    """Outbox rows given up: ``published_at`` set on a parked row by an operator (or on a row
    by a relay of an earlier version, which marked what it published), by ``ix_outbox_given_up``.
    The relay deletes the rows it publishes itself; a row to publish or parked is never."""
    return RetentionRule(
        "outbox",
        "outbox",
        "published_at IS NOT NULL AND published_at < :cutoff",
        timedelta(hours=hours),
    )


def inbox_rule(hours: float) -> RetentionRule:
    return RetentionRule("inbox", "inbox", "received_at < :cutoff", timedelta(hours=hours))


def candidates(rule: RetentionRule) -> str:
    """The SELECT of one batch of a rule's rows (``:cutoff``, ``:batch``): each rule's table
    has an index on its condition's column, so a pass never scans the whole table."""
    return f"SELECT ctid FROM {rule.table} WHERE {rule.condition} LIMIT :batch"  # noqa: S608


class RetentionJob:
    """Applies its rules every ``interval`` seconds."""

    def __init__(
        self,
        engine: AsyncEngine,
        rules: list[RetentionRule],
        *,
        batch_size: int = 1000,
        interval: float = 3600.0,
    ) -> None:
        self._engine = engine
        self.rules = rules
        self._batch_size = batch_size
        self._interval = interval

    async def run(self) -> None:
        while True:
            await self.run_once()
            await asyncio.sleep(self._interval)

    async def run_once(self, now: datetime | None = None) -> dict[str, int]:
        """Apply every rule once; how many rows each deleted."""
        now = now or datetime.now(UTC)
        deleted = {rule.name: await self._purge(rule, now - rule.window) for rule in self.rules}
        if any(deleted.values()):
            log.info("retention pass", deleted=deleted)
        return deleted

    async def _purge(self, rule: RetentionRule, cutoff: datetime) -> int:
        statement = text(
            f"DELETE FROM {rule.table} WHERE ctid IN ({candidates(rule)})"  # noqa: S608
        )
        total = 0
        while True:
            async with self._engine.begin() as connection:
                result = await connection.execute(
                    statement, {"cutoff": cutoff, "batch": self._batch_size}
                )
            assert isinstance(result, CursorResult)
            total += result.rowcount
            if result.rowcount < self._batch_size:
                return total
