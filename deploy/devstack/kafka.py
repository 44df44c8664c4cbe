"""Apache Kafka 4.x in KRaft mode (one combined broker + controller) from Maven Central jars.

The jars are resolved once with Maven from ``kafka/pom.xml`` into ``<cache>/kafka-libs`` and
run on the machine's JDK: no Docker, no Kafka distribution download.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import fcntl
import hashlib
import logging
import os
import shutil
import signal
import time
import uuid
from collections.abc import AsyncIterator
from pathlib import Path

from .errors import DevstackError
from .processes import ManagedProcess, port_open, run_command, stop_leftover, tail

log = logging.getLogger("devstack")

KAFKA_DIR = Path(__file__).resolve().parent / "kafka"
POM = KAFKA_DIR / "pom.xml"
LOG4J_CONFIG = KAFKA_DIR / "log4j2.xml"
JVM_OPTIONS = ("-Xmx512m", "-Xms128m", "-Djava.awt.headless=true")
_MARKER = ".pom-sha256"


def _require_tool(name: str, purpose: str) -> str:
    path = shutil.which(name)
    if path is None:
        raise DevstackError(f"`{name}` is not on PATH; it is needed to {purpose}")
    return path


def _pom_digest() -> str:
    return hashlib.sha256(POM.read_bytes()).hexdigest()


def libs_dir(cache_dir: Path) -> Path:
    return cache_dir / "kafka-libs"


def libs_ready(cache_dir: Path) -> bool:
    """Whether the cache holds the jars of the current pom (then nothing is downloaded)."""
    marker = libs_dir(cache_dir) / _MARKER
    return marker.exists() and marker.read_text(encoding="utf-8").strip() == _pom_digest()


@contextlib.asynccontextmanager
async def _file_lock(path: Path) -> AsyncIterator[None]:
    """Wait for an exclusive lock (two stacks fetching into one cache take turns)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                await asyncio.sleep(0.5)
        yield
    finally:
        os.close(fd)


async def fetch_libs(cache_dir: Path) -> Path:
    """Resolve the broker's jars into ``<cache>/kafka-libs`` unless already there; return it."""
    libs = libs_dir(cache_dir)
    if libs_ready(cache_dir):
        return libs
    mvn = _require_tool("mvn", "download the Kafka jars (apt-get install maven)")
    async with _file_lock(cache_dir / "kafka-libs.lock"):
        if libs_ready(cache_dir):
            return libs
        log.info("downloading the Kafka jars with Maven (first run only)...")
        started = time.monotonic()
        staging = cache_dir / "kafka-libs.partial"
        shutil.rmtree(staging, ignore_errors=True)
        await run_command(
            [
                mvn,
                "-q",
                "-B",
                "-Dstyle.color=never",
                "-f",
                str(POM),
                "dependency:copy-dependencies",
                f"-DoutputDirectory={staging}",
            ],
            what="Downloading the Kafka jars with Maven",
            log_path=cache_dir / "mvn.log",
        )
        if not any(staging.glob("kafka_2.13-*.jar")):
            raise DevstackError(f"Maven resolved no Kafka jar into {staging}; see {POM}")
        (staging / _MARKER).write_text(_pom_digest() + "\n", encoding="utf-8")
        shutil.rmtree(libs, ignore_errors=True)
        staging.rename(libs)
        log.info("Kafka jars ready in %s (%.1f s)", libs, time.monotonic() - started)
    return libs


def _new_cluster_id() -> str:
    """A Kafka cluster id: a random UUID in URL-safe base64 without padding, like Uuid.toString.

    Like Kafka's own Uuid.randomUuid, never one starting with "-": the storage tool would read
    it as an option (one id in 64 did, and formatting failed)."""
    while True:
        cluster_id = base64.urlsafe_b64encode(uuid.uuid4().bytes).rstrip(b"=").decode()
        if not cluster_id.startswith("-"):
            return cluster_id


def server_properties(port: int, controller_port: int, data_dir: Path) -> str:
    """One node that is both broker and controller, on loopback, tuned for a dev machine."""
    return "\n".join(
        [
            "process.roles=broker,controller",
            "node.id=1",
            f"listeners=PLAINTEXT://127.0.0.1:{port},CONTROLLER://127.0.0.1:{controller_port}",
            f"advertised.listeners=PLAINTEXT://127.0.0.1:{port}",
            "controller.listener.names=CONTROLLER",
            "inter.broker.listener.name=PLAINTEXT",
            "listener.security.protocol.map=PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT",
            f"controller.quorum.bootstrap.servers=127.0.0.1:{controller_port}",
            f"log.dirs={data_dir}",
            "num.partitions=6",
            "default.replication.factor=1",
            "auto.create.topics.enable=false",
            "offsets.topic.replication.factor=1",
            "offsets.topic.num.partitions=6",
            "transaction.state.log.replication.factor=1",
            "transaction.state.log.min.isr=1",
            "share.coordinator.state.topic.replication.factor=1",
            "share.coordinator.state.topic.min.isr=1",
            "group.initial.rebalance.delay.ms=0",
            "num.network.threads=2",
            "num.io.threads=4",
            "log.retention.hours=168",
            "",
        ]
    )


