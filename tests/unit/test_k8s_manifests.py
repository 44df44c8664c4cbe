"""The Kubernetes files a cluster accepts and the platform runs on: Strimzi's and
CloudNativePG's custom resources have what their operators' documentation requires; the
topics and the Kafka users' ACLs are what the services' code creates, consumes and publishes;
every setting a service needs in production comes from a ConfigMap or a Secret (no demo value
of the local profile reachable); the Deployments are hardened, probed, budgeted and fenced by
NetworkPolicies; the Ingress routes exactly the public routes; the Jobs run the operator's
command over SASL_SSL; and the README's Kubernetes section names every Secret and ConfigMap key
the manifests read. Compose keeps its data in named volumes, in the local profile.

All static (no cluster): the core objects against the Kubernetes schemas in
tests/unit/test_deploy_files.py (``kubernetes-validate``, offline).
"""

import re
from collections.abc import Iterator
from typing import Any

import pytest
import yaml
from pydantic import SecretStr
from sqlalchemy.dialects.postgresql.asyncpg import dialect as asyncpg_dialect
from sqlalchemy.engine import make_url

from deploy.devstack.platform import SERVICES, PlatformSecrets, build_app, service_options
from shared.auth.registry import TOPIC as CREDENTIALS_TOPIC
from shared.auth.registry import TOPIC_CONFIGS as CREDENTIALS_CONFIGS
from shared.events import catalog
from shared.events.catalog import EventType
from shared.events.topics import Topic, dead_letter_topic
from shared.settings import ServiceSettings
from tests.unit.test_deploy_files import (
    BORROWER_SITE,
    CONTAINERS,
    DEPLOY,
    K8S,
    ROOT,
    Container,
    is_core,
    is_k8s,
    k8s_jobs,
    kustomize,
    migrates,
    services_run_by,
)

README = ROOT / "README.md"
NAMESPACE = "collections"
KAFKA_CLUSTER = "collections"
OPERATOR_SETTINGS = "collections-operator-settings"  # the ConfigMap the operator creates
OPERATOR_KAFKA_USER = "collections-operator"  # the operator's command's Kafka user

STRIMZI_DOCS = "https://strimzi.io/docs/operators/latest/configuring.html"
CNPG_DOCS = "https://cloudnative-pg.io/documentation/current/cloudnative-pg.v1/"
# What each operator's API reference (and its CRD's schema) marks required, by kind: dotted
# paths under the object. Strimzi's `v1` API (0.49 and newer; 1.0 removed `v1beta2`): KRaft
# and node pools are the only mode, no annotation needed. The manifests were also validated in
# full, once, against the CRD schemas of Strimzi 1.2.0 and CloudNativePG 1.30.0 (not vendored).
REQUIRED: dict[tuple[str, str], tuple[str, list[str]]] = {
    ("kafka.strimzi.io/v1", "Kafka"): (
        f"{STRIMZI_DOCS}#type-KafkaSpec-reference",
        ["spec.kafka.listeners"],
    ),
    ("kafka.strimzi.io/v1", "KafkaNodePool"): (
        f"{STRIMZI_DOCS}#type-KafkaNodePoolSpec-reference",
        ["metadata.labels.strimzi.io/cluster", "spec.replicas", "spec.roles", "spec.storage"],
    ),
    ("kafka.strimzi.io/v1", "KafkaTopic"): (
        f"{STRIMZI_DOCS}#type-KafkaTopicSpec-reference",
        ["metadata.labels.strimzi.io/cluster", "spec.partitions", "spec.replicas"],
    ),
    ("kafka.strimzi.io/v1", "KafkaUser"): (
        f"{STRIMZI_DOCS}#type-KafkaUserSpec-reference",
        ["metadata.labels.strimzi.io/cluster", "spec.authentication.type"],
    ),
    ("postgresql.cnpg.io/v1", "Cluster"): (
        f"{CNPG_DOCS}#postgresql-cnpg-io-v1-ClusterSpec",
        ["spec.instances", "spec.storage.size"],
    ),
}
# Strimzi's AclRule: https://strimzi.io/docs/operators/latest/configuring.html#type-AclRule-reference
ACL_RESOURCE_TYPES = {"topic", "group", "cluster", "transactionalId"}
ACL_PATTERN_TYPES = {"literal", "prefix"}
ACL_OPERATIONS = {
    "Read", "Write", "Create", "Delete", "Alter", "Describe", "ClusterAction",
    "AlterConfigs", "DescribeConfigs", "IdempotentWrite", "All",
}  # fmt: skip

