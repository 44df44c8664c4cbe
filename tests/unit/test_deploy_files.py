"""The deploy files match the code: the Kubernetes manifests are valid objects, Compose and
Kubernetes hand each service only settings it reads and run only modules the image holds, and
the image holds every package the services import and their migrations. The dev stack,
Compose and Kubernetes all run the borrowers' site and give the link keys to what uses them.

All static: no Docker, no cluster, no network (``kubernetes-validate`` bundles its schemas).
The custom resources, the Jobs, the Secrets and what the README tells an operator:
tests/unit/test_k8s_manifests.py.
"""

import ast
import fnmatch
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, cast

import kubernetes_validate
import pytest
import yaml
from kubernetes_validate.utils import all_versions
from pydantic import TypeAdapter

from deploy.cli.settings import OperatorSettings
from deploy.devstack import platform
from deploy.devstack.infrastructure import LocalInfrastructure
from deploy.devstack.platform import SERVICES, PlatformSecrets, Service, ServiceProcess
from services.intake.settings import IntakeSettings
from services.notifier.settings import NotifierSettings
from shared.crypto import KeyRing

ROOT = Path(__file__).resolve().parents[2]
DEPLOY = ROOT / "deploy"
K8S = DEPLOY / "k8s"
KUBERNETES_VERSION = "1.33"
SOURCE_PACKAGES = ("shared", "services", "deploy")
BY_NAME = {service.name: service for service in SERVICES}
KEYS_COMMAND = ["collections", "keys"]
MIGRATE_COMMAND = ["collections", "migrate"]
# Where the operator runs ``collections keys``: the Compose tool service and the Kubernetes Job
# of its own (deploy/k8s/jobs/issue-key.yaml), never a service's pod.
KEYS_RUN_IN = {"compose.yaml: keys", "issue-key-: collections"}
# Variables a library reads rather than the settings: asyncpg takes the database password from
# PGPASSWORD when the URL has none (Kubernetes: the password CloudNativePG generated).
DRIVER_VARIABLES = {"PGPASSWORD"}
CUSTOM_RESOURCE_GROUPS = ("kafka.strimzi.io/", "postgresql.cnpg.io/")
# Intake's second entry point, on intake's settings and database (the lender API is the first).
BORROWER_SITE = ["python", "-m", "services.intake", "borrower"]
BORROWER_SITE_PORT = IntakeSettings.model_fields["borrower_http_port"].default
# What reads the link keys: the notifier mints links, the borrowers' site opens them; intake's
# lender API never does, so Compose and Kubernetes give it none.
LINK_KEY_READERS = (["python", "-m", "services.notifier"], BORROWER_SITE)


def _load(path: Path) -> Any:
    return yaml.safe_load(path.read_text())


def kustomize() -> list[dict[str, Any]]:
    """What ``kubectl apply -k deploy/k8s`` applies: the listed resources in the namespace and
    the generated ConfigMaps (the only generator the kustomization uses). Compared once with
    ``kubectl kustomize deploy/k8s`` (kustomize 5.5): the same objects, field for field."""
    kustomization = _load(K8S / "kustomization.yaml")
    assert set(kustomization) <= {
        "apiVersion",
        "kind",
        "namespace",
        "resources",
        "configMapGenerator",
        "generatorOptions",
    }
    documents = [
        document
        for resource in kustomization["resources"]
        for document in yaml.safe_load_all((K8S / resource).read_text())
        if document is not None
    ]
    namespace = kustomization.get("namespace")
    for document in documents:  # kustomize's namespace transformer (a Namespace: its name)
        if namespace and document["kind"] != "Namespace":
            document["metadata"]["namespace"] = namespace
    for generator in kustomization.get("configMapGenerator", []):
        assert set(generator) <= {"name", "literals"}
        documents.append(
            {
                "apiVersion": "v1",
                "kind": "ConfigMap",
                "metadata": {"name": generator["name"], "namespace": namespace},
                "data": dict(literal.split("=", 1) for literal in generator["literals"]),
            }
        )
    return documents


