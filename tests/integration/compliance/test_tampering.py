"""The offline verifier against a log tampered with directly in PostgreSQL: each entry
modified, deleted, reordered or cut off is caught; the untouched log verifies."""

from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from sqlalchemy import text

from services.compliance.adapters.audit_log import SqlAuditLog
from services.compliance.cli.verify import VerificationError, verify_log
from services.compliance.domain.entries import NewEntry
from shared.tlog.merkle import root_of
from shared.tlog.note import Verifier
from tests.harness import RunningPlatform, eventually, running_platform
from tests.infrastructure import TestInfrastructure
from tests.integration.compliance.events import publish_contacts

LENDER = "lender-tamper"
TABLES = ("audit_entries", "merkle_nodes", "log_state", "checkpoints")


@pytest.fixture(scope="module")
async def platform(infrastructure: TestInfrastructure) -> AsyncIterator[RunningPlatform]:
    async with running_platform(infrastructure, services=("compliance",)) as running:
        yield running


@pytest.fixture(scope="module")
async def auditor(platform: RunningPlatform) -> AsyncIterator[httpx.AsyncClient]:
    """An auditor of every lender (``--full`` needs every entry), as the verifier's client."""
    app_client = platform.clients["compliance"]
    async with httpx.AsyncClient(
        transport=app_client._transport,
        base_url=str(app_client.base_url),
        headers=platform.as_auditor_of_every_lender(),
    ) as client:
        yield client


async def tree_size(client: httpx.AsyncClient) -> int:
    response = await client.get("/v1/audit/checkpoint")
    assert response.status_code == 200, response.text
    size: int = response.json()["tree_size"]
    return size


@pytest.fixture(scope="module")
async def log(platform: RunningPlatform, auditor: httpx.AsyncClient) -> dict[str, Any]:
    """A log of 23 entries with a checkpoint saved at its first 12, then grown to 37."""
    runtime = platform.runtime("compliance")
    await publish_contacts(runtime, LENDER, "L-T-1", "ref-1", 22)
    await eventually(lambda: _at_least(auditor, 23), within=60)
    saved = (await auditor.get("/v1/audit/checkpoint")).json()
    await publish_contacts(runtime, LENDER, "L-T-2", "ref-2", 13)
    await eventually(lambda: _at_least(auditor, 37), within=60)
    key = (await auditor.get("/v1/audit/public-key")).json()["verifier_key"]
    return {"saved": saved["note"], "verifier": Verifier.parse(key)}


async def _at_least(client: httpx.AsyncClient, size: int) -> bool:
    return await tree_size(client) >= size


@pytest.fixture
async def database(platform: RunningPlatform) -> AsyncIterator[Any]:
    """A session on compliance's database; the tables are put back as they were afterwards."""
    runtime = platform.runtime("compliance")
    async with runtime.sessions() as session:
        for table in TABLES:
            await session.execute(text(f"CREATE TABLE saved_{table} AS TABLE {table}"))
        await session.commit()
        yield session
        await session.rollback()
        for table in TABLES:  # constants: nothing to inject
            await session.execute(text(f"DELETE FROM {table}"))  # noqa: S608
            await session.execute(text(f"INSERT INTO {table} SELECT * FROM saved_{table}"))  # noqa: S608
            await session.execute(text(f"DROP TABLE saved_{table}"))
        await session.commit()


async def test_the_untouched_log_verifies_in_full_and_by_samples(
    auditor: httpx.AsyncClient, log: dict[str, Any]
) -> None:
    full = await verify_log(auditor, log["verifier"], log["saved"], full=True)
    assert full.checkpoint.size >= 37
    assert full.entries_proven == full.checkpoint.size == full.entries_seen
    sampled = await verify_log(auditor, log["verifier"], log["saved"], samples=10)
    assert sampled.entries_proven == 10


async def test_a_modified_entry_is_caught(
    auditor: httpx.AsyncClient, log: dict[str, Any], database: Any
) -> None:
    await database.execute(
        text(
            "UPDATE audit_entries SET entry = convert_to(replace(convert_from(entry, 'UTF8'), "
            "'lender-tamper', 'lender-other'), 'UTF8') WHERE leaf_index = 3"
        )
    )
    await database.commit()
    with pytest.raises(VerificationError, match="entry 3: its bytes do not hash"):
        await verify_log(auditor, log["verifier"], log["saved"], full=True)