# Which topics each service publishes on (the architecture; cross-checked below against the
# event types its code names). Consumed topics and groups come from the services' wiring.
PUBLISHES = {
    "intake": {Topic.LOANS},
    "notifier": {Topic.NOTIFICATIONS, Topic.DATA_ANSWERS},
    "agency_gateway": {Topic.ASSIGNMENTS, Topic.AGENCY_ACTIVITIES, Topic.DATA_ANSWERS},
    "compliance": {Topic.COMPLIANCE, Topic.DATA_ANSWERS},
}
KAFKA_USER = {s.name: s.name.replace("_", "-") for s in SERVICES}  # kafka-users.yaml
DATABASE_CLUSTER = {s.name: f"{KAFKA_USER[s.name]}-db" for s in SERVICES}  # postgres.yaml
PUBLIC = {"notifier", "agency-gateway", "borrower-site"}  # what ingress.yaml routes to

# A value of the local profile: loopback, the emulators, demo names and keys.
DEMO_VALUE = re.compile(
    r"127\.0\.0\.1|localhost|\blocal\b|demo|dev-only|example\.com|lender\.example|8010|"
    r"0000000000|\+15005550006|本地",
    re.IGNORECASE,
)
# Settings whose default is a local value without saying so in the value.
LOCAL_DEFAULTS_TOO = {"aliyun_sign_name", "smtp_port", "smtp_username", "smtp_security"}
# Intake's lender API never opens a borrower link nor shows a page (the borrowers' site does).
NOT_READ_BY_THE_LENDER_API = {"link_keys", "lender_names", "borrower_base_url"}


DOCUMENTS = kustomize()  # what `kubectl apply -k deploy/k8s` applies
JOBS = k8s_jobs()


def _get(document: dict[str, Any], dotted: str) -> Any:
    """``metadata.labels.strimzi.io/cluster``: keys after the first two may hold dots."""
    first, second, *rest = dotted.split(".")
    value = document.get(first, {}).get(second)
    if rest:
        value = (value or {}).get(".".join(rest))
    return value


def _custom_resources() -> list[dict[str, Any]]:
    return [d for d in DOCUMENTS if not is_core(d)]


def _of_kind(kind: str) -> list[dict[str, Any]]:
    return [d for d in DOCUMENTS if d["kind"] == kind]


def _config() -> dict[str, str]:
    (config_map,) = [d for d in _of_kind("ConfigMap") if d["metadata"]["name"] == "collections"]
    data: dict[str, str] = config_map["data"]
    return data


def _subscriptions() -> dict[str, list[tuple[str, list[str]]]]:
    """Each service's consumer groups and their topics, from its own wiring."""
    keys = PlatformSecrets.generate()
    found = {}
    for service in SERVICES:
        options = service_options(service, "postgresql+asyncpg://u@db/x", "kafka:9093", keys)
        app = build_app(service.name, options)
        found[service.name] = [(g, t) for g, t, _ in app.state.runtime.subscriptions]
    return found


SUBSCRIPTIONS = _subscriptions()


# --- custom resources ---------------------------------------------------------------


@pytest.mark.parametrize(
    "document", _custom_resources(), ids=lambda d: f"{d['kind']}/{d['metadata']['name']}"
)
def test_each_custom_resource_has_what_its_operator_requires(document: dict[str, Any]) -> None:
    key = (document["apiVersion"], document["kind"])
    assert key in REQUIRED, f"{key}: an API version or kind this test does not know"
    link, fields = REQUIRED[key]
    missing = [field for field in fields if _get(document, field) in (None, "", [], {})]
    assert not missing, f"{missing} (see {link})"
    if document["apiVersion"].startswith("kafka.strimzi.io/") and document["kind"] != "Kafka":
        assert document["metadata"]["labels"]["strimzi.io/cluster"] == KAFKA_CLUSTER


def test_the_custom_resources_cover_kafka_and_every_database() -> None:
    kinds = {(d["apiVersion"], d["kind"]) for d in _custom_resources()}
    assert kinds == set(REQUIRED)
    (kafka,) = _of_kind("Kafka")
    assert kafka["metadata"]["name"] == KAFKA_CLUSTER
    clusters = {d["metadata"]["name"]: d for d in _of_kind("Cluster")}
    assert set(clusters) == set(DATABASE_CLUSTER.values())
    for service in SERVICES:  # one database per service, owned by its own role
        initdb = clusters[DATABASE_CLUSTER[service.name]]["spec"]["bootstrap"]["initdb"]
        assert initdb == {"database": service.name, "owner": service.name}
        assert clusters[DATABASE_CLUSTER[service.name]]["spec"]["instances"] >= 3


