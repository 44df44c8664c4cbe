"""Migration 0006 turns a log of entries (before the tree) into a Merkle tree: every node
stored, the head's root the entries' RFC 9162 root, the filter columns filled from the entries;
0011 counts every entry logged before it judged (they were, in their append's transaction)."""

from typing import Any
from uuid import uuid4

import orjson
from alembic import command
from sqlalchemy import Connection, text
from sqlalchemy.ext.asyncio import create_async_engine

from services.compliance.wiring import MIGRATIONS
from shared.db.migrations import alembic_config, upgrade_to_head
from shared.tlog.merkle import leaf_hash, root_of
from shared.tlog.tree import range_hash
from tests.infrastructure import TestInfrastructure

ENTRIES = 21


def entry(n: int) -> bytes:
    data: dict[str, Any] = {"loan_id": f"L-{n % 4}", "agency_id": "agency-m"}
    if n % 2:
        data["borrower"] = {"ref": f"bref_{n % 4}"}
    return orjson.dumps({"id": str(uuid4()), "data": data}, option=orjson.OPT_SORT_KEYS)


async def test_the_tree_is_built_for_the_entries_logged_before_it(
    infrastructure: TestInfrastructure,
) -> None:
    database = f"compliance_tree_{uuid4().hex[:8]}"
    await infrastructure.create_database(database)
    url = infrastructure.postgres_url(database)
    engine = create_async_engine(url)
    config = alembic_config(MIGRATIONS, url)

    def upgrade_before_the_tree(connection: Connection) -> None:
        config.attributes["connection"] = connection
        command.upgrade(config, "0005")

    bodies = [entry(n) for n in range(ENTRIES)]
    try:
        async with engine.begin() as connection:
            await connection.run_sync(upgrade_before_the_tree)
            for n, body in enumerate(bodies):
                await connection.execute(
                    text(
                        "INSERT INTO audit_entries (leaf_index, event_id, event_type, subject, "
                        "tenant_id, event_time, entry, leaf_hash) VALUES (:n, :id, 'x', :s, "
                        "'lender-m', now(), :entry, :hash)"
                    ),
                    {
                        "n": n,
                        "id": uuid4(),
                        "s": f"L-{n % 4}",
                        "entry": body,
                        "hash": leaf_hash(body),
                    },
                )
            await connection.execute(text("UPDATE log_state SET size = :n"), {"n": ENTRIES})
        await upgrade_to_head(MIGRATIONS, url)
        async with engine.connect() as connection:
            size, root = (
                await connection.execute(text("SELECT size, root_hash FROM log_state"))
            ).one()
            nodes = {
                (row.level, row.idx): bytes(row.hash)
                for row in await connection.execute(
                    text("SELECT level, idx, hash FROM merkle_nodes")
                )
            }
            columns = (
                await connection.execute(
                    text(
                        "SELECT loan_id, agency_id, borrower_ref FROM audit_entries "
                        "WHERE leaf_index = 3"
                    )
                )
            ).one()
            judged = (await connection.execute(text("SELECT judged_size FROM judging"))).scalar()
    finally:
        await engine.dispose()
    leaves = [leaf_hash(body) for body in bodies]
    assert size == ENTRIES
    assert bytes(root) == root_of(leaves) == range_hash(0, ENTRIES, nodes)
    assert len(nodes) == 2 * ENTRIES - bin(ENTRIES).count("1")  # every complete subtree
    assert tuple(columns) == ("L-3", "agency-m", "bref_3")
    assert judged == ENTRIES
