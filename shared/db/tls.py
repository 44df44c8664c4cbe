"""TLS to PostgreSQL with libpq's ``sslmode`` meanings, for every connection a service makes.

The engine (:func:`shared.db.engine.create_engine`), migrations and the revocation listener
pass :meth:`PostgresTls.connect_ssl` as asyncpg's ``ssl`` argument.
"""

import ssl
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path


class SslMode(StrEnum):
    """As libpq: ``prefer`` tries TLS without checking the server, ``require`` insists on it
    (and checks the CA when a root certificate is given), ``verify-ca`` checks the server's
    certificate, ``verify-full`` its host name too."""

    DISABLE = "disable"
    PREFER = "prefer"
    REQUIRE = "require"
    VERIFY_CA = "verify-ca"
    VERIFY_FULL = "verify-full"

    @property
    def verifies(self) -> bool:
        return self in (SslMode.VERIFY_CA, SslMode.VERIFY_FULL)


@dataclass(frozen=True)
class PostgresTls:
    """Certificate files are only for ``require`` and the ``verify-*`` modes (the settings
    refuse them with the others)."""

    mode: SslMode = SslMode.PREFER
    rootcert: Path | None = None  # None with verify-*: the system's trusted CAs
    certfile: Path | None = None  # with keyfile: a client certificate
    keyfile: Path | None = None

    def connect_ssl(self) -> ssl.SSLContext | bool | str:
        """asyncpg's ``ssl`` argument: False, ``"prefer"``, or a context for the other modes."""
        if self.mode is SslMode.DISABLE:
            return False
        if self.mode is SslMode.PREFER:
            return "prefer"
        return self.ssl_context()

    def ssl_context(self) -> ssl.SSLContext:
        checks_ca = self.mode.verifies or (self.mode is SslMode.REQUIRE and self.rootcert)
        if checks_ca:
            context = ssl.create_default_context(
                cafile=str(self.rootcert) if self.rootcert else None
            )
            context.check_hostname = self.mode is SslMode.VERIFY_FULL
        else:
            context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
            context.check_hostname = False
            context.verify_mode = ssl.CERT_NONE
        if self.certfile is not None:
            context.load_cert_chain(self.certfile, self.keyfile)
        return context
