"""Each agency's open-accounts counter (migration 0019): backfilled from the assignments open
when it runs, then kept by the triggers on ``assignments`` through inserts (one row, many rows,
COPY), ends, reopenings, moves between agencies and deletes."""

from datetime import UTC, datetime
from uuid import uuid4

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection

from shared.db.engine import create_engine
from tests.infrastructure import TestInfrastructure
from tests.integration.agency_gateway.test_contacts_at_rest import migrate

INSERT = (
    "INSERT INTO assignments ({columns}) SELECT 'A-' || n, 'lender', 'L-' || n, "
    ":agency, 'placed', 'champion', 'v', 'r', 1, 'CNY', now(), now(), now(), now(), "
    "CASE WHEN CAST(:ended AS boolean) THEN now() END "
    "FROM generate_series(CAST(:first AS int), CAST(:last AS int)) AS n"
)
COLUMNS = (
    "assignment_id, lender_id, loan_id, agency_id, status, arm, policy_version, reason, amount, "
    "currency, placed_at, ack_due_at, expires_at, updated_at, ended_at"
)


async def add(connection: AsyncConnection, agency: str, loans: range, ended: bool = False) -> None:
    """One statement inserting an assignment per loan with ``agency``."""
    await connection.execute(
        text(INSERT.format(columns=COLUMNS)),
        {"agency": agency, "first": loans.start, "last": loans.stop - 1, "ended": ended},
    )


async def counts(connection: AsyncConnection) -> tuple[dict[str, int], dict[str, int]]:
    """The counters (but zeros), and the open assignments counted."""
    counter = await connection.execute(
        text("SELECT agency_id, open_accounts FROM agency_open_accounts WHERE open_accounts <> 0")
    )
    counted = await connection.execute(
        text(
            "SELECT agency_id, count(*) FROM assignments WHERE ended_at IS NULL GROUP BY agency_id"
        )
    )
    return {a: int(n) for a, n in counter}, {a: int(n) for a, n in counted}


async def test_the_counter_is_backfilled_then_follows_every_write_to_assignments(
    infrastructure: TestInfrastructure,
) -> None:
    database = f"open_accounts_{uuid4().hex[:10]}"
    await infrastructure.create_database(database)
    url = infrastructure.postgres_url(database)
    await migrate(url, "0018")
    engine = create_engine(url, pool_size=2)
    try:
        async with engine.begin() as connection:
            await add(connection, "north", range(0, 5))
            await add(connection, "south", range(5, 7))
            await add(connection, "south", range(7, 10), ended=True)  # ended: not open
        await migrate(url, "head")
        async with engine.begin() as connection:
            assert await counts(connection) == ({"north": 5, "south": 2}, {"north": 5, "south": 2})
            await add(connection, "north", range(10, 13))  # many rows in one statement
            await add(connection, "east", range(13, 14))  # an agency's first: its row is made
            await connection.execute(  # ended (two agencies in one statement)
                text("UPDATE assignments SET ended_at = now() WHERE loan_id IN ('L-0', 'L-5')")
            )
            await connection.execute(  # a change that is not an end changes no count
                text("UPDATE assignments SET notice_sent_at = now() WHERE loan_id = 'L-1'")
            )
            await connection.execute(  # reopened; moved to another agency
                text("UPDATE assignments SET ended_at = NULL WHERE loan_id = 'L-7'")
            )
            await connection.execute(
                text("UPDATE assignments SET agency_id = 'east' WHERE loan_id = 'L-2'")
            )
            await connection.execute(
                text("DELETE FROM assignments WHERE loan_id IN ('L-3', 'L-8')")
            )
            counter, counted = await counts(connection)
            assert counter == counted == {"north": 5, "south": 2, "east": 2}
        now = datetime.now(UTC)
        async with engine.connect() as connection:  # COPY (the benchmark's fill) counts too
            raw = await connection.get_raw_connection()
            driver = raw.driver_connection
            assert driver is not None
            await driver.copy_records_to_table(
                "assignments",
                columns=[c.strip() for c in COLUMNS.split(",")],
                records=[
                    (
                        f"A-c{n}",
                        "lender",
                        f"L-c{n}",
                        "west",
                        "placed",
                        "champion",
                        "v",
                        "r",
                        1,
                        "CNY",
                        now,
                        now,
                        now,
                        now,
                        None,
                    )
                    for n in range(4)
                ],
            )
            await connection.commit()
        async with engine.connect() as connection:
            counter, counted = await counts(connection)
            assert counter == counted == {"north": 5, "south": 2, "east": 2, "west": 4}
    finally:
        await engine.dispose()
