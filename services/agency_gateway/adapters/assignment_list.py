"""The agency's list of its assignments: one keyset page, read without a transaction.

The hot path agencies poll: it selects only the columns the list shows (``LISTED_COLUMNS``),
reads through the runtime's autocommit engine (one round trip per read) and runs its SQL as a
prepared statement on the driver's connection (no SQLAlchemy statement built per request).
"""

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from services.agency_gateway.adapters.tables import assignments
from shared.db.engine import SessionFactory

LISTED = (
    "assignment_id",
    "loan_id",
    "status",
    "placed_at",
    "ack_due_at",
    "expires_at",
    "acknowledged_at",
    "ended_at",
    "updated_at",
)
# What the list reads: the listed columns, then what the amount and the notice come from.
LISTED_COLUMNS = [assignments.c[name] for name in LISTED] + [
    assignments.c.amount,
    assignments.c.currency,
    assignments.c.notice_sent_at,
]


SELECTED = ", ".join(column.name for column in LISTED_COLUMNS)


def keyset_sql(status: bool, updated_since: bool, after: bool) -> str:
    """The page's SQL, with the filters given, as ``$n`` parameters in that order after the
    agency and before the limit (one text per combination: asyncpg prepares each once per
    connection)."""
    where, n = ["agency_id = $1"], 1
    if status:
        n += 1
        where.append(f"status = ${n}")
    if updated_since:
        n += 1
        where.append(f"updated_at >= ${n}")
    if after:
        where.append(f"(updated_at, assignment_id) > (${n + 1}, ${n + 2})")
        n += 2
    return (
        f"SELECT {SELECTED} FROM assignments WHERE {' AND '.join(where)} "  # noqa: S608 constants only
        f"ORDER BY updated_at, assignment_id LIMIT ${n + 1}"
    )


KEYSET_SQL = {
    (s, u, a): keyset_sql(s, u, a)
    for s in (False, True)
    for u in (False, True)
    for a in (False, True)
}


@dataclass(frozen=True)
class AssignmentList:
    reads: SessionFactory  # the runtime's autocommit sessions

    async def page(
        self,
        agency_id: str,
        status: str | None,
        updated_since: datetime | None,
        after: tuple[datetime, str] | None,
        limit: int,
    ) -> Sequence[Sequence[Any]]:
        """Up to ``limit`` rows of ``LISTED_COLUMNS`` after the (``updated_at``,
        ``assignment_id``) ``after``, oldest change first: one prepared statement on the
        driver's connection (building and compiling a SQLAlchemy select per request cost more
        than the query)."""
        sql = KEYSET_SQL[(status is not None, updated_since is not None, after is not None)]
        arguments: list[Any] = [agency_id]
        if status is not None:
            arguments.append(status)
        if updated_since is not None:
            arguments.append(updated_since)
        if after is not None:
            arguments.extend(after)
        arguments.append(limit)
        async with self.reads() as session:
            connection = await session.connection()
            raw = await connection.get_raw_connection()
            rows = await raw.driver_connection.fetch(sql, *arguments)  # type: ignore[union-attr]
        return [tuple(row) for row in rows]