def k8s_jobs() -> list[dict[str, Any]]:
    """The operator's Jobs (deploy/k8s/jobs/, ``kubectl create -f``, outside the kustomization)."""
    return [
        document
        for path in sorted((K8S / "jobs").glob("*.yaml"))
        for document in yaml.safe_load_all(path.read_text())
        if document is not None
    ]


def is_core(document: dict[str, Any]) -> bool:
    """A Kubernetes object (not a custom resource of Strimzi or CloudNativePG)."""
    return not document["apiVersion"].startswith(CUSTOM_RESOURCE_GROUPS)


def object_name(document: dict[str, Any]) -> str:
    metadata = document["metadata"]
    return str(metadata.get("name") or metadata["generateName"])


@dataclass(frozen=True)
class Container:
    where: str  # "compose.yaml: intake", "intake.yaml: intake/migrate"
    command: list[str]
    env: dict[str, str | None]  # None: the value comes from a Secret or a ConfigMap
    config_map_keys: list[tuple[str, str]]  # (ConfigMap name, key) the env reads
    # Kubernetes: where each such variable comes from, ("configMap" | "secret", name, key)
    sources: dict[str, tuple[str, str, str]]


def compose_containers() -> Iterator[Container]:
    """The containers running the platform's image (built here), not Kafka or PostgreSQL."""
    for name, spec in _load(DEPLOY / "compose.yaml")["services"].items():
        if "build" in spec:
            env = {key: str(value) for key, value in spec.get("environment", {}).items()}
            command = spec.get("entrypoint", []) + spec["command"]
            yield Container(f"compose.yaml: {name}", command, dict(env), [], {})


def k8s_containers() -> Iterator[Container]:
    for document in kustomize() + k8s_jobs():
        template = document.get("spec", {}).get("template")
        if template is None:
            continue
        pod = template["spec"]
        for container in pod.get("initContainers", []) + pod["containers"]:
            env: dict[str, str | None] = {}
            refs = []
            sources = {}
            for variable in container.get("env", []):
                env[variable["name"]] = variable.get("value")
                ref = variable.get("valueFrom", {}).get("configMapKeyRef")
                if ref is not None:
                    refs.append((ref["name"], ref["key"]))
                    sources[variable["name"]] = ("configMap", ref["name"], ref["key"])
                secret = variable.get("valueFrom", {}).get("secretKeyRef")
                if secret is not None:
                    sources[variable["name"]] = ("secret", secret["name"], secret["key"])
            yield Container(
                f"{object_name(document)}: {container['name']}",
                container["command"],
                env,
                refs,
                sources,
            )


CONTAINERS = [*compose_containers(), *k8s_containers()]


def services_run_by(command: list[str]) -> list[Service]:
    """``python -m services.<name>`` runs one service (``python -m services.intake borrower``:
    intake's borrowers' site); ``collections migrate a b`` migrates the services named;
    ``collections keys`` and the local providers (a development tool, configured by its
    arguments) run none."""
    if command[:2] == MIGRATE_COMMAND:
        return [BY_NAME[name] for name in command[2:]]
    if command[:2] == KEYS_COMMAND:
        return []
    assert command[:2] == ["python", "-m"], command
    module, arguments = command[2], command[3:]
    if module == "deploy.local_providers":
        return []
    match = re.fullmatch(r"services\.(\w+)", module)
    assert match is not None, f"{module} is not a service"
    assert not arguments or command == BORROWER_SITE, command
    return [BY_NAME[match.group(1)]]


def runs(container: Container, command: list[str]) -> bool:
    return container.command == command


def is_k8s(container: Container) -> bool:
    return not container.where.startswith("compose.yaml:")


def test_the_bundled_schemas_cover_the_kubernetes_version() -> None:
    assert any(version.startswith(f"{KUBERNETES_VERSION}.") for version in all_versions())


def migrates(container: Container) -> bool:
    return container.command[:2] == MIGRATE_COMMAND


