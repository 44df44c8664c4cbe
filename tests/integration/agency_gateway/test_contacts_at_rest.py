"""The gateway stores a borrower's contact under its own data key, bound to the case, and its
reseal command moves stored contacts to a new data key in batches, old key ids readable
throughout, a re-run doing nothing; agencies' activity texts, once plain in the report's JSON,
are moved out by a migration and sealed by the same command."""

import copy
import json
from datetime import UTC, datetime
from uuid import uuid4

from alembic import command
from sqlalchemy import Connection, select, text
from sqlalchemy.ext.asyncio import create_async_engine

from services.agency_gateway.adapters.activities import TEXT, UNSEALED, ActivityTexts
from services.agency_gateway.adapters.contact_details import CONTACT, ContactKeys
from services.agency_gateway.adapters.tables import activities, collection_cases
from services.agency_gateway.settings import AgencyGatewaySettings
from services.agency_gateway.wiring import MIGRATIONS
from shared.crypto import DecryptionError, KeyRing, SealedValue
from shared.db.engine import create_engine
from shared.db.migrations import alembic_config, upgrade_to_head
from shared.db.reseal import BatchDone, kid_counts, reseal
from tests.harness import RunningPlatform, eventually
from tests.infrastructure import TestInfrastructure
from tests.support.factories import VALID_REPORT
from tests.support.operator_cli import collections

K1, K2 = KeyRing.generate_spec("k1"), KeyRing.generate_spec("k2")
TRANSIT_SPEC = KeyRing.generate_spec("t1")
TRANSIT = KeyRing.parse(TRANSIT_SPEC)


async def test_a_consumed_contact_is_stored_under_the_gateways_data_key(
    platform: RunningPlatform,
) -> None:
    loan_id = f"L-SEAL-{uuid4().hex[:8]}"
    posted = await platform.clients["intake"].post(
        "/v1/overdue-loans",
        json=copy.deepcopy(VALID_REPORT) | {"loan_id": loan_id},
        headers=platform.as_lender(),
    )
    assert posted.status_code == 202, posted.text
    runtime = platform.runtime("agency_gateway")

    async def stored_case() -> dict[str, object] | None:
        async with runtime.engine.connect() as connection:
            query = select(collection_cases).where(collection_cases.c.loan_id == loan_id)
            row = (await connection.execute(query)).first()
        return dict(row._mapping) if row else None

    case = await eventually(stored_case)
    settings = runtime.settings
    assert isinstance(settings, AgencyGatewaySettings)
    storage = settings.data_key_ring()
    assert case["contact_sealed"]["kid"] == storage.primary  # type: ignore[index]
    contact = json.loads(CONTACT.open(storage, case))
    assert contact == {"name": "张三", "phone": "+8613800138000", "email": "zhangsan@example.com"}
    transit = KeyRing.from_secret(settings.transit_keys)
    sealed = SealedValue.model_validate(case["contact_sealed"])
    assert sealed.kid not in transit.keys
    moved = {**case, "loan_id": "L-ANOTHER"}
    try:
        CONTACT.open(storage, moved)
    except DecryptionError:
        pass
    else:
        raise AssertionError("a contact moved to another case opened")


