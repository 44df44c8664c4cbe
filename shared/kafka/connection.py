"""How every Kafka client of the platform reaches the brokers: bootstrap servers, TLS and SASL.

Producers, consumers and admin clients all take their connection options from
:meth:`KafkaConnection.client_options`, so a security setting applies to every client at once.
A bare bootstrap string (tests, the dev stack) means plaintext.
"""

import ssl
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path
from typing import Any

from aiokafka.helpers import create_ssl_context


class SecurityProtocol(StrEnum):
    PLAINTEXT = "PLAINTEXT"
    SSL = "SSL"
    SASL_PLAINTEXT = "SASL_PLAINTEXT"
    SASL_SSL = "SASL_SSL"

    @property
    def uses_tls(self) -> bool:
        return self in (SecurityProtocol.SSL, SecurityProtocol.SASL_SSL)

    @property
    def uses_sasl(self) -> bool:
        return self in (SecurityProtocol.SASL_PLAINTEXT, SecurityProtocol.SASL_SSL)


class SaslMechanism(StrEnum):
    PLAIN = "PLAIN"
    SCRAM_SHA_256 = "SCRAM-SHA-256"
    SCRAM_SHA_512 = "SCRAM-SHA-512"


@dataclass(frozen=True)
class KafkaConnection:
    """Where the brokers are and how to authenticate to them (checked by the settings)."""

    bootstrap_servers: str
    security_protocol: SecurityProtocol = SecurityProtocol.PLAINTEXT
    sasl_mechanism: SaslMechanism = SaslMechanism.SCRAM_SHA_512
    sasl_username: str = ""
    sasl_password: str = field(default="", repr=False)
    ssl_cafile: Path | None = None  # None: the system's trusted CAs
    ssl_certfile: Path | None = None  # with ssl_keyfile: mutual TLS
    ssl_keyfile: Path | None = None
    ssl_check_hostname: bool = True

    def ssl_context(self) -> ssl.SSLContext:
        """The TLS context the clients wrap their sockets in (certificate always verified)."""
        context: ssl.SSLContext = create_ssl_context(
            cafile=self.ssl_cafile, certfile=self.ssl_certfile, keyfile=self.ssl_keyfile
        )
        context.check_hostname = self.ssl_check_hostname
        return context

    def client_options(self) -> dict[str, Any]:
        """Keyword arguments for ``AIOKafkaProducer``, ``AIOKafkaConsumer`` and the admin."""
        options: dict[str, Any] = {
            "bootstrap_servers": self.bootstrap_servers,
            "security_protocol": self.security_protocol.value,
        }
        if self.security_protocol.uses_tls:
            options["ssl_context"] = self.ssl_context()
        if self.security_protocol.uses_sasl:
            options["sasl_mechanism"] = self.sasl_mechanism.value
            options["sasl_plain_username"] = self.sasl_username
            options["sasl_plain_password"] = self.sasl_password
        return options


KafkaTarget = KafkaConnection | str
"""A connection, or bootstrap servers alone (plaintext)."""


def client_options(kafka: KafkaTarget) -> dict[str, Any]:
    """The connection keyword arguments of any aiokafka client."""
    connection = KafkaConnection(kafka) if isinstance(kafka, str) else kafka
    return connection.client_options()