def test_kafka_runs_kraft_with_controllers_and_brokers_on_a_tls_scram_listener() -> None:
    pools = _of_kind("KafkaNodePool")
    roles = {role for pool in pools for role in pool["spec"]["roles"]}
    assert roles == {"controller", "broker"}
    controllers = sum(p["spec"]["replicas"] for p in pools if "controller" in p["spec"]["roles"])
    brokers = sum(p["spec"]["replicas"] for p in pools if "broker" in p["spec"]["roles"])
    assert controllers % 2 == 1  # a quorum
    assert brokers >= int(_config()["topic-replication-factor"])
    (kafka,) = _of_kind("Kafka")
    (listener,) = kafka["spec"]["kafka"]["listeners"]
    assert listener["tls"] is True
    assert listener["authentication"] == {"type": "scram-sha-512"}
    assert kafka["spec"]["kafka"]["authorization"] == {"type": "simple"}
    assert kafka["spec"]["kafka"]["config"]["auto.create.topics.enable"] is False
    assert {"topicOperator", "userOperator"} <= set(kafka["spec"]["entityOperator"])
    config = _config()
    assert (
        config["kafka-bootstrap-servers"] == f"{KAFKA_CLUSTER}-kafka-bootstrap:{listener['port']}"
    )
    assert config["kafka-security-protocol"] == "SASL_SSL"
    assert config["kafka-sasl-mechanism"] == "SCRAM-SHA-512"


# --- topics and ACLs, from the code -------------------------------------------------


def test_every_topic_the_code_uses_is_declared_as_the_code_would_create_it() -> None:
    """The event topics, each group's dead-letter topics and the credential registry, with
    the partitions, replicas, min.insync.replicas and compaction of shared/runtime.py and
    shared/auth/registry.py."""
    expected = {topic.value for topic in Topic} | {CREDENTIALS_TOPIC}
    expected |= {
        dead_letter_topic(topic, group)
        for groups in SUBSCRIPTIONS.values()
        for group, topics in groups
        for topic in topics
    }
    declared = {d["spec"]["topicName"]: d for d in _of_kind("KafkaTopic")}
    assert set(declared) == expected
    config = _config()
    partitions = ServiceSettings.model_fields["topic_partitions"].default
    for name, document in declared.items():
        spec = document["spec"]
        assert document["metadata"]["name"] == name
        assert spec["replicas"] == int(config["topic-replication-factor"])
        assert spec["config"]["min.insync.replicas"] == config["topic-min-insync-replicas"]
        if name == CREDENTIALS_TOPIC:
            assert spec["partitions"] == 1
            assert spec["config"].items() >= CREDENTIALS_CONFIGS.items()
        else:
            assert spec["partitions"] == partitions
            assert "cleanup.policy" not in spec["config"]


def _acls(user: str) -> dict[tuple[str, str, str], set[str]]:
    (document,) = [d for d in _of_kind("KafkaUser") if d["metadata"]["name"] == user]
    spec = document["spec"]
    assert spec["authentication"] == {"type": "scram-sha-512"}
    assert spec["authorization"]["type"] == "simple"
    rules: dict[tuple[str, str, str], set[str]] = {}
    for acl in spec["authorization"]["acls"]:
        resource = acl["resource"]
        assert resource["type"] in ACL_RESOURCE_TYPES
        assert resource["patternType"] in ACL_PATTERN_TYPES
        assert set(acl["operations"]) <= ACL_OPERATIONS
        key = (resource["type"], resource["name"], resource["patternType"])
        rules.setdefault(key, set()).update(acl["operations"])
    return rules


def _granted(rules: dict[tuple[str, str, str], set[str]], kind: str, operation: str) -> set[str]:
    """The literal resources of ``kind`` with ``operation`` (prefix rules: as given)."""
    return {name for (k, name, _), ops in rules.items() if k == kind and operation in ops}


def test_each_service_has_a_kafka_user_allowed_what_it_does_and_no_more() -> None:
    users = {d["metadata"]["name"] for d in _of_kind("KafkaUser")}
    assert users == set(KAFKA_USER.values()) | {OPERATOR_KAFKA_USER}
    every_topic = {d["spec"]["topicName"] for d in _of_kind("KafkaTopic")}
    for service, groups in SUBSCRIPTIONS.items():
        rules = _acls(KAFKA_USER[service])
        consumed = {topic for _, topics in groups for topic in topics}
        assert _granted(rules, "topic", "Read") == consumed | {CREDENTIALS_TOPIC}, service
        assert _granted(rules, "group", "Read") == {group for group, _ in groups}, service
        dead_letters = {dead_letter_topic(t, g) for g, topics in groups for t in topics}
        published = {topic.value for topic in PUBLISHES[service]}
        assert _granted(rules, "topic", "Write") == published | dead_letters, service
        # Describe on every platform topic (the start-up check of what exists), by prefix.
        ((kind, prefix, pattern),) = [k for k, ops in rules.items() if "Describe" in ops]
        assert (kind, pattern) == ("topic", "prefix")
        assert all(name.startswith(prefix) for name in every_topic)
        assert not any(
            ops & {"All", "Create", "Delete", "Alter", "AlterConfigs"} for ops in rules.values()
        )


