"""``collections`` on the running platform (real Kafka and PostgreSQL), as an operator runs it:
agencies through the gateway's operator API, parked outbox rows listed and released (and then
published), reseal of every service that seals (rows readable under the new key alone), and
the audit log verified against a saved checkpoint (a tampered one refused). Keys, dead letters,
migrate and verify-bundle: test_credential_registry.py, test_consumer_runner.py,
test_deploy_migrate.py and compliance/test_evidence.py."""

import asyncio
import base64
import re
import socket
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from uuid import uuid4

import orjson
import uvicorn
from aiokafka import AIOKafkaConsumer
from fastapi import FastAPI
from pydantic import SecretStr
from sqlalchemy import func, select

from deploy.devstack.platform import SERVICES, service_environment
from services.intake.adapters.tables import data_answers, disputes
from services.intake.adapters.tables import loans as intake_loans
from services.intake.application.sealing import Sealing
from services.notifier.adapters.contact_details import CONTACT as NOTIFIER_CONTACT
from services.notifier.adapters.tables import loans as notifier_loans
from shared.auth import Role
from shared.crypto import KeyRing, Pseudonymizer, SealedValue
from shared.db.engine import create_engine
from shared.db.kit_tables import outbox
from shared.kafka.admin import ensure_topics
from tests.harness import RunningPlatform, eventually
from tests.infrastructure import TestInfrastructure
from tests.support.factories import new_loan_id, report
from tests.support.operator_cli import collections

BY_NAME = {service.name: service for service in SERVICES}