async def test_a_modified_entry_with_its_leaf_hash_recomputed_is_caught(
    auditor: httpx.AsyncClient, log: dict[str, Any], database: Any
) -> None:
    await database.execute(
        text(
            "UPDATE audit_entries SET entry = convert_to(replace(convert_from(entry, 'UTF8'), "
            "'lender-tamper', 'lender-other'), 'UTF8') WHERE leaf_index = 4"
        )
    )
    await database.execute(
        text(
            "UPDATE audit_entries SET leaf_hash = sha256('\\x00'::bytea || entry) "
            "WHERE leaf_index = 4"
        )
    )
    await database.commit()
    with pytest.raises(VerificationError, match="do not rebuild the signed root"):
        await verify_log(auditor, log["verifier"], log["saved"], full=True)


async def test_a_deleted_entry_is_caught(
    auditor: httpx.AsyncClient, log: dict[str, Any], database: Any
) -> None:
    await database.execute(text("DELETE FROM audit_entries WHERE leaf_index = 7"))
    await database.commit()
    with pytest.raises(VerificationError, match=r"missing \[7\]"):
        await verify_log(auditor, log["verifier"], log["saved"], full=True)


async def test_reordered_entries_are_caught(
    auditor: httpx.AsyncClient, log: dict[str, Any], database: Any
) -> None:
    for statement in (
        "UPDATE audit_entries SET leaf_index = -1 WHERE leaf_index = 5",
        "UPDATE audit_entries SET leaf_index = 5 WHERE leaf_index = 6",
        "UPDATE audit_entries SET leaf_index = 6 WHERE leaf_index = -1",
    ):
        await database.execute(text(statement))
    await database.commit()
    with pytest.raises(VerificationError, match="do not rebuild the signed root"):
        await verify_log(auditor, log["verifier"], log["saved"], full=True)


async def test_a_log_cut_back_below_the_saved_checkpoint_is_caught(
    auditor: httpx.AsyncClient, log: dict[str, Any], database: Any
) -> None:
    """The operator deletes the tail and rewinds the tree head to match: the log signs the
    shorter tree, which cannot hide that it shrank since the auditor's checkpoint."""
    kept = await database.execute(
        text("SELECT leaf_hash FROM audit_entries WHERE leaf_index < 10 ORDER BY leaf_index")
    )
    root = root_of([bytes(h) for h in kept.scalars()])
    await database.execute(text("DELETE FROM audit_entries WHERE leaf_index >= 10"))
    await database.execute(text("DELETE FROM merkle_nodes WHERE (idx + 1) * (1 << level) > 10"))
    await database.execute(text("DELETE FROM checkpoints WHERE tree_size > 10"))
    await database.execute(
        text("UPDATE log_state SET size = 10, root_hash = :root"), {"root": root}
    )
    await database.commit()
    with pytest.raises(VerificationError, match="shrank"):
        await verify_log(auditor, log["verifier"], log["saved"], full=True)


async def test_a_rewritten_history_fails_the_consistency_proof(
    auditor: httpx.AsyncClient, log: dict[str, Any], database: Any, platform: RunningPlatform
) -> None:
    """The operator rewrites an old entry and rebuilds every node and the root, so the log is
    internally consistent and freshly signed: only the saved checkpoint catches it."""
    rows = (await database.execute(text("SELECT * FROM audit_entries ORDER BY leaf_index"))).all()
    await database.execute(text("DELETE FROM audit_entries"))
    await database.execute(text("DELETE FROM merkle_nodes"))
    await database.execute(text("DELETE FROM checkpoints"))
    await database.execute(text("UPDATE log_state SET size = 0"))
    forged = []
    for row in rows:
        entry = bytes(row.entry)
        if row.leaf_index == 2:
            entry = entry.replace(b"lender-tamper", b"lender-forged")
        forged.append(
            NewEntry(
                row.event_id,
                row.event_type,
                row.subject,
                row.tenant_id,
                row.event_time,
                row.loan_id,
                row.agency_id,
                row.borrower_ref,
                entry,
            )
        )
    await SqlAuditLog(database).append(forged)
    await database.commit()
    with pytest.raises(VerificationError, match="does not extend the saved tree"):
        await verify_log(auditor, log["verifier"], log["saved"], full=True)
    # Without the saved checkpoint the forgery is self-consistent: that is why auditors keep one.
    assert (await verify_log(auditor, log["verifier"], None, full=True)).entries_proven == len(rows)