def test_each_service_publishes_on_the_topics_its_user_may_write() -> None:
    """Cross-check of PUBLISHES: a service's code (its consumer aside) names an event type of
    every topic it writes; every consumed topic has a writer."""
    types = {name: value for name, value in vars(catalog).items() if isinstance(value, EventType)}
    for service in SERVICES:
        named: set[Topic] = set()
        for path in (ROOT / "services" / service.name).rglob("*.py"):
            if path.name == "consumer.py":
                continue
            text = path.read_text()
            named |= {t.topic for name, t in types.items() if re.search(rf"\b{name}\b", text)}
        assert PUBLISHES[service.name] <= named, service.name
    consumed = {t for groups in SUBSCRIPTIONS.values() for _, topics in groups for t in topics}
    written = {topic.value for topics in PUBLISHES.values() for topic in topics}
    assert consumed <= written


def test_the_operators_kafka_user_keeps_the_registry_and_the_dead_letters() -> None:
    rules = _acls(OPERATOR_KAFKA_USER)
    assert {"Read", "Write"} <= rules[("topic", CREDENTIALS_TOPIC, "literal")]
    dead_letters = {d["spec"]["topicName"] for d in _of_kind("KafkaTopic")}
    dead_letters = {name for name in dead_letters if name.endswith(".dlq")}
    assert _granted(rules, "topic", "Read") == dead_letters | {CREDENTIALS_TOPIC}
    assert _granted(rules, "topic", "Write") == {t.value for t in Topic} | {CREDENTIALS_TOPIC}
    assert not _granted(rules, "group", "Read")


# --- what each container is given ---------------------------------------------------


def _k8s_service_containers() -> Iterator[Container]:
    for container in CONTAINERS:
        if is_k8s(container) and not migrates(container) and services_run_by(container.command):
            yield container


def _needs_a_production_value(field: str, default: Any) -> bool:
    value = default.get_secret_value() if isinstance(default, SecretStr) else default
    return (
        isinstance(default, SecretStr)
        or field in LOCAL_DEFAULTS_TOO
        or bool(DEMO_VALUE.search(str(value)))
    )


@pytest.mark.parametrize(
    "container", list(_k8s_service_containers()), ids=lambda container: container.where
)
def test_every_setting_with_a_local_default_is_set(container: Container) -> None:
    """No settings field is required (each has a default for the local profile); so the ones
    whose default is a local or demo value, or a secret, are the ones production must set."""
    (service,) = services_run_by(container.command)
    exempt = (
        NOT_READ_BY_THE_LENDER_API
        if container.command == ["python", "-m", "services.intake"]
        else set()
    )
    needed = set()
    for field, info in service.settings.model_fields.items():
        if field in exempt:
            continue
        if info.is_required() or _needs_a_production_value(
            field, info.get_default(call_default_factory=True)
        ):
            needed.add(f"{service.env_prefix}{field.upper()}")
    assert {
        f"{service.env_prefix}DATABASE_URL",
        f"{service.env_prefix}KAFKA_SASL_PASSWORD",
    } <= needed
    assert needed <= set(container.env), needed - set(container.env)
    assert f"{service.env_prefix}PROFILE" not in container.env  # production, the default


@pytest.mark.parametrize(
    "container", [c for c in CONTAINERS if is_k8s(c)], ids=lambda container: container.where
)
def test_kafka_and_postgresql_are_reached_over_tls_as_the_containers_own_users(
    container: Container,
) -> None:
    """Every Kafka client on SASL_SSL as its own KafkaUser (password from the Secret Strimzi
    writes), every database as its service's owner (password from CloudNativePG's Secret,
    verify-full against the cluster's CA): the Jobs as much as the services."""
    config = _config()
    prefixes = {s.env_prefix for s in services_run_by(container.command)} or {"COLLECTIONS_"}
    for prefix in prefixes:
        if f"{prefix}KAFKA_SASL_USERNAME" in container.env:
            user = container.env[f"{prefix}KAFKA_SASL_USERNAME"]
            assert container.sources[f"{prefix}KAFKA_SASL_PASSWORD"] == ("secret", user, "password")
            assert (
                container.sources[f"{prefix}KAFKA_SECURITY_PROTOCOL"][2]
                == "kafka-security-protocol"
            )
            assert container.sources[f"{prefix}KAFKA_SSL_CAFILE"][2] == "kafka-ssl-cafile"
            if prefix == "COLLECTIONS_":
                assert user == OPERATOR_KAFKA_USER
            else:
                (service,) = [s for s in SERVICES if s.env_prefix == prefix]
                assert user == KAFKA_USER[service.name]
        elif prefix != "COLLECTIONS_":
            assert migrates(container), container.where  # only a migration needs no Kafka
    for service in services_run_by(container.command):
        database = DATABASE_CLUSTER[service.name]
        url = make_url(config[container.sources[f"{service.env_prefix}DATABASE_URL"][2]])
        assert (url.drivername, url.host, url.database) == (
            "postgresql+asyncpg", f"{database}-rw", service.name,
        )  # fmt: skip
        assert url.username == service.name
        assert url.password is None
        assert container.sources["PGPASSWORD"] == ("secret", f"{database}-app", "password")
        assert (
            config[container.sources[f"{service.env_prefix}DATABASE_SSLMODE"][2]] == "verify-full"
        )


