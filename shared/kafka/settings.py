"""The Kafka settings every service has (and the operator commands, under their own prefix)."""

from pathlib import Path
from typing import Self

from pydantic import Field, SecretStr, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from shared.certificates import check_files, check_pair
from shared.kafka.connection import KafkaConnection, SaslMechanism, SecurityProtocol


class KafkaSettings(BaseSettings):
    """Brokers, TLS and SASL; an inconsistent combination is refused, naming the setting."""

    model_config = SettingsConfigDict(extra="ignore")

    kafka_bootstrap_servers: str = "127.0.0.1:9092"
    kafka_security_protocol: SecurityProtocol = Field(
        default=SecurityProtocol.PLAINTEXT,
        description="PLAINTEXT, SSL, SASL_PLAINTEXT or SASL_SSL, for every Kafka client.",
    )
    kafka_sasl_mechanism: SaslMechanism = Field(
        default=SaslMechanism.SCRAM_SHA_512,
        description="PLAIN, SCRAM-SHA-256 or SCRAM-SHA-512 (with a SASL_* protocol).",
    )
    kafka_sasl_username: str = ""
    kafka_sasl_password: SecretStr = SecretStr("")
    kafka_ssl_cafile: Path | None = Field(
        default=None,
        description="CA certificate(s) the brokers' certificates must chain to (SSL, SASL_SSL). "
        "Unset: the system's trusted CAs.",
    )
    kafka_ssl_certfile: Path | None = Field(
        default=None, description="Client certificate for mutual TLS (with kafka_ssl_keyfile)."
    )
    kafka_ssl_keyfile: Path | None = Field(
        default=None, description="Private key of the client certificate."
    )
    kafka_ssl_check_hostname: bool = Field(
        default=True, description="Check that a broker's certificate names its host."
    )

    @model_validator(mode="after")
    def _kafka_security_is_consistent(self) -> Self:
        protocol = self.kafka_security_protocol
        password = self.kafka_sasl_password.get_secret_value()
        if protocol.uses_sasl:
            if not self.kafka_sasl_username:
                raise ValueError(f"kafka_sasl_username is required with {protocol}")
            if not password:
                raise ValueError(f"kafka_sasl_password is required with {protocol}")
        elif self.kafka_sasl_username or password:
            raise ValueError(
                f"kafka_sasl_username/kafka_sasl_password need a SASL_* protocol, not {protocol}"
            )
        files = ("kafka_ssl_cafile", "kafka_ssl_certfile", "kafka_ssl_keyfile")
        check_files(self, files, allowed=protocol.uses_tls, why=f"unused with {protocol}")
        check_pair(self, "kafka_ssl_certfile", "kafka_ssl_keyfile")
        return self

    def kafka_connection(self) -> KafkaConnection:
        """What every Kafka client of this service connects with."""
        return KafkaConnection(
            bootstrap_servers=self.kafka_bootstrap_servers,
            security_protocol=self.kafka_security_protocol,
            sasl_mechanism=self.kafka_sasl_mechanism,
            sasl_username=self.kafka_sasl_username,
            sasl_password=self.kafka_sasl_password.get_secret_value(),
            ssl_cafile=self.kafka_ssl_cafile,
            ssl_certfile=self.kafka_ssl_certfile,
            ssl_keyfile=self.kafka_ssl_keyfile,
            ssl_check_hostname=self.kafka_ssl_check_hostname,
        )