@pytest.mark.parametrize(
    "document",
    [d for d in kustomize() + k8s_jobs() if is_core(d)],
    ids=lambda d: f"{d['kind']}/{object_name(d)}",
)
def test_every_kubernetes_object_is_valid(document: dict[str, Any]) -> None:
    checked = kubernetes_validate.validate(document, KUBERNETES_VERSION, strict=True)
    assert checked == KUBERNETES_VERSION


def test_every_manifest_is_in_the_kustomization() -> None:
    listed = set(_load(K8S / "kustomization.yaml")["resources"]) | {"kustomization.yaml"}
    assert {path.name for path in K8S.glob("*.y*ml")} == listed


def test_every_service_has_its_migrations() -> None:
    """Compose runs them before the services; Kubernetes has a Job of the operator's command
    for each service (and the services migrate at start-up too)."""
    for in_k8s in (False, True):
        containers = [c for c in CONTAINERS if is_k8s(c) == in_k8s]
        migrated = {s.name for c in containers if migrates(c) for s in services_run_by(c.command)}
        served = {s.name for c in containers if not migrates(c) for s in services_run_by(c.command)}
        assert served == migrated == set(BY_NAME), in_k8s


@pytest.mark.parametrize("container", CONTAINERS, ids=lambda container: container.where)
def test_a_container_is_given_only_settings_its_services_read(container: Container) -> None:
    services = services_run_by(container.command)
    readable = {
        f"{service.env_prefix}{field.upper()}": (service, field)
        for service in services
        for field in service.settings.model_fields
    }
    keys_settings = {
        f"COLLECTIONS_{field.upper()}": field
        for field in OperatorSettings.model_fields
        if container.where in KEYS_RUN_IN
    }
    given = set(container.env) - DRIVER_VARIABLES
    assert given <= set(readable) | set(keys_settings), given - set(readable) - set(keys_settings)
    for service in services:  # the literal values parse, too
        options = {
            readable[name][1]: value
            for name, value in container.env.items()
            if value is not None and name in readable and readable[name][0] is service
        }
        if is_k8s(container):  # the rest comes from ConfigMaps and Secrets: each on its own
            for field, value in options.items():
                annotation: Any = service.settings.model_fields[field].annotation
                TypeAdapter(annotation).validate_python(value)
        else:
            service.settings.model_validate(options)
    keys_options: dict[str, Any] = {
        field: container.env[name]
        for name, field in keys_settings.items()
        if container.env.get(name) is not None
    }
    if is_k8s(container):
        for field, value in keys_options.items():
            keys_annotation: Any = OperatorSettings.model_fields[field].annotation
            TypeAdapter(keys_annotation).validate_python(value)
    else:
        OperatorSettings.model_validate(keys_options)


def test_the_operator_key_command_is_offered_by_compose_and_kubernetes() -> None:
    """Only where KEYS_RUN_IN says: never in a service's pod."""
    offered = {c.where for c in CONTAINERS if c.command[:2] == KEYS_COMMAND}
    assert offered == KEYS_RUN_IN
    for where in KEYS_RUN_IN:
        (container,) = [c for c in CONTAINERS if c.where == where]
        assert "COLLECTIONS_KAFKA_BOOTSTRAP_SERVERS" in container.env, where
    holding = {
        c.where for c in CONTAINERS if any(name.startswith("COLLECTIONS_") for name in c.env)
    }
    assert holding == KEYS_RUN_IN


def test_the_config_map_holds_every_key_the_containers_read() -> None:
    """The generated ConfigMap; the operator's own (collections-operator-settings) holds what
    the README's Kubernetes section says it must (tests/unit/test_k8s_manifests.py)."""
    data = {
        (document["metadata"]["name"], key)
        for document in kustomize()
        if document["kind"] == "ConfigMap"
        for key in document["data"]
    }
    read = {ref for container in CONTAINERS for ref in container.config_map_keys}
    assert {ref for ref in read if ref[0] != "collections-operator-settings"} <= data
    assert {ref[0] for ref in read} == {"collections", "collections-operator-settings"}


