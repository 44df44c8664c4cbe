"""Apache Kafka 4.x in KRaft mode from Maven Central jars: one node that is both broker and
controller, or a cluster of N such combined nodes whose controllers form one N-voter quorum.

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
from collections.abc import AsyncIterator, Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from .errors import DevstackError
from .processes import ManagedProcess, port_open, run_command, stop_leftover, tail

log = logging.getLogger("devstack")

KAFKA_DIR = Path(__file__).resolve().parent / "kafka"
POM = KAFKA_DIR / "pom.xml"
LOG4J_CONFIG = KAFKA_DIR / "log4j2.xml"
JVM_OPTIONS = ("-Xms128m", "-Djava.awt.headless=true")
HEAP = "512m"  # one node
CLUSTER_HEAP = "384m"  # each node of a cluster (three fit a small machine)
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
    """A Kafka Uuid (cluster id, log directory id): a random UUID in URL-safe base64 without
    padding, like Uuid.toString.

    Like Kafka's own Uuid.randomUuid, never one starting with "-": the storage tool would read
    it as an option (one id in 64 did, and formatting failed)."""
    while True:
        cluster_id = base64.urlsafe_b64encode(uuid.uuid4().bytes).rstrip(b"=").decode()
        if not cluster_id.startswith("-"):
            return cluster_id


@dataclass(frozen=True)
class Replication:
    """Replicas of the broker's own topics (group offsets, transactions) and of topics created
    without a setting, and how many must be in sync for an ``acks=all`` write."""

    factor: int = 1
    min_insync: int = 1

    @classmethod
    def for_brokers(cls, brokers: int) -> Replication:
        """One broker: 1 and 1. More: up to 3 replicas, all but one in sync, so a write with
        ``acks=all`` goes on with one broker down and stops with two."""
        factor = min(3, brokers)
        return cls(factor, max(1, factor - 1))


def server_properties(
    port: int,
    controller_port: int,
    data_dir: Path,
    *,
    node_id: int = 1,
    controllers: Sequence[str] = (),
    replication: Replication = Replication(),
) -> str:
    """One node that is both broker and controller, on loopback, tuned for a dev machine;
    ``controllers`` are the ``host:port`` of every controller of the quorum (default: its own)."""
    factor, min_insync = replication.factor, replication.min_insync
    controllers = controllers or [f"127.0.0.1:{controller_port}"]
    return "\n".join(
        [
            "process.roles=broker,controller",
            f"node.id={node_id}",
            f"listeners=PLAINTEXT://127.0.0.1:{port},CONTROLLER://127.0.0.1:{controller_port}",
            f"advertised.listeners=PLAINTEXT://127.0.0.1:{port}",
            "controller.listener.names=CONTROLLER",
            "inter.broker.listener.name=PLAINTEXT",
            "listener.security.protocol.map=PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT",
            f"controller.quorum.bootstrap.servers={','.join(controllers)}",
            f"log.dirs={data_dir}",
            "num.partitions=6",
            f"default.replication.factor={factor}",
            f"min.insync.replicas={min_insync}",
            "auto.create.topics.enable=false",
            f"offsets.topic.replication.factor={factor}",
            "offsets.topic.num.partitions=6",
            f"transaction.state.log.replication.factor={factor}",
            f"transaction.state.log.min.isr={min_insync}",
            f"share.coordinator.state.topic.replication.factor={factor}",
            f"share.coordinator.state.topic.min.isr={min_insync}",
            "group.initial.rebalance.delay.ms=0",
            "num.network.threads=2",
            "num.io.threads=4",
            "log.retention.hours=168",
            "",
        ]
    )


async def _any_port_open(bootstrap: str) -> bool:
    for address in bootstrap.split(","):
        host, _, port_text = address.rpartition(":")
        if await port_open(host, int(port_text)):
            return True
    return False


async def wait_for_kafka(
    bootstrap: str,
    within: float,
    *,
    brokers: int = 1,
    exited: Callable[[], str | None] | None = None,
    where: str = "",
) -> None:
    """Wait until ``brokers`` brokers on ``bootstrap`` are in the cluster's metadata and it
    answers group-coordinator requests. ``exited`` says why waiting is pointless (a node died)."""
    from aiokafka.admin import AIOKafkaAdminClient

    deadline = time.monotonic() + within
    while True:
        failure = exited() if exited is not None else None
        if failure is not None:
            raise DevstackError(failure)
        if await _any_port_open(bootstrap):
            admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap, request_timeout_ms=5000)
            try:
                await admin.start()
                cluster = await admin.describe_cluster()
                if len(cluster["brokers"]) >= brokers:
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


@dataclass(frozen=True)
class Quorum:
    """How every node of one cluster is formatted: the same id, controllers and replication."""

    cluster_id: str
    controllers: tuple[str, ...]
    format_args: tuple[str, ...]  # --standalone, or --initial-controllers id@host:port:dir,...
    signature: str  # what the storage was formatted for; another one formats it again
    replication: Replication
    fresh: bool  # format every start (the tests' clusters: no topics left from earlier runs)


class KafkaBroker:
    """One node, broker and controller: its folder holds server.properties, its log directory
    id and the data."""

    def __init__(
        self,
        home: Path,
        port: int,
        libs: Path,
        logs_dir: Path,
        run_dir: Path,
        *,
        node_id: int = 1,
        name: str = "kafka",
        heap: str = HEAP,
    ) -> None:
        self.home = home
        self.data_dir = home / "data"
        self.properties = home / "server.properties"
        self.port = port
        self.controller_port = port + 1
        self.node_id = node_id
        self.name = name
        self.heap = heap
        self.libs = libs
        self.log_path = logs_dir / f"{name}.log"
        self.pid_path = run_dir / f"{name}.pid"
        self._process: ManagedProcess | None = None

    @property
    def bootstrap(self) -> str:
        return f"127.0.0.1:{self.port}"

    @property
    def controller(self) -> str:
        return f"127.0.0.1:{self.controller_port}"

    def directory_id(self) -> str:
        """The id of its log directory, chosen once (a voter is named by node and directory)."""
        self.home.mkdir(parents=True, exist_ok=True)
        id_file = self.home / "directory-id"
        if not id_file.exists():
            id_file.write_text(_new_cluster_id() + "\n", encoding="utf-8")
        return id_file.read_text(encoding="utf-8").strip()

    def _java(self, main_class: str, *args: str) -> list[str]:
        java = _require_tool("java", "run Kafka (a JDK 17 or newer)")
        return [
            java,
            f"-Xmx{self.heap}",
            *JVM_OPTIONS,
            "-cp",
            f"{self.libs}/*",
            f"-Dlog4j2.configurationFile={LOG4J_CONFIG}",
            main_class,
            *args,
        ]

    async def stop_leftover(self) -> None:
        """Stop a broker that a killed earlier run left behind on this folder."""
        await stop_leftover(self.pid_path, str(self.properties), f"a Kafka broker ({self.name})")

    def cluster_id(self) -> str:
        """The cluster's id, chosen once and kept in this node's folder."""
        self.home.mkdir(parents=True, exist_ok=True)
        id_file = self.home / "cluster-id"
        if not id_file.exists():
            id_file.write_text(_new_cluster_id() + "\n", encoding="utf-8")
        return id_file.read_text(encoding="utf-8").strip()

    def standalone(self, *, fresh: bool = False) -> Quorum:
        """A cluster of this node alone: its controller the only voter."""
        return Quorum(
            self.cluster_id(),
            (self.controller,),
            ("--standalone",),
            str(self.controller_port),
            Replication(),
            fresh,
        )

    async def prepare(self, quorum: Quorum | None = None) -> None:
        """Write server.properties and format the storage unless it is formatted for this
        quorum already (default: a cluster of this node alone)."""
        quorum = quorum or self.standalone()
        self.home.mkdir(parents=True, exist_ok=True)
        self.properties.write_text(
            server_properties(
                self.port,
                self.controller_port,
                self.data_dir,
                node_id=self.node_id,
                controllers=quorum.controllers,
                replication=quorum.replication,
            ),
            encoding="utf-8",
        )
        # The controllers' addresses are written into the storage when formatting: a storage
        # formatted for other ports is formatted again (the dev data is lost, not the id).
        formatted_for = self.home / "formatted-for-controller-port"
        if (
            not quorum.fresh
            and (self.data_dir / "meta.properties").exists()
            and formatted_for.exists()
        ):
            if formatted_for.read_text(encoding="utf-8").strip() == quorum.signature:
                return
            log.warning("Kafka ports changed: formatting its storage again (topics are lost)")
        shutil.rmtree(self.data_dir, ignore_errors=True)
        await run_command(
            self._java(
                "kafka.tools.StorageTool",
                "format",
                "-t",
                quorum.cluster_id,
                "-c",
                str(self.properties),
                *quorum.format_args,
            ),
            what=f"Formatting the Kafka storage ({self.name})",
            log_path=self.log_path,
        )
        formatted_for.write_text(f"{quorum.signature}\n", encoding="utf-8")

    def start(self) -> None:
        self._process = ManagedProcess(
            self.name,
            self._java("kafka.Kafka", str(self.properties)),
            log_path=self.log_path,
            pid_path=self.pid_path,
            stop_plan=((signal.SIGTERM, 30.0),),
        )
        self._process.start()

    async def wait_ready(self, within: float = 90.0) -> None:
        """Wait until this node alone answers (a cluster waits for all its nodes instead)."""
        await wait_for_kafka(
            self.bootstrap, within, exited=self.exited, where=f"; see {self.log_path}"
        )

    def running(self) -> bool:
        return self._process is not None and self._process.running()

    def exited(self) -> str | None:
        """Why it is not running, if it was started and has exited."""
        process = self._process
        if process is None or process.running():
            return None
        return (
            f"Kafka ({self.name}) exited (code {process.returncode}); "
            f"see {self.log_path}:\n{tail(self.log_path)}"
        )

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


class KafkaCluster:
    """The local Kafka: one node in ``<root>/kafka`` (ports ``port`` and ``port + 1``), or
    ``brokers`` nodes in ``<root>/kafka-<id>`` whose controllers are the voters of one quorum
    (node ``i`` on ``port + 2(i - 1)``, its controller on the next port)."""

    def __init__(
        self,
        root: Path,
        port: int,
        libs: Path,
        logs_dir: Path,
        run_dir: Path,
        *,
        brokers: int = 1,
        fresh: bool = False,
    ) -> None:
        if brokers < 1:
            raise DevstackError(f"a Kafka cluster needs at least one broker, not {brokers}")
        if brokers == 1:
            self.nodes = [KafkaBroker(root / "kafka", port, libs, logs_dir, run_dir)]
        else:
            self.nodes = [
                KafkaBroker(
                    root / f"kafka-{node_id}",
                    port + 2 * (node_id - 1),
                    libs,
                    logs_dir,
                    run_dir,
                    node_id=node_id,
                    name=f"kafka-{node_id}",
                    heap=CLUSTER_HEAP,
                )
                for node_id in range(1, brokers + 1)
            ]
        self.replication = Replication.for_brokers(brokers)
        self.fresh = fresh
        self._down: set[int] = set()  # nodes stopped on purpose

    @property
    def bootstrap(self) -> str:
        return ",".join(node.bootstrap for node in self.nodes)

    def node(self, node_id: int) -> KafkaBroker:
        for node in self.nodes:
            if node.node_id == node_id:
                return node
        raise DevstackError(f"no Kafka node {node_id}; the nodes are 1 to {len(self.nodes)}")

    def ports(self) -> list[tuple[int, str]]:
        """Every port it listens on, with what listens there."""
        return [
            (port, what)
            for node in self.nodes
            for port, what in (
                (node.port, f"Kafka ({node.name})"),
                (node.controller_port, f"the Kafka controller ({node.name})"),
            )
        ]

    def _quorum(self) -> Quorum:
        first = self.nodes[0]
        if len(self.nodes) == 1:
            return first.standalone(fresh=self.fresh)
        # Every node formatted with the same voters (node id, controller, log directory id).
        voters = ",".join(
            f"{node.node_id}@{node.controller}:{node.directory_id()}" for node in self.nodes
        )
        return Quorum(
            first.cluster_id(),
            tuple(node.controller for node in self.nodes),
            ("--initial-controllers", voters),
            voters,
            self.replication,
            self.fresh,
        )

    async def stop_leftover(self) -> None:
        for node in self.nodes:
            await node.stop_leftover()

    async def prepare(self) -> None:
        quorum = self._quorum()
        await asyncio.gather(*(node.prepare(quorum) for node in self.nodes))

    def failure(self) -> str | None:
        """Why a node that should run does not, if one has exited on its own."""
        for node in self.nodes:
            if node.node_id not in self._down and not node.running():
                return node.exited() or f"Kafka ({node.name}) is not running"
        return None

    async def start(self, within: float = 120.0) -> None:
        """Start every node that is not running, and wait until all are in the cluster."""
        self._down.clear()
        for node in self.nodes:
            if not node.running():
                node.start()
        await self._wait_ready(within)

    async def start_node(self, node_id: int, within: float = 120.0) -> None:
        """Start one node again on its data; wait until every running node is in the cluster."""
        node = self.node(node_id)
        self._down.discard(node_id)
        if not node.running():
            node.start()
        await self._wait_ready(within)

    async def _wait_ready(self, within: float) -> None:
        logs = ", ".join(str(node.log_path) for node in self.nodes)
        live = ",".join(node.bootstrap for node in self.nodes if node.node_id not in self._down)
        await wait_for_kafka(
            live,
            within,
            brokers=len(self.nodes) - len(self._down),
            exited=self.failure,
            where=f"; see {logs}",
        )

    async def stop(self) -> None:
        """Stop every node at once (one after another, the last would wait for a quorum)."""
        self._down.update(node.node_id for node in self.nodes)
        await asyncio.gather(*(node.stop() for node in self.nodes))

    async def kill(self) -> None:
        self._down.update(node.node_id for node in self.nodes)
        await asyncio.gather(*(node.kill() for node in self.nodes))

    async def stop_node(self, node_id: int) -> None:
        self._down.add(node_id)
        await self.node(node_id).stop()

    async def kill_node(self, node_id: int) -> None:
        """SIGKILL one node, as a crash would; the others go on."""
        self._down.add(node_id)
        await self.node(node_id).kill()