async def test_reseal_moves_every_contact_to_the_new_key_in_batches(
    infrastructure: TestInfrastructure,
) -> None:
    database = f"reseal_{uuid4().hex[:10]}"
    await infrastructure.create_database(database)
    url = infrastructure.postgres_url(database)
    await upgrade_to_head(MIGRATIONS, url)
    engine = create_engine(url, pool_size=2)
    old = ContactKeys(transit=TRANSIT, storage=KeyRing.parse(K1))
    rotated = ContactKeys(transit=TRANSIT, storage=KeyRing.parse(f"{K2},{K1}"))
    cases = [
        {"lender_id": "lender-a", "loan_id": f"L-{n:03}", "borrower_ref": f"bref_{n}"}
        for n in range(23)
    ]
    try:
        async with engine.begin() as connection:
            await connection.execute(
                collection_cases.insert(),
                [
                    {
                        **case,
                        # two cases stored before the gateway had data keys: as received
                        "contact_sealed": (
                            TRANSIT.seal(b"legacy", case["borrower_ref"].encode()).model_dump()
                            if n < 2
                            else old.stored(TRANSIT.seal(b"c", case["borrower_ref"].encode()), case)
                        ),
                        "jurisdiction": "CN",
                        "amount_overdue": 10,
                        "currency": "CNY",
                        "days_past_due": 3,
                        "as_of": datetime.now(UTC),
                        "status": "awaiting_threshold",
                    }
                    for n, case in enumerate(cases)
                ],
            )
        assert await kid_counts(engine, CONTACT) == {"k1": 21, "t1": 2}

        # A running service holds one case: the batches pass it over and report it as left.
        held = await engine.connect()
        transaction = await held.begin()
        await held.execute(
            text("SELECT 1 FROM collection_cases WHERE loan_id = 'L-010' FOR UPDATE")
        )
        batches: list[BatchDone] = []
        job = rotated.reseal_job()
        first = await reseal(engine, job, batch_size=5, progress=batches.append)
        await transaction.rollback()
        await held.close()
        assert (first.resealed, first.left) == (22, 1)
        assert [batch.resealed for batch in batches] == [5, 5, 5, 5, 2]
        assert await kid_counts(engine, CONTACT) == {"k1": 1, "k2": 22}
        async with engine.connect() as connection:
            rows = [dict(r._mapping) for r in await connection.execute(select(collection_cases))]
        by_loan = {row["loan_id"]: row for row in rows}
        assert CONTACT.open(rotated.storage, by_loan["L-010"]) == b"c"  # k1 still opens

        second = await reseal(engine, job, batch_size=5)
        assert (second.resealed, second.left) == (1, 0)
        again = await reseal(engine, job, batch_size=5)
        assert (again.resealed, again.batches, again.left) == (0, 0, 0)

        only_new = KeyRing.parse(K2)  # k1 can leave the ring now
        async with engine.connect() as connection:
            rows = [dict(r._mapping) for r in await connection.execute(select(collection_cases))]
        opened = sorted(CONTACT.open(only_new, row) for row in rows)
        assert opened == [b"c"] * 21 + [b"legacy"] * 2

        # The operator's command: collections reseal agency_gateway, from the service's settings.
        env = {
            "AGENCY_GATEWAY_DATABASE_URL": url,
            "AGENCY_GATEWAY_DATA_KEYS": K2,
            "AGENCY_GATEWAY_TRANSIT_KEYS": TRANSIT_SPEC,
            "AGENCY_GATEWAY_PROFILE": "local",
        }
        status = await collections("reseal", "agency_gateway", "--status", env=env)
        assert status.code == 0, status.err
        assert "collection_cases.contact_sealed: k2: 23\n" in status.out
        too_early = env | {"AGENCY_GATEWAY_DATA_KEYS": KeyRing.generate_spec("k3")}  # k2 gone
        stopped = await collections("reseal", "agency_gateway", env=too_early)
        assert stopped.code == 2
        assert "(lender_id=lender-a, loan_id=L-000): unknown key id 'k2'" in stopped.err
        assert await kid_counts(engine, CONTACT) == {"k2": 23}  # the failed batch rolled back
    finally:
        await engine.dispose()


async def migrate(url: str, revision: str) -> None:
    config = alembic_config(MIGRATIONS, url)
    engine = create_async_engine(url)

    def run(connection: Connection) -> None:
        config.attributes["connection"] = connection
        command.upgrade(config, revision)

    try:
        async with engine.begin() as connection:
            await connection.run_sync(run)
    finally:
        await engine.dispose()


async def test_activity_texts_leave_the_reports_json_and_reseal_seals_them(
    infrastructure: TestInfrastructure,
) -> None:
    database = f"texts_{uuid4().hex[:10]}"
    await infrastructure.create_database(database)
    url = infrastructure.postgres_url(database)
    await migrate(url, "0012")
    engine = create_engine(url, pool_size=2)
    note = "借款人说周五还款\nafter 6 pm"
    try:
        async with engine.begin() as connection:
            for n, body in enumerate(({"type": "note", "text": note}, {"type": "call"})):
                await connection.execute(
                    text(
                        "INSERT INTO activities VALUES ('ag', :id, 'A-1', CAST(:body AS jsonb), "
                        "now())"
                    ),
                    {"id": f"ACT-{n}", "body": json.dumps(body)},
                )
        await migrate(url, "head")
        async with engine.connect() as connection:
            rows = {
                row.activity_id: dict(row._mapping)
                for row in await connection.execute(select(activities))
            }
        assert rows["ACT-0"]["body"] == {"type": "note"}
        assert rows["ACT-0"]["text_sealed"]["kid"] == UNSEALED
        assert rows["ACT-1"]["text_sealed"] is None
        assert await kid_counts(engine, TEXT) == {UNSEALED: 1}

        texts = ActivityTexts(KeyRing.parse(K1))
        done = await reseal(engine, texts.reseal_job())
        assert (done.resealed, done.left) == (1, 0)
        assert await kid_counts(engine, TEXT) == {"k1": 1}
        async with engine.connect() as connection:
            row = await connection.execute(select(activities).where(TEXT.column.is_not(None)))
            stored = dict(row.one()._mapping)
        assert note not in str(stored)
        assert ActivityTexts(KeyRing.parse(K1)).open(stored) == note
        erased = {**stored, TEXT.name: None}  # erasing is a null: nothing else holds the text
        assert texts.open(erased) is None
    finally:
        await engine.dispose()
