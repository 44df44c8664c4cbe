"""The deploy files match the code: the Kubernetes manifests are valid objects, Compose and
Kubernetes hand each service only settings it reads and run only modules the image holds, and
the image holds every package the services import and their migrations.

All static: no Docker, no cluster, no network (``kubernetes-validate`` bundles its schemas).
"""

import ast
import fnmatch
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import kubernetes_validate
import pytest
import yaml
from kubernetes_validate.utils import all_versions

from deploy.devstack.platform import SERVICES, Service
from deploy.keys import KeysSettings

ROOT = Path(__file__).resolve().parents[2]
DEPLOY = ROOT / "deploy"
K8S = DEPLOY / "k8s"
KUBERNETES_VERSION = "1.33"
SOURCE_PACKAGES = ("shared", "services", "deploy")
BY_NAME = {service.name: service for service in SERVICES}
KEYS_COMMAND = ["python", "-m", "deploy.keys"]
# Where the operator runs ``python -m deploy.keys``: the Compose tool service, and (by
# ``kubectl exec``) the intake container, which therefore also holds the command's settings.
KEYS_RUN_IN = {"compose.yaml: keys", "intake: intake"}


def _load(path: Path) -> Any:
    return yaml.safe_load(path.read_text())


def kustomize() -> list[dict[str, Any]]:
    """What ``kubectl apply -k deploy/k8s`` applies: the listed resources and the generated
    ConfigMaps (the only generator the kustomization uses)."""
    kustomization = _load(K8S / "kustomization.yaml")
    assert set(kustomization) <= {
        "apiVersion",
        "kind",
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
    for generator in kustomization.get("configMapGenerator", []):
        assert set(generator) <= {"name", "literals"}
        documents.append(
            {
                "apiVersion": "v1",
                "kind": "ConfigMap",
                "metadata": {"name": generator["name"]},
                "data": dict(literal.split("=", 1) for literal in generator["literals"]),
            }
        )
    return documents


@dataclass(frozen=True)
class Container:
    where: str  # "compose.yaml: intake", "intake.yaml: intake/migrate"
    command: list[str]
    env: dict[str, str | None]  # None: the value comes from a Secret or a ConfigMap
    config_map_keys: list[tuple[str, str]]  # (ConfigMap name, key) the env reads


def compose_containers() -> Iterator[Container]:
    """The containers running the platform's image (built here), not Kafka or PostgreSQL."""
    for name, spec in _load(DEPLOY / "compose.yaml")["services"].items():
        if "build" in spec:
            env = {key: str(value) for key, value in spec.get("environment", {}).items()}
            command = spec.get("entrypoint", []) + spec["command"]
            yield Container(f"compose.yaml: {name}", command, dict(env), [])


def k8s_containers() -> Iterator[Container]:
    for document in kustomize():
        template = document.get("spec", {}).get("template")
        if template is None:
            continue
        pod = template["spec"]
        for container in pod.get("initContainers", []) + pod["containers"]:
            env: dict[str, str | None] = {}
            refs = []
            for variable in container.get("env", []):
                env[variable["name"]] = variable.get("value")
                ref = variable.get("valueFrom", {}).get("configMapKeyRef")
                if ref is not None:
                    refs.append((ref["name"], ref["key"]))
            yield Container(
                f"{document['metadata']['name']}: {container['name']}",
                container["command"],
                env,
                refs,
            )


CONTAINERS = [*compose_containers(), *k8s_containers()]


def services_run_by(command: list[str]) -> list[Service]:
    """``python -m services.<name>`` runs one service; ``python -m deploy.migrate a b``
    migrates the services named; ``python -m deploy.keys`` and the local providers (a
    development tool, configured by its arguments) run none."""
    assert command[:2] == ["python", "-m"], command
    module, arguments = command[2], command[3:]
    if module in ("deploy.keys", "deploy.local_providers"):
        return []
    if module == "deploy.migrate":
        return [BY_NAME[name] for name in arguments]
    match = re.fullmatch(r"services\.(\w+)", module)
    assert match is not None, f"{module} is not a service"
    return [BY_NAME[match.group(1)]]


def test_the_bundled_schemas_cover_the_kubernetes_version() -> None:
    assert any(version.startswith(f"{KUBERNETES_VERSION}.") for version in all_versions())


@pytest.mark.parametrize(
    "document", kustomize(), ids=lambda d: f"{d['kind']}/{d['metadata']['name']}"
)
def test_every_kubernetes_object_is_valid(document: dict[str, Any]) -> None:
    checked = kubernetes_validate.validate(document, KUBERNETES_VERSION, strict=True)
    assert checked == KUBERNETES_VERSION


def test_every_manifest_is_in_the_kustomization() -> None:
    listed = set(_load(K8S / "kustomization.yaml")["resources"]) | {"kustomization.yaml"}
    assert {path.name for path in K8S.glob("*.y*ml")} == listed


def test_every_service_runs_with_its_migrations_first() -> None:
    for where in ("compose.yaml", *(f"{s.name.replace('_', '-')}:" for s in SERVICES)):
        containers = [c for c in CONTAINERS if c.where.startswith(where)]
        migrated = {
            s.name
            for c in containers
            if "deploy.migrate" in c.command
            for s in services_run_by(c.command)
        }
        served = {
            s.name
            for c in containers
            if "deploy.migrate" not in c.command
            for s in services_run_by(c.command)
        }
        assert served <= migrated, where
    assert {
        s.name
        for c in CONTAINERS
        if "deploy.migrate" not in c.command
        for s in services_run_by(c.command)
    } == set(BY_NAME)


@pytest.mark.parametrize("container", CONTAINERS, ids=lambda container: container.where)
def test_a_container_is_given_only_settings_its_services_read(container: Container) -> None:
    services = services_run_by(container.command)
    readable = {
        f"{service.env_prefix}{field.upper()}": (service, field)
        for service in services
        for field in service.settings.model_fields
    }
    keys_settings = {
        f"KEYS_{field.upper()}": field
        for field in KeysSettings.model_fields
        if container.where in KEYS_RUN_IN
    }
    assert set(container.env) <= set(readable) | set(keys_settings), (
        set(container.env) - set(readable) - set(keys_settings)
    )
    for service in services:  # the literal values parse, too
        options = {
            readable[name][1]: value
            for name, value in container.env.items()
            if value is not None and name in readable and readable[name][0] is service
        }
        service.settings.model_validate(options)
    KeysSettings.model_validate(
        {
            field: container.env[name]
            for name, field in keys_settings.items()
            if container.env.get(name) is not None
        }
    )


def test_the_operator_key_command_is_offered_by_compose_and_kubernetes() -> None:
    offered = {c.where for c in CONTAINERS if c.command[:3] == KEYS_COMMAND}
    assert "compose.yaml: keys" in offered
    kustomization = (K8S / "kustomization.yaml").read_text()
    assert "kubectl exec deploy/intake -- python -m deploy.keys issue" in kustomization
    for where in KEYS_RUN_IN:
        (container,) = [c for c in CONTAINERS if c.where == where]
        assert "KEYS_KAFKA_BOOTSTRAP_SERVERS" in container.env, where


def test_the_config_map_holds_every_key_the_containers_read() -> None:
    data = {
        (document["metadata"]["name"], key)
        for document in kustomize()
        if document["kind"] == "ConfigMap"
        for key in document["data"]
    }
    assert {ref for container in CONTAINERS for ref in container.config_map_keys} <= data


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
    module = Path(*container.command[2].split("."))
    assert (ROOT / module.with_suffix(".py")).exists() or (ROOT / module / "__main__.py").exists()
    assert module.parts[0] in _dockerfile_copies()


def test_a_new_kafka_cluster_id_never_reads_as_an_option() -> None:
    from deploy.devstack.kafka import _new_cluster_id

    assert not any(_new_cluster_id().startswith("-") for _ in range(2000))
