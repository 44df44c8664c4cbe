"""The retention job deletes outbox rows given up (or marked published by an earlier relay),
inbox and Idempotency-Key rows after their window, and never an outbox row to publish or
parked, nor a recent one; in every service, each of its deletes finds its rows through an
index."""

import importlib
import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import uuid4

import pytest
from alembic import command
from pydantic import ValidationError
from sqlalchemy import Connection, text
from sqlalchemy.ext.asyncio import create_async_engine

from deploy.devstack.platform import (
    SERVICES,
    PlatformSecrets,
    Service,
    build_app,
    service_options,
)
from services.agency_gateway.wiring import MIGRATIONS as GATEWAY_MIGRATIONS
from services.intake.settings import IntakeSettings
from services.intake.wiring import MIGRATIONS
from shared.db.migrations import alembic_config, upgrade_to_head
from shared.db.retention import candidates
from shared.runtime import ServiceRuntime
from tests.infrastructure import TestInfrastructure

NOW = datetime.now(UTC)
OLD = NOW - timedelta(days=30)
RECENT = NOW - timedelta(hours=1)


async def test_old_rows_go_and_recent_unpublished_and_parked_ones_stay(
    infrastructure: TestInfrastructure,
) -> None:
    database = f"retention_{uuid4().hex[:10]}"
    await infrastructure.create_database(database)
    url = infrastructure.postgres_url(database)
    intake = next(service for service in SERVICES if service.name == "intake")
    options = service_options(
        intake, url, infrastructure.kafka_bootstrap, PlatformSecrets.generate()
    )
    runtime: ServiceRuntime = build_app(
        "intake", options | {"retention_batch_size": 2}
    ).state.runtime
    await upgrade_to_head(MIGRATIONS, url)
    try:
        async with runtime.engine.begin() as connection:
            for name, published, parked in [
                ("old-published", OLD, None),  # marked by a relay of an earlier version
                ("old-published-2", OLD, None),
                ("old-given-up", OLD, OLD),  # parked, then given up by an operator
                ("recent-published", RECENT, None),
                ("recent-given-up", RECENT, OLD),
                ("old-unpublished", None, None),
                ("old-parked", None, OLD),
            ]:
                await connection.execute(
                    text(
                        "INSERT INTO outbox (event_id, topic, message_key, payload, created_at,"
                        " published_at, parked_at) VALUES (:id, 't', :key, '\\x00', :old,"
                        " :published, :parked)"
                    ),
                    {
                        "id": uuid4(),
                        "key": name,
                        "old": OLD,
                        "published": published,
                        "parked": parked,
                    },
                )
            for group, received in [("old", OLD), ("recent", RECENT)]:
                await connection.execute(
                    text(
                        "INSERT INTO inbox (consumer_group, event_id, received_at)"
                        " VALUES (:g, :id, :at)"
                    ),
                    {"g": group, "id": uuid4(), "at": received},
                )
            for key, created in [("old", OLD), ("recent", RECENT)]:
                await connection.execute(
                    text(
                        "INSERT INTO idempotency_keys (lender_id, key, fingerprint, status_code,"
                        " response, created_at) VALUES ('lender', :key, '\\x00', 202, '{}', :at)"
                    ),
                    {"key": key, "at": created},
                )

        deleted = await runtime.retention.run_once()

        assert deleted == {"outbox": 3, "inbox": 1, "idempotency_keys": 1}
        async with runtime.engine.connect() as connection:
            outbox = (await connection.execute(text("SELECT message_key FROM outbox"))).scalars()
            inbox = (await connection.execute(text("SELECT consumer_group FROM inbox"))).scalars()
            keys = (await connection.execute(text("SELECT key FROM idempotency_keys"))).scalars()
            assert sorted(outbox) == [
                "old-parked",
                "old-unpublished",
                "recent-given-up",
                "recent-published",
            ]
            assert list(inbox) == ["recent"]
            assert list(keys) == ["recent"]
    finally:
        await runtime.engine.dispose()


async def test_settled_webhook_deliveries_go_after_their_window_and_pending_ones_stay(
    infrastructure: TestInfrastructure,
) -> None:
    database = f"retention_{uuid4().hex[:10]}"
    await infrastructure.create_database(database)
    url = infrastructure.postgres_url(database)
    gateway = next(service for service in SERVICES if service.name == "agency_gateway")
    options = service_options(
        gateway, url, infrastructure.kafka_bootstrap, PlatformSecrets.generate()
    )
    runtime: ServiceRuntime = build_app(
        "agency_gateway", options | {"webhook_log_retention_days": 7}
    ).state.runtime
    await upgrade_to_head(GATEWAY_MIGRATIONS, url)
    old = NOW - timedelta(days=8)
    try:
        async with runtime.engine.begin() as connection:
            for delivery_id, status, created in [
                ("old-delivered", "delivered", old),
                ("old-failed", "failed", old),
                ("old-pending", "pending", old),
                ("recent-delivered", "delivered", RECENT),
            ]:
                await connection.execute(
                    text(
                        "INSERT INTO webhook_deliveries (delivery_id, agency_id, event,"
                        " assignment_id, body, status, attempts, round_start, created_at)"
                        " VALUES (:id, 'agency', 'assignment.placed', 'A-1', '{}', :status, 1,"
                        " 0, :at)"
                    ),
                    {"id": delivery_id, "status": status, "at": created},
                )
                await connection.execute(
                    text(
                        "INSERT INTO webhook_attempts (delivery_id, attempt, at, status_code)"
                        " VALUES (:id, 1, :at, 204)"
                    ),
                    {"id": delivery_id, "at": created},
                )

        deleted = await runtime.retention.run_once()

        assert (deleted["webhook_deliveries"], deleted["webhook_attempts"]) == (2, 3)
        async with runtime.engine.connect() as connection:
            left = (
                await connection.execute(text("SELECT delivery_id FROM webhook_deliveries"))
            ).scalars()
            assert sorted(left) == ["old-pending", "recent-delivered"]
    finally:
        await runtime.engine.dispose()