def test_asyncpg_takes_the_password_from_pgpassword(monkeypatch: pytest.MonkeyPatch) -> None:
    """Why the manifests may set PGPASSWORD: SQLAlchemy passes no password for a URL without
    one, and asyncpg then reads PGPASSWORD (libpq's variable)."""
    from asyncpg import connect_utils

    monkeypatch.setenv("PGPASSWORD", "from-the-secret")
    url = make_url(_config()["intake-database-url"])
    _, options = asyncpg_dialect().create_connect_args(url)  # type: ignore[no-untyped-call]
    assert "password" not in options
    _addresses, parameters = connect_utils._parse_connect_dsn_and_args(  # type: ignore[attr-defined]
        dsn=None, host=options["host"], port=options["port"], user=options["user"],
        password=None, passfile=None, database=options["database"], ssl=None,
        service=None, servicefile=None, direct_tls=False, server_settings=None,
        target_session_attrs=None, krbsrvname=None, gsslib=None,
    )  # fmt: skip
    assert parameters.password == "from-the-secret"


def _yaml_values(node: Any) -> Iterator[str]:
    if isinstance(node, dict):
        for key, value in node.items():
            yield str(key)
            yield from _yaml_values(value)
    elif isinstance(node, list):
        for item in node:
            yield from _yaml_values(item)
    elif node is not None:
        yield str(node)


def test_no_local_or_demo_value_is_in_the_kubernetes_manifests() -> None:
    compose = yaml.safe_load((DEPLOY / "compose.yaml").read_text())
    dev_values = {
        str(value)
        for spec in compose["services"].values()
        for name, value in spec.get("environment", {}).items()
        if name.endswith(("_KEYS", "_KEY"))
    }
    assert dev_values
    for document in DOCUMENTS + JOBS:
        for value in _yaml_values(document):
            assert not DEMO_VALUE.search(value), (document["metadata"], value)
            assert value not in dev_values
    for container in CONTAINERS:
        if is_k8s(container):
            assert not any(name.endswith("_PROFILE") for name in container.env)


# --- Deployments, disruption, network, ingress --------------------------------------


def _deployments() -> dict[str, dict[str, Any]]:
    return {d["metadata"]["name"]: d for d in _of_kind("Deployment")}


@pytest.mark.parametrize("name", sorted(_deployments()))
def test_each_deployment_is_hardened_probed_and_budgeted(name: str) -> None:
    deployment = _deployments()[name]
    pod = deployment["spec"]["template"]["spec"]
    labels = deployment["spec"]["template"]["metadata"]["labels"]
    assert labels["app.kubernetes.io/part-of"] == NAMESPACE  # under the default deny
    assert pod["securityContext"]["runAsNonRoot"] is True
    assert pod["securityContext"]["runAsUser"] != 0
    assert pod["automountServiceAccountToken"] is False
    (container,) = pod["containers"]
    context = container["securityContext"]
    assert context["readOnlyRootFilesystem"] is True
    assert context["allowPrivilegeEscalation"] is False
    assert context["capabilities"]["drop"] == ["ALL"]
    assert {"cpu", "memory"} <= set(container["resources"]["requests"])
    assert {"cpu", "memory"} <= set(container["resources"]["limits"])
    assert container["readinessProbe"]["httpGet"]["path"] == "/readyz"
    assert container["livenessProbe"]["httpGet"]["path"] == "/healthz"
    assert container["startupProbe"]["httpGet"]["path"] == "/healthz"
    (port,) = container["ports"]
    annotations = deployment["spec"]["template"]["metadata"]["annotations"]
    assert annotations == {
        "prometheus.io/scrape": "true",
        "prometheus.io/port": str(port["containerPort"]),
        "prometheus.io/path": "/metrics",
    }
    selector = deployment["spec"]["selector"]["matchLabels"]
    budgets = [
        d
        for d in _of_kind("PodDisruptionBudget")
        if d["spec"]["selector"]["matchLabels"] == selector
    ]
    assert len(budgets) == 1
    assert budgets[0]["spec"]["minAvailable"] < deployment["spec"]["replicas"]
    assert any(d["spec"]["selector"] == selector for d in _of_kind("Service"))


