"""Kafka TLS/SASL and PostgreSQL TLS: the options every client gets, and the combinations the
settings refuse (each naming the setting)."""

import ssl
from typing import Any

import pytest
from pydantic import ValidationError

from shared.db.engine import connect_ssl
from shared.db.tls import PostgresTls, SslMode
from shared.kafka.connection import KafkaConnection, SecurityProtocol, client_options
from shared.settings import ServiceSettings
from tests.support.certificates import TestAuthority


@pytest.fixture(scope="module")
def authority(tmp_path_factory: pytest.TempPathFactory) -> TestAuthority:
    return TestAuthority.create(tmp_path_factory.mktemp("ca"))


def trusts(context: ssl.SSLContext, authority: str = "collections test CA") -> bool:
    """Whether the context trusts the CA of that common name."""
    return f"'commonName', '{authority}'" in str(context.get_ca_certs())


def test_the_defaults_are_plaintext_kafka_and_asyncpgs_prefer() -> None:
    settings = ServiceSettings()
    assert settings.kafka_connection().client_options() == {
        "bootstrap_servers": "127.0.0.1:9092",
        "security_protocol": "PLAINTEXT",
    }
    assert settings.postgres_tls().connect_ssl() == "prefer"
    assert connect_ssl(None) == {}  # no setting at all: the URL and PGSSLMODE decide


def test_bootstrap_servers_alone_mean_plaintext() -> None:
    assert client_options("kafka:9092") == {
        "bootstrap_servers": "kafka:9092",
        "security_protocol": "PLAINTEXT",
    }


def test_sasl_ssl_gives_every_client_a_verifying_context_and_credentials(
    authority: TestAuthority,
) -> None:
    settings = ServiceSettings(
        kafka_bootstrap_servers="broker:9093",
        kafka_security_protocol="SASL_SSL",
        kafka_sasl_mechanism="SCRAM-SHA-256",
        kafka_sasl_username="intake",
        kafka_sasl_password="s3cret",
        kafka_ssl_cafile=authority.certfile,
    )
    options = client_options(settings.kafka_connection())
    context = options.pop("ssl_context")
    assert options == {
        "bootstrap_servers": "broker:9093",
        "security_protocol": "SASL_SSL",
        "sasl_mechanism": "SCRAM-SHA-256",
        "sasl_plain_username": "intake",
        "sasl_plain_password": "s3cret",
    }
    assert context.verify_mode is ssl.CERT_REQUIRED
    assert context.check_hostname
    assert trusts(context)
    assert "s3cret" not in repr(settings.kafka_connection())


def test_mutual_tls_loads_the_client_certificate(authority: TestAuthority) -> None:
    client = authority.issue("kafka-client", client=True)
    connection = KafkaConnection(
        "broker:9093",
        SecurityProtocol.SSL,
        ssl_cafile=authority.certfile,
        ssl_certfile=client.certfile,
        ssl_keyfile=client.keyfile,
        ssl_check_hostname=False,
    )
    options = connection.client_options()
    assert options["security_protocol"] == "SSL"
    assert "sasl_mechanism" not in options
    assert options["ssl_context"].check_hostname is False
    with pytest.raises(ssl.SSLError):  # a key that is not the certificate's is refused
        KafkaConnection(
            "broker:9093",
            SecurityProtocol.SSL,
            ssl_certfile=client.certfile,
            ssl_keyfile=authority.issue("other", client=True).keyfile,
        ).client_options()


@pytest.mark.parametrize(
    ("mode", "rootcert", "verify", "hostname"),
    [
        ("require", False, ssl.CERT_NONE, False),
        ("require", True, ssl.CERT_REQUIRED, False),  # as libpq: a root certificate is checked
        ("verify-ca", True, ssl.CERT_REQUIRED, False),
        ("verify-full", True, ssl.CERT_REQUIRED, True),
        ("verify-full", False, ssl.CERT_REQUIRED, True),  # the system's CAs
    ],
)
def test_postgres_modes_make_the_contexts_libpq_would(
    authority: TestAuthority, mode: str, rootcert: bool, verify: ssl.VerifyMode, hostname: bool
) -> None:
    tls = PostgresTls(SslMode(mode), rootcert=authority.certfile if rootcert else None)
    context = tls.connect_ssl()
    assert isinstance(context, ssl.SSLContext)
    assert (context.verify_mode, context.check_hostname) == (verify, hostname)
    if rootcert:
        assert trusts(context)


def test_postgres_disable_and_client_certificates(authority: TestAuthority) -> None:
    assert PostgresTls(SslMode.DISABLE).connect_ssl() is False
    client = authority.issue("postgres-client", client=True)
    settings = ServiceSettings(
        database_sslmode="verify-full",
        database_ssl_rootcert=authority.certfile,
        database_ssl_certfile=client.certfile,
        database_ssl_keyfile=client.keyfile,
    )
    assert connect_ssl(settings.postgres_tls())["ssl"].verify_mode is ssl.CERT_REQUIRED


def _refused(options: dict[str, Any]) -> str:
    with pytest.raises(ValidationError) as caught:
        ServiceSettings(**options)
    return str(caught.value)


@pytest.mark.parametrize(
    ("options", "named"),
    [
        (
            {"kafka_security_protocol": "SASL_SSL", "kafka_sasl_password": "p"},
            "kafka_sasl_username",
        ),
        (
            {"kafka_security_protocol": "SASL_PLAINTEXT", "kafka_sasl_username": "u"},
            "kafka_sasl_password",
        ),
        ({"kafka_sasl_username": "u", "kafka_sasl_password": "p"}, "kafka_sasl_username"),
        ({"kafka_security_protocol": "TLS"}, "kafka_security_protocol"),
        (
            {"kafka_security_protocol": "SASL_SSL", "kafka_sasl_mechanism": "GSSAPI"},
            "kafka_sasl_mechanism",
        ),
        ({"kafka_ssl_cafile": "CA"}, "kafka_ssl_cafile"),  # PLAINTEXT: would be ignored
        (
            {"kafka_security_protocol": "SSL", "kafka_ssl_cafile": "/no/such/ca.crt"},
            "kafka_ssl_cafile",
        ),
        ({"kafka_security_protocol": "SSL", "kafka_ssl_certfile": "CA"}, "kafka_ssl_keyfile"),
        ({"database_sslmode": "allow"}, "database_sslmode"),
        ({"database_sslmode": "disable", "database_ssl_rootcert": "CA"}, "database_ssl_rootcert"),
        ({"database_sslmode": "prefer", "database_ssl_rootcert": "CA"}, "database_ssl_rootcert"),
        (
            {"database_sslmode": "verify-full", "database_ssl_rootcert": "/no/such"},
            "database_ssl_rootcert",
        ),
        ({"database_sslmode": "require", "database_ssl_keyfile": "CA"}, "database_ssl_certfile"),
    ],
)
def test_inconsistent_settings_are_refused_naming_the_setting(
    authority: TestAuthority, options: dict[str, Any], named: str
) -> None:
    resolved = {k: str(authority.certfile) if v == "CA" else v for k, v in options.items()}
    assert named in _refused(resolved)