async def test_the_migration_to_deleting_relays_drops_marked_rows_and_their_indexes(
    infrastructure: TestInfrastructure,
) -> None:
    """Kit migration v7 (intake's 0008): the rows a marking relay published go, the rows to
    publish, parked and given up stay; the indexes of published rows give way to
    ``ix_outbox_given_up``; the downgrade puts them back."""
    database = f"outbox_v7_{uuid4().hex[:10]}"
    await infrastructure.create_database(database)
    url = infrastructure.postgres_url(database)
    config = alembic_config(MIGRATIONS, url)
    engine = create_async_engine(url)

    def to(revision: str, down: bool = False) -> Any:
        def step(connection: Connection) -> None:
            config.attributes["connection"] = connection
            (command.downgrade if down else command.upgrade)(config, revision)

        return step

    async def indexes() -> set[str]:
        async with engine.connect() as connection:
            found = await connection.execute(
                text("SELECT indexname FROM pg_indexes WHERE tablename = 'outbox'")
            )
            return set(found.scalars())

    try:
        async with engine.begin() as connection:
            await connection.run_sync(to("0007"))
            for name, published, parked in [
                ("published", RECENT, None),
                ("to-publish", None, None),
                ("parked", None, OLD),
                ("given-up", RECENT, OLD),
            ]:
                await connection.execute(
                    text(
                        "INSERT INTO outbox (event_id, topic, message_key, payload, published_at,"
                        " parked_at) VALUES (:id, 't', :key, '\\x00', :published, :parked)"
                    ),
                    {"id": uuid4(), "key": name, "published": published, "parked": parked},
                )
        assert {"ix_outbox_unpublished", "ix_outbox_published_at"} <= await indexes()
        async with engine.begin() as connection:
            await connection.run_sync(to("0008"))
            left = await connection.execute(text("SELECT message_key FROM outbox"))
            assert sorted(left.scalars()) == ["given-up", "parked", "to-publish"]
        assert await indexes() == {
            "pk_outbox",
            "uq_outbox_event_id",
            "ix_outbox_parked",
            "ix_outbox_given_up",
        }
        async with engine.begin() as connection:
            await connection.run_sync(to("0007", down=True))
        assert {"ix_outbox_unpublished", "ix_outbox_published_at"} <= await indexes()
        assert "ix_outbox_given_up" not in await indexes()
    finally:
        await engine.dispose()


def test_idempotency_keys_are_kept_at_least_a_day() -> None:
    with pytest.raises(ValidationError):
        IntakeSettings(idempotency_retention_hours=23)


@pytest.mark.parametrize("service", SERVICES, ids=lambda service: service.name)
async def test_every_retention_delete_walks_an_index(
    infrastructure: TestInfrastructure, service: Service
) -> None:
    """With sequential scans priced out, a rule whose column has no index still plans one (or a
    full index scan filtering every row): the plan must bound its condition by an index."""
    database = f"retention_plan_{uuid4().hex[:10]}"
    await infrastructure.create_database(database)
    url = infrastructure.postgres_url(database)
    options = service_options(
        service, url, infrastructure.kafka_bootstrap, PlatformSecrets.generate()
    )
    runtime: ServiceRuntime = build_app(service.name, options).state.runtime
    wiring = importlib.import_module(f"services.{service.name}.wiring")
    await upgrade_to_head(wiring.MIGRATIONS, url)
    try:
        async with runtime.engine.begin() as connection:
            await connection.execute(text("SET LOCAL enable_seqscan = off"))
            for rule in runtime.retention.rules:
                indexes = set(
                    (
                        await connection.execute(
                            text("SELECT indexname FROM pg_indexes WHERE tablename = :table"),
                            {"table": rule.table},
                        )
                    ).scalars()
                )
                plan = await connection.scalar(
                    text(f"EXPLAIN (FORMAT JSON) {candidates(rule)}"),
                    {"cutoff": NOW, "batch": 1000},
                )
                plan_text = plan if isinstance(plan, str) else json.dumps(plan)
                bounded = [
                    node
                    for node in _nodes(json.loads(plan_text)[0]["Plan"])
                    if "Index Cond" in node and node.get("Index Name") in indexes
                ]
                assert bounded, f"{service.name}: {rule.name} scans {rule.table}: {plan_text}"
    finally:
        await runtime.engine.dispose()


def _nodes(plan: dict[str, Any]) -> Iterator[dict[str, Any]]:
    yield plan
    for child in plan.get("Plans", []):
        yield from _nodes(child)
