"""TLS for real: a PostgreSQL that refuses connections without TLS, reached with verify-full by
the engine, the migrations and the revocation listener; a Kafka broker's SASL_SSL listener
reached by the platform's own producer, consumer and admin client, a wrong password refused."""

import asyncio
import ssl
from dataclasses import replace
from pathlib import Path
from uuid import uuid4

import pytest
from aiokafka import AIOKafkaConsumer
from aiokafka.errors import KafkaError
from sqlalchemy import text
from sqlalchemy.engine import make_url

from services.agency_gateway.wiring import MIGRATIONS
from shared.db.engine import create_engine
from shared.db.migrations import upgrade_to_head
from shared.kafka.admin import broker_is_reachable, ensure_topics
from shared.kafka.connection import client_options
from shared.kafka.producer import create_producer
from shared.settings import ServiceSettings
from tests.integration.secure_servers import SaslUser, sasl_ssl_broker, tls_only_postgres
from tests.support.certificates import TestAuthority

USER = SaslUser("collections", f"pw-{uuid4().hex}")


@pytest.fixture
def authority(tmp_path: Path) -> TestAuthority:
    return TestAuthority.create(tmp_path / "ca")


async def test_postgres_over_verified_tls(tmp_path: Path, authority: TestAuthority) -> None:
    async with tls_only_postgres(tmp_path, authority) as admin_url:
        url = make_url(admin_url).set(drivername="postgresql+asyncpg")
        database_url = url.render_as_string(hide_password=False)
        settings = ServiceSettings(
            database_url=database_url,
            database_sslmode="verify-full",
            database_ssl_rootcert=authority.certfile,
        )
        tls = settings.postgres_tls()
        engine = create_engine(database_url, pool_size=1, tls=tls)
        try:
            async with engine.connect() as connection:
                encrypted = await connection.scalar(
                    text("SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()")
                )
            assert encrypted is True
            await upgrade_to_head(MIGRATIONS, database_url, tls=tls)
            async with engine.connect() as connection:
                assert await connection.scalar(text("SELECT count(*) FROM collection_cases")) == 0
        finally:
            await engine.dispose()

        refused = create_engine(
            database_url,
            pool_size=1,
            tls=ServiceSettings(database_sslmode="disable").postgres_tls(),
        )
        other_ca = TestAuthority.create(tmp_path / "other-ca", name="another CA")
        untrusted = create_engine(
            database_url,
            pool_size=1,
            tls=ServiceSettings(
                database_sslmode="verify-full", database_ssl_rootcert=other_ca.certfile
            ).postgres_tls(),
        )
        try:
            with pytest.raises(Exception, match=r"no encryption|rejects connection"):
                async with refused.connect():
                    pass
            with pytest.raises(ssl.SSLCertVerificationError):
                async with untrusted.connect():
                    pass
        finally:
            await refused.dispose()
            await untrusted.dispose()


async def test_kafka_over_sasl_ssl(tmp_path: Path, authority: TestAuthority) -> None:
    async with sasl_ssl_broker(tmp_path, authority, USER) as broker:
        settings = ServiceSettings(
            kafka_bootstrap_servers=broker.secure_bootstrap,
            kafka_security_protocol="SASL_SSL",
            kafka_sasl_mechanism="SCRAM-SHA-512",
            kafka_sasl_username=USER.name,
            kafka_sasl_password=USER.password,
            kafka_ssl_cafile=authority.certfile,
        )
        kafka = settings.kafka_connection()
        topic = f"tls-{uuid4().hex[:8]}"
        assert await broker_is_reachable(kafka, within=20)
        await ensure_topics(kafka, [topic], partitions=1)

        producer = create_producer(kafka, client_id="tls-test")
        await producer.start()
        try:
            await producer.send_and_wait(topic, b"over TLS", key=b"k")
        finally:
            await producer.stop()
        consumer = AIOKafkaConsumer(
            topic, **client_options(kafka), auto_offset_reset="earliest", group_id="tls-test"
        )
        await consumer.start()
        try:
            record = await asyncio.wait_for(consumer.getone(), 30)
        finally:
            await consumer.stop()
        assert (record.key, record.value) == (b"k", b"over TLS")

        wrong = replace(kafka, sasl_password="not-the-password")
        assert not await broker_is_reachable(wrong, within=10)
        refused = create_producer(wrong, client_id="tls-test-wrong")
        with pytest.raises(KafkaError):
            await refused.start()
        await refused.stop()
