"""The PostgreSQL TLS settings every service has."""

from pathlib import Path
from typing import Self

from pydantic import Field, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from shared.certificates import check_files, check_pair
from shared.db.tls import PostgresTls, SslMode


class DatabaseTlsSettings(BaseSettings):
    """TLS to PostgreSQL; an inconsistent combination is refused, naming the setting."""

    model_config = SettingsConfigDict(extra="ignore")

    database_sslmode: SslMode = Field(
        default=SslMode.PREFER,
        description="TLS to PostgreSQL, as libpq's sslmode: disable, prefer, require, "
        "verify-ca, verify-full.",
    )
    database_ssl_rootcert: Path | None = Field(
        default=None,
        description="CA certificate(s) the server's certificate must chain to (verify-ca, "
        "verify-full; with require it makes require check the CA, as libpq does). Unset: the "
        "system's trusted CAs.",
    )
    database_ssl_certfile: Path | None = Field(
        default=None, description="Client certificate (with database_ssl_keyfile)."
    )
    database_ssl_keyfile: Path | None = Field(
        default=None, description="Private key of the client certificate."
    )

    @model_validator(mode="after")
    def _database_tls_is_consistent(self) -> Self:
        mode = self.database_sslmode
        files = ("database_ssl_rootcert", "database_ssl_certfile", "database_ssl_keyfile")
        allowed = mode not in (SslMode.DISABLE, SslMode.PREFER)
        why = f"used only with require or verify-*, not {mode}"
        check_files(self, files, allowed=allowed, why=why)
        check_pair(self, "database_ssl_certfile", "database_ssl_keyfile")
        return self

    def postgres_tls(self) -> PostgresTls:
        """What every PostgreSQL connection of this service uses."""
        return PostgresTls(
            mode=self.database_sslmode,
            rootcert=self.database_ssl_rootcert,
            certfile=self.database_ssl_certfile,
            keyfile=self.database_ssl_keyfile,
        )