def _selects(selector: dict[str, Any], labels: dict[str, str]) -> bool:
    if not selector.get("matchLabels", {}).items() <= labels.items():
        return False
    for expression in selector.get("matchExpressions", []):
        assert expression["operator"] == "In"
        if labels.get(expression["key"]) not in expression["values"]:
            return False
    return True


def _policies_for(labels: dict[str, str]) -> list[dict[str, Any]]:
    return [p for p in _of_kind("NetworkPolicy") if _selects(p["spec"]["podSelector"], labels)]


def _egress_peers(labels: dict[str, str]) -> list[tuple[dict[str, Any], list[Any]]]:
    return [
        (peer, [p["port"] for p in rule.get("ports", [])])
        for policy in _policies_for(labels)
        for rule in policy["spec"].get("egress", [])
        for peer in rule["to"]
    ]


def _pod_labels() -> dict[str, dict[str, str]]:
    pods = {n: d["spec"]["template"]["metadata"]["labels"] for n, d in _deployments().items()}
    for job in JOBS:
        pods[job["metadata"]["generateName"]] = job["spec"]["template"]["metadata"]["labels"]
    return pods


def test_network_policies_deny_by_default_and_allow_what_each_pod_needs() -> None:
    (deny,) = [p for p in _of_kind("NetworkPolicy") if p["metadata"]["name"] == "default-deny"]
    assert set(deny["spec"]["policyTypes"]) == {"Ingress", "Egress"}
    assert "ingress" not in deny["spec"]
    assert "egress" not in deny["spec"]
    database_of = {"borrower-site": "intake", "intake": "intake"} | {
        KAFKA_USER[s.name]: s.name for s in SERVICES
    }
    for name, labels in _pod_labels().items():
        assert _selects(deny["spec"]["podSelector"], labels), name
        peers = _egress_peers(labels)
        brokers = {"strimzi.io/cluster": KAFKA_CLUSTER, "strimzi.io/kind": "Kafka"}
        assert any(p.get("podSelector", {}).get("matchLabels") == brokers for p, _ in peers), name
        databases = {
            p["podSelector"]["matchLabels"]["cnpg.io/cluster"]
            for p, _ in peers
            if "cnpg.io/cluster" in p.get("podSelector", {}).get("matchLabels", {})
        }
        if name in database_of:  # a service: its own database only
            assert databases == {DATABASE_CLUSTER[database_of[name]]}, name
        else:  # the operator's Jobs (migrations): each service's
            assert databases == set(DATABASE_CLUSTER.values()), name
        outside = {port for peer, ports in peers if "ipBlock" in peer for port in ports}
        expected_outside = {"notifier": {443, 587, 465}, "agency-gateway": {443}}
        assert outside == expected_outside.get(name, set()), name
        ingress_from = [
            peer["namespaceSelector"]["matchLabels"]
            for policy in _policies_for(labels)
            for rule in policy["spec"].get("ingress", [])
            for peer in rule["from"]
        ]
        controller = {"kubernetes.io/metadata.name": "ingress-nginx"}
        assert (controller in ingress_from) == (name in PUBLIC), name
        if name in _deployments():
            assert {"kubernetes.io/metadata.name": "monitoring"} in ingress_from, name
    (kafka,) = _of_kind("Kafka")
    (listener,) = kafka["spec"]["kafka"]["listeners"]
    (kafka_peer,) = listener["networkPolicyPeers"]
    assert kafka_peer["podSelector"]["matchLabels"] == {"app.kubernetes.io/part-of": NAMESPACE}


def test_the_ingress_routes_exactly_the_public_routes() -> None:
    (ingress,) = _of_kind("Ingress")
    services = {d["metadata"]["name"] for d in _of_kind("Service")}
    routes = {
        (rule["host"].split(".")[0], path["path"], path["backend"]["service"]["name"])
        for rule in ingress["spec"]["rules"]
        for path in rule["http"]["paths"]
    }
    assert routes == {
        ("notifier", "/v1/receipts", "notifier"),
        ("agencies", "/v1/assignments", "agency-gateway"),
        ("agencies", "/v1/webhooks", "agency-gateway"),
        ("borrowers", "/b", "borrower-site"),
        ("borrowers", "/v1/me", "borrower-site"),
    }
    assert {service for *_, service in routes} == PUBLIC <= services
    hosts = [rule["host"] for rule in ingress["spec"]["rules"]]
    assert all(host.endswith(".invalid") for host in hosts)  # placeholders, never resolved
    (tls,) = ingress["spec"]["tls"]
    assert sorted(tls["hosts"]) == sorted(hosts)
    assert tls["secretName"]
    # The routes exist: the receipts of every provider, the agencies' API, the site.
    openapi = {p.stem: (p.read_text()) for p in (ROOT / "docs" / "openapi").glob("*.json")}
    assert '"/v1/receipts/{provider}"' in openapi["notifier"]
    assert '"/v1/assignments"' in openapi["agency_gateway"]
    assert '"/v1/webhooks/deliveries"' in openapi["agency_gateway"]
    assert '"/v1/me"' in openapi["intake-borrower"]