async def wait_for_kafka(
    bootstrap: str,
    within: float,
    *,
    process: ManagedProcess | None = None,
    log_path: Path | None = None,
) -> None:
    """Wait until a broker on ``bootstrap`` answers metadata and group-coordinator requests."""
    from aiokafka.admin import AIOKafkaAdminClient

    host, _, port_text = bootstrap.split(",")[0].rpartition(":")
    where = f"; see {log_path}" if log_path else ""
    deadline = time.monotonic() + within
    while True:
        if process is not None and not process.running():
            detail = f":\n{tail(log_path)}" if log_path else ""
            raise DevstackError(
                f"Kafka exited (code {process.returncode}) while starting{where}{detail}"
            )
        if await port_open(host, int(port_text)):
            admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap, request_timeout_ms=5000)
            try:
                await admin.start()
                await admin.describe_cluster()
                # Consumers need the group coordinator: the first call creates its topic.
                await admin.find_coordinator("devstack-readiness")
                return
            except Exception as exc:  # still starting: any error means "not yet"
                log.debug("Kafka not ready yet: %r", exc)
            finally:
                await admin.close()
        if time.monotonic() >= deadline:
            raise DevstackError(f"Kafka did not answer on {bootstrap} within {within:.0f} s{where}")
        await asyncio.sleep(0.25)


class KafkaBroker:
    """The local broker: its folder holds server.properties, the cluster id and the data."""

    def __init__(self, home: Path, port: int, libs: Path, logs_dir: Path, run_dir: Path) -> None:
        self.home = home
        self.data_dir = home / "data"
        self.properties = home / "server.properties"
        self.port = port
        self.controller_port = port + 1
        self.libs = libs
        self.log_path = logs_dir / "kafka.log"
        self.pid_path = run_dir / "kafka.pid"
        self._process: ManagedProcess | None = None

    @property
    def bootstrap(self) -> str:
        return f"127.0.0.1:{self.port}"

    def _java(self, main_class: str, *args: str) -> list[str]:
        java = _require_tool("java", "run Kafka (a JDK 17 or newer)")
        return [
            java,
            *JVM_OPTIONS,
            "-cp",
            f"{self.libs}/*",
            f"-Dlog4j2.configurationFile={LOG4J_CONFIG}",
            main_class,
            *args,
        ]

    async def stop_leftover(self) -> None:
        """Stop a broker that a killed earlier run left behind on this folder."""
        await stop_leftover(self.pid_path, str(self.properties), "a Kafka broker")

    async def prepare(self) -> None:
        """Write server.properties and format the storage the first time (id kept in home)."""
        self.home.mkdir(parents=True, exist_ok=True)
        self.properties.write_text(
            server_properties(self.port, self.controller_port, self.data_dir), encoding="utf-8"
        )
        # The controller's address is written into the storage when formatting: a storage
        # formatted for another port is formatted again (the dev data is lost, not the id).
        formatted_for = self.home / "formatted-for-controller-port"
        if (self.data_dir / "meta.properties").exists() and formatted_for.exists():
            if formatted_for.read_text(encoding="utf-8").strip() == str(self.controller_port):
                return
            log.warning("Kafka ports changed: formatting its storage again (topics are lost)")
        shutil.rmtree(self.data_dir, ignore_errors=True)
        id_file = self.home / "cluster-id"
        if not id_file.exists():
            id_file.write_text(_new_cluster_id() + "\n", encoding="utf-8")
        cluster_id = id_file.read_text(encoding="utf-8").strip()
        await run_command(
            self._java(
                "kafka.tools.StorageTool",
                "format",
                "-t",
                cluster_id,
                "-c",
                str(self.properties),
                "--standalone",
            ),
            what="Formatting the Kafka storage",
            log_path=self.log_path,
        )
        formatted_for.write_text(f"{self.controller_port}\n", encoding="utf-8")

    def start(self) -> None:
        self._process = ManagedProcess(
            "kafka",
            self._java("kafka.Kafka", str(self.properties)),
            log_path=self.log_path,
            pid_path=self.pid_path,
            stop_plan=((signal.SIGTERM, 30.0),),
        )
        self._process.start()

    async def wait_ready(self, within: float = 90.0) -> None:
        await wait_for_kafka(self.bootstrap, within, process=self._process, log_path=self.log_path)

    def running(self) -> bool:
        return self._process is not None and self._process.running()

    async def stop(self) -> None:
        if self._process is not None:
            await self._process.stop()
            self._process = None

    async def kill(self) -> None:
        """SIGKILL the broker (fault injection: no clean shutdown); its data stays."""
        process = self._process
        if process is not None and process.pid is not None and process.running():
            os.kill(process.pid, signal.SIGKILL)
        await self.stop()