@asynccontextmanager
async def served(app: FastAPI) -> AsyncIterator[str]:
    """A running app (its lifespan already started by the harness) on a real port."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    port = listener.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(app, lifespan="off", log_level="warning"))
    task = asyncio.create_task(server.serve(sockets=[listener]))
    try:
        await eventually(lambda: asyncio.sleep(0, server.started), within=10, interval=0.05)
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        await task
        listener.close()


async def test_agencies_put_list_and_show_through_the_operator_api(
    platform: RunningPlatform,
) -> None:
    operator = await platform.issue(Role.OPERATOR, f"ops-{uuid4().hex[:6]}")
    agency = f"agency-{uuid4().hex[:6]}"
    async with served(platform.apps["agency_gateway"]) as url:
        env = {"COLLECTIONS_GATEWAY_URL": url, "COLLECTIONS_API_KEY": operator.api_key}
        put = await collections(
            "agencies", "put", agency, "--name", "East Collections", "--jurisdiction", "CN",
            "--region", "CN-ZJ", "--capacity", "20", "--share", "2", "--phone", "+864009876543",
            "--json", env=env,
        )  # fmt: skip
        assert put.json()["agency_id"] == agency
        shown = (await collections("agencies", "show", agency, "--json", env=env)).json()
        assert (shown["name"], shown["regions"], shown["active"]) == (
            "East Collections",
            ["CN-ZJ"],
            True,
        )
        await collections(
            "agencies", "put", agency, "--name", "East Collections", "--jurisdiction", "CN",
            "--capacity", "20", "--share", "2", "--inactive", env=env,
        )  # fmt: skip
        listed = (await collections("agencies", "list", "--json", env=env)).json()
        assert {a["agency_id"]: a["active"] for a in listed}[agency] is False
        table = await collections("agencies", "list", env=env)
        assert agency in table.out
        unknown = await collections("agencies", "show", "agency-nobody", env=env)
        assert unknown.code == 1
        assert "404" in unknown.err
        lender = env | {"COLLECTIONS_API_KEY": platform.credentials.lender["api_key"]}
        refused = await collections("agencies", "list", env=lender)
        assert refused.code == 1
        assert "403" in refused.err


async def test_a_parked_outbox_row_is_listed_then_released_and_published(
    platform: RunningPlatform, infrastructure: TestInfrastructure
) -> None:
    topic = f"{platform.namespace}operator-cli.{uuid4().hex[:6]}"
    await ensure_topics(platform.keys.kafka, [topic], partitions=1)
    key = f"loan-{uuid4().hex[:6]}"
    url = platform.database_urls["intake"]
    engine = create_engine(url, pool_size=1)
    try:
        async with engine.begin() as connection:
            parked_id = await connection.scalar(
                outbox.insert()
                .values(
                    event_id=uuid4(),
                    topic=topic,
                    message_key=key,
                    payload=b"first",
                    parked_at=datetime.now(UTC),
                    park_reason="MessageSizeTooLargeError: the topic's limit was too low",
                )
                .returning(outbox.c.id)
            )
            behind_id = await connection.scalar(
                outbox.insert()
                .values(event_id=uuid4(), topic=topic, message_key=key, payload=b"second")
                .returning(outbox.c.id)
            )
        env = {"INTAKE_DATABASE_URL": url}
        listed = (await collections("outbox", "parked", "intake", "--json", env=env)).json()
        (row,) = [row for row in listed if row["id"] == parked_id]
        assert (row["topic"], row["message_key"], row["bytes"], row["held_back"]) == (
            topic,
            key,
            5,
            1,
        )
        assert "MessageSizeTooLargeError" in row["reason"]
        table = await collections("outbox", "parked", "intake", env=env)
        assert str(parked_id) in table.out

        released = await collections("outbox", "release", "intake", str(parked_id), env=env)
        assert released.code == 0, released.err
        assert f"released 1 [{parked_id}]" in released.out

        async def both_published() -> bool:  # the relay deletes the rows Kafka has
            async with engine.connect() as connection:
                query = select(func.count()).where(outbox.c.id.in_([parked_id, behind_id]))
                return await connection.scalar(query) == 0

        await eventually(both_published, within=20)
        again = await collections("outbox", "release", "intake", str(parked_id), env=env)
        assert again.code == 1  # no longer parked
        assert "not parked" in again.err
    finally:
        await engine.dispose()
    consumer = AIOKafkaConsumer(
        topic, bootstrap_servers=infrastructure.kafka_bootstrap, auto_offset_reset="earliest"
    )
    await consumer.start()
    try:
        batches = await consumer.getmany(timeout_ms=10_000, max_records=2)
        values = [record.value for records in batches.values() for record in records]
    finally:
        await consumer.stop()
    assert values == [b"first", b"second"]  # in order: the parked one first


async def _copy_rows(source: str, target: str, table: Any, where: Any) -> list[dict[str, Any]]:
    """Rows a running service wrote, copied into another database of the same schema."""
    engines = create_engine(source, pool_size=1), create_engine(target, pool_size=1)
    try:
        async with engines[0].connect() as connection:
            rows = [dict(r._mapping) for r in await connection.execute(select(table).where(where))]
        async with engines[1].begin() as connection:
            await connection.execute(table.insert(), rows)
        return rows
    finally:
        for engine in engines:
            await engine.dispose()


async def _private_database(
    platform: RunningPlatform, infrastructure: TestInfrastructure, name: str, new_key: str
) -> tuple[str, dict[str, str]]:
    """A fresh database of the service migrated by ``collections migrate``, and the service's
    environment with ``new_key`` first in its data key ring."""
    service = BY_NAME[name]
    database = f"reseal_{name}_{uuid4().hex[:8]}"
    await infrastructure.create_database(database)
    url = infrastructure.postgres_url(database)
    env = service_environment(
        service, url, infrastructure.kafka_bootstrap, platform.secrets, platform.namespace
    )
    env[f"{service.env_prefix}DATA_KEYS"] = f"{new_key},{platform.secrets.storage_keys[name]}"
    migrated = await collections("migrate", name, env=env)
    assert migrated.code == 0, migrated.err
    return url, env


async def _reseal(name: str, env: dict[str, str], kid: str) -> None:
    done = await collections("reseal", name, "--batch-size", "1", "--json", env=env)
    assert done.code == 0, done.err
    assert re.search(r"loans\.contact_sealed .* (\d+)/\1 ", done.err), done.err  # its bar
    assert all(row["left"] == 0 and row["under"] == kid for row in done.json())
    status = (await collections("reseal", name, "--status", "--json", env=env)).json()
    for row in status:
        assert set(row["values_per_key_id"]) <= {kid}, row


async def _reported_loan(platform: RunningPlatform) -> str:
    loan_id = new_loan_id()
    posted = await platform.clients["intake"].post(
        "/v1/overdue-loans", json=report(loan_id), headers=platform.as_lender()
    )
    assert posted.status_code == 202, posted.text
    return loan_id


async def test_reseal_intake_moves_contacts_disputes_and_answers_to_the_new_key(
    platform: RunningPlatform, infrastructure: TestInfrastructure
) -> None:
    loan_id = await _reported_loan(platform)
    new_key = KeyRing.generate_spec("k2")
    url, env = await _private_database(platform, infrastructure, "intake", new_key)
    old = Sealing(
        KeyRing.parse(platform.secrets.storage_keys["intake"]),
        KeyRing.parse(platform.secrets.transit_keys),
        Pseudonymizer.from_secret(SecretStr(platform.secrets.pseudonym_key)),
    )
    (loan,) = await _copy_rows(
        platform.database_urls["intake"], url, intake_loans, intake_loans.c.loan_id == loan_id
    )
    lender, dispute_id, request_id = loan["lender_id"], f"D-{uuid4().hex[:6]}", uuid4().hex
    engine = create_engine(url, pool_size=1)
    try:
        async with engine.begin() as connection:
            await connection.execute(
                disputes.insert().values(
                    lender_id=lender,
                    dispute_id=dispute_id,
                    loan_id=loan_id,
                    source="borrower",
                    reason="not_mine",
                    status="upheld",
                    hold_id=f"dispute:{dispute_id}",
                    opened_at=datetime.now(UTC),
                    resolved_at=datetime.now(UTC),
                    details_sealed=old.seal_text(
                        "我没有借", f"{lender}/{dispute_id}/details"
                    ).model_dump(),
                    note_sealed=old.seal_text(
                        "refunded", f"{lender}/{dispute_id}/note"
                    ).model_dump(),
                )
            )
            await connection.execute(
                data_answers.insert().values(
                    request_id=request_id,
                    service="notifier",
                    answered_at=datetime.now(UTC),
                    answer_sealed=old.seal_text(
                        '{"held": true}', f"data-answer/{request_id}/notifier"
                    ).model_dump(),
                )
            )
        await _reseal("intake", env, "k2")
        new = Sealing(KeyRing.parse(new_key), old.transit, old.pseudonyms)  # k1 gone
        async with engine.connect() as connection:
            stored = (await connection.execute(select(intake_loans))).one()._mapping
            dispute = (await connection.execute(select(disputes))).one()._mapping
            answer = (await connection.execute(select(data_answers))).one()._mapping
    finally:
        await engine.dispose()
    contact = new.open_contact(stored["borrower_ref"], SealedValue(**stored["contact_sealed"]))
    assert contact.name == "张三"
    details = SealedValue(**dispute["details_sealed"])
    assert new.open_text(details, f"{lender}/{dispute_id}/details") == "我没有借"
    note = SealedValue(**dispute["note_sealed"])
    assert new.open_text(note, f"{lender}/{dispute_id}/note") == "refunded"
    sealed_answer = SealedValue(**answer["answer_sealed"])
    assert new.open_text(sealed_answer, f"data-answer/{request_id}/notifier") == '{"held": true}'


async def test_reseal_notifier_moves_contacts_to_the_new_key(
    platform: RunningPlatform, infrastructure: TestInfrastructure
) -> None:
    loan_id = await _reported_loan(platform)
    source = platform.database_urls["notifier"]
    source_engine = create_engine(source, pool_size=1)

    async def stored() -> bool:
        async with source_engine.connect() as connection:
            query = select(notifier_loans.c.loan_id).where(notifier_loans.c.loan_id == loan_id)
            return (await connection.execute(query)).first() is not None

    try:
        await eventually(stored, within=30)
    finally:
        await source_engine.dispose()
    new_key = KeyRing.generate_spec("k2")
    url, env = await _private_database(platform, infrastructure, "notifier", new_key)
    (before,) = await _copy_rows(source, url, notifier_loans, notifier_loans.c.loan_id == loan_id)
    assert before["contact_sealed"]["kid"] == "k1"
    await _reseal("notifier", env, "k2")
    engine = create_engine(url, pool_size=1)
    try:
        async with engine.connect() as connection:
            after = dict((await connection.execute(select(notifier_loans))).one()._mapping)
    finally:
        await engine.dispose()
    assert after["contact_sealed"]["kid"] == "k2"
    opened = orjson.loads(NOTIFIER_CONTACT.open(KeyRing.parse(new_key), after))
    assert opened["phone"] == "+8613800138000"


async def test_audit_verify_against_a_saved_checkpoint_and_a_tampered_one(
    platform: RunningPlatform, tmp_path: Path
) -> None:
    await _reported_loan(platform)
    auditor = platform.every_lender_auditor.api_key
    key = await platform.clients["compliance"].get(
        "/v1/audit/public-key", headers=platform.as_auditor_of_every_lender()
    )
    vkey = key.json()["verifier_key"]

    async def non_empty() -> bool:
        response = await platform.clients["compliance"].get(
            "/v1/audit/checkpoint", headers=platform.as_auditor_of_every_lender()
        )
        return response.status_code == 200 and response.json()["tree_size"] > 0

    await eventually(non_empty, within=30)
    saved = tmp_path / "checkpoint.note"
    async with served(platform.apps["compliance"]) as url:
        env = {"COLLECTIONS_COMPLIANCE_URL": url, "COLLECTIONS_API_KEY": auditor}
        first = await collections(
            "audit", "verify", "--public-key", vkey, "--save", str(saved), "--full", env=env
        )
        assert first.code == 0, first.err
        assert first.out.startswith("OK: tree of ")
        assert "rebuilt from every entry" in first.out
        assert re.search(r"verifying the audit log .* (\d+)/\1 ", first.err), first.err
        await _reported_loan(platform)  # the log grows
        key_file = tmp_path / "key.txt"
        key_file.write_text(f"{vkey}\n")
        second = await collections(
            "audit", "verify", "--public-key", str(key_file), "--checkpoint", str(saved),
            "--samples", "3", env=env,
        )  # fmt: skip
        assert second.code == 0, second.err
        assert "consistent with the saved checkpoint" in second.out

        origin, size, root, *rest = saved.read_text().split("\n")
        forged_root = base64.b64encode(bytes(32)).decode()  # another tree, same signature
        assert forged_root != root
        tampered = tmp_path / "tampered.note"
        tampered.write_text("\n".join([origin, size, forged_root, *rest]))
        refused = await collections(
            "audit", "verify", "--public-key", vkey, "--checkpoint", str(tampered), env=env
        )
        assert refused.code == 1
        assert refused.err.startswith("FAILED: the saved checkpoint")