# --- the operator's Jobs ------------------------------------------------------------


def test_the_jobs_run_the_operators_command_in_pods_of_their_own() -> None:
    jobs = JOBS
    commands = [job["spec"]["template"]["spec"]["containers"][0]["command"] for job in jobs]
    migrated = [c[2:] for c in commands if c[:2] == ["collections", "migrate"]]
    assert sorted(name for names in migrated for name in names) == sorted(s.name for s in SERVICES)
    assert all(len(names) == 1 for names in migrated)  # each with its own database's owner
    (issue,) = [c for c in commands if c[:3] == ["collections", "keys", "issue"]]
    assert issue[3:7] == ["--role", "operator", "--tenant", "prometheus"]
    for job in jobs:
        assert job["metadata"]["namespace"] == NAMESPACE
        assert "generateName" in job["metadata"]
        assert "name" not in job["metadata"]
        assert job["spec"]["template"]["spec"]["restartPolicy"] == "Never"
    (issuing,) = [j for j in jobs if j["metadata"]["generateName"] == "issue-key-"]
    assert issuing["spec"]["backoffLimit"] == 0  # a retry would print a second key
    for container in CONTAINERS:  # no service pod runs the key command or holds its settings
        if is_k8s(container) and container.command[0] == "python":
            assert not any(name.startswith("COLLECTIONS_") for name in container.env)


# --- the README: what an operator follows -------------------------------------------


def _readme_section(title: str) -> str:
    text = README.read_text()
    start = text.index(f"## {title}\n")
    end = text.find("\n## ", start + 1)
    return text[start : end if end != -1 else None]


def _created(section: str, kind: str) -> dict[str, set[str]]:
    """``kubectl create secret generic NAME --from-literal=KEY=... --from-file=KEY=...``
    (or ``configmap``), across continuation lines: the keys of each object."""
    found: dict[str, set[str]] = {}
    commands = section.replace("\\\n", " ").splitlines()
    for command in commands:
        match = re.search(rf"kubectl -n {NAMESPACE} create {kind} (\S+)", command)
        if match:
            keys = set(re.findall(r"--from-(?:literal|file)=([\w.-]+)=", command))
            found.setdefault(match.group(1), set()).update(keys)
    return found


def _made_by_operators(secret: str) -> bool:
    """Secrets Strimzi (a KafkaUser's password, the cluster CA) or CloudNativePG (a
    cluster's app credentials and CA) writes."""
    users = {d["metadata"]["name"] for d in _of_kind("KafkaUser")}
    clusters = {d["metadata"]["name"] for d in _of_kind("Cluster")}
    return (
        secret in users
        or secret == f"{KAFKA_CLUSTER}-cluster-ca-cert"
        or any(secret in (f"{c}-app", f"{c}-ca") for c in clusters)
    )


def _read_by_the_manifests() -> tuple[dict[str, set[str]], dict[str, set[str]]]:
    secrets: dict[str, set[str]] = {}
    config: dict[str, set[str]] = {}
    for container in CONTAINERS:
        if is_k8s(container):
            for kind, name, key in container.sources.values():
                target = secrets if kind == "secret" else config
                target.setdefault(name, set()).add(key)
    for document in DOCUMENTS + JOBS:
        template = document.get("spec", {}).get("template", {}).get("spec", {})
        for volume in template.get("volumes", []):
            for source in volume.get("projected", {}).get("sources", []):
                if "secret" in source:
                    keys = {item["key"] for item in source["secret"]["items"]}
                    secrets.setdefault(source["secret"]["name"], set()).update(keys)
    (ingress,) = _of_kind("Ingress")
    secrets.setdefault(ingress["spec"]["tls"][0]["secretName"], set())
    return secrets, config