def _compose_services() -> dict[str, Any]:
    services: dict[str, Any] = _load(DEPLOY / "compose.yaml")["services"]
    return services


def _deployments() -> list[dict[str, Any]]:
    return [document for document in kustomize() if document["kind"] == "Deployment"]


class _Servers:
    """What ``platform.prepare`` asks of the dev stack's Kafka and PostgreSQL."""

    kafka_bootstrap = "127.0.0.1:9092"

    async def create_database(self, name: str) -> None:
        pass

    def postgres_url(self, name: str) -> str:
        return f"postgresql+asyncpg://postgres@127.0.0.1:54329/{name}"


@pytest.fixture
async def dev_stack(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> tuple[list[ServiceProcess], PlatformSecrets]:
    """The processes ``make run`` starts and the keys it made, without its servers: the
    migrations, the demo keys and agencies (their I/O) are skipped."""

    async def nothing(*args: object, **kwargs: object) -> None:
        pass

    for step in ("upgrade_to_head", "issue_demo_keys", "seed_demo_agencies"):
        monkeypatch.setattr(platform, step, nothing)
    processes = await platform.prepare(cast(LocalInfrastructure, _Servers()), tmp_path)
    return processes, PlatformSecrets.load_or_create(tmp_path / "secrets.json")


def test_the_dev_stack_gives_each_process_only_settings_its_service_reads(
    dev_stack: tuple[list[ServiceProcess], PlatformSecrets],
) -> None:
    """The borrowers' site included (intake's settings); the services themselves by field
    name: tests/unit/test_service_settings.py."""
    processes, _ = dev_stack
    assert {p.name for p in processes} == {*BY_NAME, platform.BORROWER_SITE}
    for process in processes:
        service = BY_NAME["intake" if process.name == platform.BORROWER_SITE else process.name]
        readable = {
            f"{service.env_prefix}{field.upper()}" for field in service.settings.model_fields
        }
        assert set(process.env) <= readable, process.name


def test_every_link_key_holder_gets_them_in_the_dev_stack_compose_and_kubernetes(
    dev_stack: tuple[list[ServiceProcess], PlatformSecrets],
) -> None:
    """One ring for all (the notifier's links open at the borrowers' site): the dev stack's
    secret, Compose's dev-only ring, and in Kubernetes each holder's keys Secret."""
    processes, keys = dev_stack
    holders = [service for service in SERVICES if service.holds("link_keys")]
    assert {service.name for service in holders} == {"intake", "notifier"}
    for service in holders:
        name = f"{service.env_prefix}LINK_KEYS"
        (process,) = [p for p in processes if p.name == service.name]
        assert process.env[name] == keys.link_keys
        for in_k8s in (False, True):
            given = [
                c
                for c in CONTAINERS
                if is_k8s(c) == in_k8s
                and "deploy.migrate" not in c.command
                and service in services_run_by(c.command)
                and name in c.env
            ]
            assert given, (service.name, "Kubernetes" if in_k8s else "Compose")
            for container in given:
                if in_k8s:
                    assert container.sources[name][::2] == ("secret", "link-keys"), container
    rings = {v for c in CONTAINERS for k, v in c.env.items() if k.endswith("_LINK_KEYS")}
    (ring,) = rings - {None}  # Kubernetes: from Secrets (None); Compose: the one dev ring
    assert ring is not None
    assert KeyRing.parse(ring).primary


def test_the_link_keys_go_only_to_what_mints_or_opens_links() -> None:
    """Compose and Kubernetes: the notifier and the borrowers' site, not intake's lender API
    (nor a migration or the key command)."""
    holding = {c.where for c in CONTAINERS if any(k.endswith("_LINK_KEYS") for k in c.env)}
    readers = {c.where for c in CONTAINERS if c.command in LINK_KEY_READERS}
    assert holding == readers
    assert {"compose.yaml: notifier", "compose.yaml: borrower-site"} <= readers
    assert {"notifier: notifier", "borrower-site: borrower-site"} <= readers


def test_the_links_point_at_the_borrowers_site(
    dev_stack: tuple[list[ServiceProcess], PlatformSecrets],
) -> None:
    # Dev stack: the notifier's base URL (its default) is where the dev stack serves the site.
    processes, _ = dev_stack
    (notifier,) = [p for p in processes if p.name == "notifier"]
    (site,) = [p for p in processes if p.name == platform.BORROWER_SITE]
    given = {name.removeprefix("NOTIFIER_").lower(): value for name, value in notifier.env.items()}
    base_url = NotifierSettings.model_validate(given).borrower_base_url
    assert base_url == site.env["INTAKE_BORROWER_BASE_URL"] == f"http://127.0.0.1:{site.port}"
    # Compose: the same URL for both, on the port the site publishes.
    (notifier_env,) = [c.env for c in CONTAINERS if c.where == "compose.yaml: notifier"]
    (site_env,) = [c.env for c in CONTAINERS if c.where == "compose.yaml: borrower-site"]
    base = notifier_env["NOTIFIER_BORROWER_BASE_URL"]
    assert base is not None
    assert base == site_env["INTAKE_BORROWER_BASE_URL"]
    assert base.startswith("http://localhost:")
    published = _compose_services()["borrower-site"]["ports"]
    assert f"{base.rsplit(':', 1)[1]}:{BORROWER_SITE_PORT}" in published
    # Kubernetes: both read the one ConfigMap key.
    (notifier_pod,) = [c for c in CONTAINERS if c.where == "notifier: notifier"]
    (site_pod,) = [c for c in CONTAINERS if c.where == "borrower-site: borrower-site"]
    source = notifier_pod.sources["NOTIFIER_BORROWER_BASE_URL"]
    assert source[0] == "configMap"
    assert site_pod.sources["INTAKE_BORROWER_BASE_URL"] == source


def test_the_borrowers_site_runs_in_the_dev_stack_compose_and_kubernetes(
    dev_stack: tuple[list[ServiceProcess], PlatformSecrets],
) -> None:
    """Intake's second entry point on intake's settings and database, on its own port, with
    its health checked like the services'."""
    processes, _ = dev_stack
    (intake,) = [p for p in processes if p.name == "intake"]
    (site,) = [p for p in processes if p.argv[1:] == BORROWER_SITE[1:]]
    assert site.port == BORROWER_SITE_PORT
    assert site.argv[0] == intake.argv[0]
    assert site.env.items() >= intake.env.items()  # intake's settings, database and keys
    # Compose: after the migrations (the shared service block), on intake's database.
    services = _compose_services()
    (name,) = [n for n, spec in services.items() if spec.get("command") == BORROWER_SITE]
    spec = services[name]
    assert spec["depends_on"]["migrate"] == {"condition": "service_completed_successfully"}
    assert (
        spec["environment"]["INTAKE_DATABASE_URL"]
        == services["intake"]["environment"]["INTAKE_DATABASE_URL"]
    )
    assert f"{BORROWER_SITE_PORT}:{BORROWER_SITE_PORT}" in spec["ports"]
    assert f"127.0.0.1:{BORROWER_SITE_PORT}/healthz" in " ".join(spec["healthcheck"]["test"])
    # Kubernetes: a Deployment like intake's, probed, behind a Service.
    deployments = {d["metadata"]["name"]: d["spec"]["template"] for d in _deployments()}
    (site_name,) = [
        n for n, t in deployments.items() if t["spec"]["containers"][0]["command"] == BORROWER_SITE
    ]
    pod, intake_pod = deployments[site_name]["spec"], deployments["intake"]["spec"]
    (container,) = pod["containers"]
    (port,) = container["ports"]
    assert port["containerPort"] == BORROWER_SITE_PORT
    assert container["readinessProbe"]["httpGet"] == {"path": "/readyz", "port": port["name"]}
    assert container["livenessProbe"]["httpGet"] == {"path": "/healthz", "port": port["name"]}
    assert pod["securityContext"] == intake_pod["securityContext"]
    assert container["resources"] == intake_pod["containers"][0]["resources"]
    (site_pod,) = [c for c in CONTAINERS if c.where == f"{site_name}: {container['name']}"]
    (intake_container,) = [c for c in CONTAINERS if c.where == "intake: intake"]
    assert (
        site_pod.sources["INTAKE_DATABASE_URL"] == intake_container.sources["INTAKE_DATABASE_URL"]
    )
    labels = deployments[site_name]["metadata"]["labels"]
    assert any(
        d["kind"] == "Service"
        and labels.items() >= d["spec"]["selector"].items()
        and {"targetPort": port["name"]}.items() <= d["spec"]["ports"][0].items()
        for d in kustomize()
    )


def _dockerfile_copies() -> list[str]:
    """The sources the build stage copies from the build context."""
    sources = []
    for line in (DEPLOY / "Dockerfile").read_text().splitlines():
        words = line.split()
        if words[:1] == ["COPY"] and not any(w.startswith("--from") for w in words):
            sources += words[1:-1]
    return sources


def _imported_top_level_packages() -> set[str]:
    """The repository's own top-level packages that the platform's code imports."""
    found = set()
    for package in SOURCE_PACKAGES:
        for path in (ROOT / package).rglob("*.py"):
            for node in ast.walk(ast.parse(path.read_text())):
                if isinstance(node, ast.Import):
                    found |= {alias.name.split(".")[0] for alias in node.names}
                elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                    found.add(node.module.split(".")[0])
    return {name for name in found if (ROOT / name / "__init__.py").exists()}


def _dockerignored(relative: Path) -> bool:
    patterns = [
        line.strip()
        for line in (ROOT / ".dockerignore").read_text().splitlines()
        if line.strip() and not line.startswith("#")
    ]
    parts = [Path(*relative.parts[: i + 1]).as_posix() for i in range(len(relative.parts))]
    return any(
        fnmatch.fnmatch(part, pattern.removeprefix("**/")) or fnmatch.fnmatch(part, pattern)
        for part in parts
        for pattern in patterns
    )


def test_the_image_holds_every_package_the_services_import() -> None:
    imported = _imported_top_level_packages()
    assert {"shared", "services"} <= imported
    needed = imported | set(SOURCE_PACKAGES)  # deploy: python -m deploy.migrate
    assert needed <= set(_dockerfile_copies())
    pyproject = (ROOT / "pyproject.toml").read_text()
    wheel = re.search(r"packages = \[(.*?)\]", pyproject)
    assert wheel is not None
    assert needed <= set(re.findall(r'"(\w+)"', wheel.group(1)))  # --no-editable: the wheel
    assert not any(_dockerignored(Path(name)) for name in needed)


@pytest.mark.parametrize("service", SERVICES, ids=lambda service: service.name)
def test_the_image_holds_the_migrations(service: Service) -> None:
    relative = service.migrations.relative_to(ROOT)
    assert (service.migrations / "env.py").exists()
    assert any(relative.is_relative_to(source) for source in _dockerfile_copies())
    assert not _dockerignored(relative)


@pytest.mark.parametrize("container", CONTAINERS, ids=lambda container: container.where)
def test_every_command_runs_a_module_in_the_image(container: Container) -> None:
    """``python -m <module>``, or the operator's command ``collections`` (the project's script,
    installed into the image's environment by ``uv sync``)."""
    if container.command[0] == "collections":
        scripts = re.search(
            r"\[project\.scripts\]\n(.*?)\n\n", (ROOT / "pyproject.toml").read_text(), re.S
        )
        assert scripts is not None
        assert 'collections = "deploy.cli.app:main"' in scripts.group(1)
        module = Path("deploy", "cli", "app")
    else:
        module = Path(*container.command[2].split("."))
    assert (ROOT / module.with_suffix(".py")).exists() or (ROOT / module / "__main__.py").exists()
    assert module.parts[0] in _dockerfile_copies()


def test_a_new_kafka_cluster_id_never_reads_as_an_option() -> None:
    from deploy.devstack.kafka import _new_cluster_id

    assert not any(_new_cluster_id().startswith("-") for _ in range(2000))