def test_the_readme_names_every_secret_and_setting_the_operator_creates() -> None:
    section = _readme_section("Kubernetes")
    secrets, config = _read_by_the_manifests()
    ours = {name: keys for name, keys in secrets.items() if not _made_by_operators(name)}
    documented = _created(section, "secret generic")
    tls = re.findall(rf"kubectl -n {NAMESPACE} create secret tls (\S+)", section)
    assert set(documented) | set(tls) == set(ours)
    for name, keys in documented.items():
        assert keys == ours[name], name
    for name in tls:
        assert ours[name] == set()
    assert _created(section, "configmap") == {OPERATOR_SETTINGS: config[OPERATOR_SETTINGS]}
    # The rest Strimzi and CloudNativePG write, as the section says.
    assert f"{KAFKA_CLUSTER}-cluster-ca-cert" in section
    assert "<cluster>-app" in section
    assert "<cluster>-ca" in section


def test_the_readme_gives_the_order_an_operator_follows() -> None:
    section = _readme_section("Kubernetes")
    steps = [
        f"kubectl create namespace {NAMESPACE}",
        "strimzi.io/install/latest",
        "cloudnative-pg release manifest",
        f"kubectl -n {NAMESPACE} create secret generic",
        f"kubectl -n {NAMESPACE} create configmap {OPERATOR_SETTINGS}",
        "kubectl apply -k deploy/k8s",
        "kubectl create -f deploy/k8s/jobs/migrate.yaml",
        "kubectl create -f deploy/k8s/jobs/issue-key.yaml",
    ]
    positions = [section.index(step) for step in steps]
    assert positions == sorted(positions)
    for path in re.findall(r"deploy/k8s/[\w./-]+\.yaml", section):
        assert (ROOT / path).exists(), path
    (ingress,) = _of_kind("Ingress")
    for rule in ingress["spec"]["rules"]:
        assert rule["host"] in section


# --- Compose, the local profile ------------------------------------------------------


def test_compose_keeps_kafka_and_postgresql_data_in_named_volumes() -> None:
    compose = yaml.safe_load((DEPLOY / "compose.yaml").read_text())
    services = compose["services"]
    mounts = {
        name: {m.split(":")[0]: m.split(":")[1] for m in services[name]["volumes"]}
        for name in ("kafka", "postgres")
    }
    assert mounts["kafka"]["kafka-data"] == services["kafka"]["environment"]["KAFKA_LOG_DIRS"]
    assert mounts["postgres"]["postgres-data"] == "/var/lib/postgresql/data"
    assert set(compose["volumes"]) == {"kafka-data", "postgres-data"}


def test_compose_is_the_local_profile() -> None:
    """Its dev keys and demo providers are allowed there only: each service says so."""
    for container in CONTAINERS:
        if is_k8s(container) or migrates(container):
            continue
        for service in services_run_by(container.command):
            assert container.env[f"{service.env_prefix}PROFILE"] == "local", container.where
    assert any(c.command == BORROWER_SITE for c in CONTAINERS if not is_k8s(c))


def test_the_image_runs_unprivileged_with_a_read_only_root() -> None:
    dockerfile = (DEPLOY / "Dockerfile").read_text()
    assert "\nUSER 10001:10001\n" in dockerfile
    assert "PYTHONDONTWRITEBYTECODE=1" in dockerfile  # nothing written under /app
    users = {
        d["spec"]["template"]["spec"]["securityContext"]["runAsUser"]
        for d in _of_kind("Deployment")
    }
    assert users == {10001}


def test_the_jobs_directory_holds_only_jobs() -> None:
    assert {d["kind"] for d in JOBS} == {"Job"}
    assert {p.name for p in (K8S / "jobs").iterdir()} == {"migrate.yaml", "issue-key.yaml"}


def test_each_service_that_seals_holds_its_own_ring_to_reseal_from_its_pod() -> None:
    """The README's rotation: `kubectl exec deploy/<name> -- collections reseal <service>`
    works because each sealing service's pod holds its own data keys (and its database)."""
    section = _readme_section("Kubernetes")
    for container in _k8s_service_containers():
        (service,) = services_run_by(container.command)
        if service.holds("data_keys"):
            name = f"{service.env_prefix}DATA_KEYS"
            secret = f"{KAFKA_USER[service.name]}-keys"
            assert container.sources[name] == ("secret", secret, "data-keys"), container.where
            assert secret in section
    assert "collections reseal agency_gateway" in section


def test_a_settings_field_is_read_from_its_prefix_and_upper_name_only() -> None:
    """What the checks of variable names above assume: no nested delimiter, no alias, names
    not case-sensitive, so ``<PREFIX><FIELD>`` is the one variable of each field."""
    from deploy.cli.settings import OperatorSettings

    for settings in [s.settings for s in SERVICES] + [OperatorSettings]:
        config = settings.model_config
        assert config.get("env_nested_delimiter") is None, settings
        assert not config.get("case_sensitive"), settings
        assert config.get("env_prefix"), settings
        for name, field in settings.model_fields.items():
            assert field.alias is None, (settings, name)
            assert field.validation_alias is None, (settings, name)
