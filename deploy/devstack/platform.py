"""What ``make run`` starts on top of Kafka and PostgreSQL: the platform's own processes.

The dev stack calls :func:`prepare` once the servers answer and the service databases exist,
then starts each returned :class:`ServiceProcess` (output to ``.devstack/logs/<name>.log``) and
waits for ``http://127.0.0.1:<port>/readyz`` to answer 200.
"""

from __future__ import annotations

import json
import secrets
import sys
from collections.abc import Iterable
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Any

from fastapi import FastAPI

from services.agency_gateway import wiring as agency_gateway
from services.agency_gateway.cli.demo import seed_demo_agencies
from services.agency_gateway.settings import AgencyGatewaySettings
from services.compliance import wiring as compliance
from services.compliance.settings import ComplianceSettings
from services.intake import wiring as intake
from services.intake.settings import IntakeSettings
from services.notifier import wiring as notifier
from services.notifier.settings import NotifierSettings
from shared.auth import ALL_LENDERS, Role
from shared.auth.keys import new_api_key, split_api_key
from shared.auth.registry import (
    CredentialIssuer,
    CredentialRecord,
    credentials_topic,
    ensure_credentials_topic,
)
from shared.crypto import KeyRing
from shared.db.migrations import upgrade_to_head
from shared.settings import ServiceSettings
from shared.tlog.note import Signer

from .infrastructure import LocalInfrastructure
from .local_providers import MESSAGES_URL

DEMO_LENDER = "lender-demo"
DEMO_AGENCIES = ("agency-north", "agency-south")
AUDIT_LOG_ORIGIN = "collections.localhost/audit"  # the dev stack's log: checkpoint origin
DEMO_AUDITOR = DEMO_LENDER  # the demo auditor sees the demo lender's loans, no other's
# Its id in credentials.json files written before: such a file gets a new, scoped key.
OLD_DEMO_AUDITORS = ("auditor-demo", ALL_LENDERS)
DEMO_LABEL = "demo"  # the registry label of the keys below


@dataclass(frozen=True)
class ServiceProcess:
    """One service to run: its name, HTTP port, command line and extra environment."""

    name: str  # "intake"
    port: int  # 8001
    argv: list[str]  # e.g. [sys.executable, "-m", "services.intake"]
    env: dict[str, str]
    banner: str = ""  # what `make run` prints for it (else its URL and docs)


@dataclass(frozen=True)
class Service:
    name: str
    port: int
    env_prefix: str
    migrations: Path
    settings: type[ServiceSettings]  # its fields say which keys the service holds
    roles: tuple[Role, ...]  # whose API keys it serves

    def holds(self, setting: str) -> bool:
        return setting in self.settings.model_fields


SERVICES = (
    Service("intake", 8001, "INTAKE_", intake.MIGRATIONS, IntakeSettings, intake.ROLES),
    Service("notifier", 8002, "NOTIFIER_", notifier.MIGRATIONS, NotifierSettings, notifier.ROLES),
    Service(
        "agency_gateway",
        8003,
        "AGENCY_GATEWAY_",
        agency_gateway.MIGRATIONS,
        AgencyGatewaySettings,
        agency_gateway.ROLES,
    ),
    Service(
        "compliance",
        8004,
        "COMPLIANCE_",
        compliance.MIGRATIONS,
        ComplianceSettings,
        compliance.ROLES,
    ),
)


def build_app(service: str, options: dict[str, Any]) -> FastAPI:
    """A service's app from settings given by field name (tests and document generation)."""
    if service == "intake":
        return intake.create_app(IntakeSettings(**options))
    if service == "notifier":
        return notifier.create_app(NotifierSettings(**options))
    if service == "agency_gateway":
        return agency_gateway.create_app(AgencyGatewaySettings(**options))
    if service == "compliance":
        return compliance.create_app(ComplianceSettings(**options))
    raise ValueError(f"no service named {service!r}")


@dataclass(frozen=True)
class PlatformSecrets:
    """Keys made once per dev stack and kept in ``secrets.json`` (never in the repository)."""

    storage_keys: dict[str, str]  # per service that seals data at rest: its own key ring
    transit_keys: str
    pseudonym_key: str
    log_signing_key: str = ""  # compliance's checkpoint signer (absent from older stacks)
    link_keys: str = ""  # the borrower links' ring: the notifier mints, intake opens (ditto)

    @classmethod
    def generate(cls) -> PlatformSecrets:
        return cls(
            storage_keys={
                s.name: KeyRing.generate_spec("k1") for s in SERVICES if s.holds("data_keys")
            },
            transit_keys=KeyRing.generate_spec("t1"),
            pseudonym_key=secrets.token_urlsafe(32),
            log_signing_key=str(Signer.generate(AUDIT_LOG_ORIGIN)),
            link_keys=KeyRing.generate_spec("l1"),
        )

    @classmethod
    def load_or_create(cls, path: Path) -> PlatformSecrets:
        if path.exists():
            kept = cls(**json.loads(path.read_text()))
            fresh = cls.generate()  # a service that now seals data at rest gets its key ring
            complete = kept.log_signing_key and kept.link_keys
            if set(fresh.storage_keys) <= set(kept.storage_keys) and complete:
                return kept
            made = cls(
                {**fresh.storage_keys, **kept.storage_keys},
                kept.transit_keys,
                kept.pseudonym_key,
                kept.log_signing_key or fresh.log_signing_key,
                kept.link_keys or fresh.link_keys,
            )
        else:
            made = cls.generate()
        _write_private(path, json.dumps(asdict(made), indent=2))
        return made


@dataclass(frozen=True)
class DemoCredentials:
    lender: dict[str, str]
    agencies: list[dict[str, str]]
    auditor: dict[str, str]

    @classmethod
    def generate(cls) -> DemoCredentials:
        return cls(
            lender=_credential(DEMO_LENDER),
            agencies=[_credential(agency) for agency in DEMO_AGENCIES],
            auditor=_credential(DEMO_AUDITOR),
        )

    @classmethod
    def load_or_create(cls, path: Path) -> DemoCredentials:
        if path.exists():
            loaded = cls(**json.loads(path.read_text()))
            if loaded.auditor["id"] in OLD_DEMO_AUDITORS:  # an auditor of every lender before
                loaded = replace(loaded, auditor=_credential(DEMO_AUDITOR))
                _write_private(path, json.dumps(asdict(loaded), indent=2))
            return loaded
        made = cls.generate()
        _write_private(path, json.dumps(asdict(made), indent=2))
        return made

    def grants(self) -> list[tuple[Role, dict[str, str]]]:
        """Each demo key with its role (its ``id`` is its tenant)."""
        return [
            (Role.LENDER, self.lender),
            *((Role.AGENCY, agency) for agency in self.agencies),
            (Role.AUDITOR, self.auditor),
        ]


def service_options(
    service: Service,
    database_url: str,
    kafka_bootstrap: str,
    keys: PlatformSecrets,
    topic_namespace: str = "",
) -> dict[str, Any]:
    """A service's settings by field name (the tests pass them to its settings class); each
    service gets only the keys its settings have a field for."""
    options: dict[str, Any] = {
        "database_url": database_url,
        "kafka_bootstrap_servers": kafka_bootstrap,
        "http_port": str(service.port),
        "topic_namespace": topic_namespace,
        "profile": "local",  # the local provider emulators, with their demo credentials
    }
    if service.holds("data_keys"):
        options["data_keys"] = keys.storage_keys[service.name]
    if service.holds("transit_keys"):
        options["transit_keys"] = keys.transit_keys
    if service.holds("pseudonym_key"):
        options["pseudonym_key"] = keys.pseudonym_key
    if service.holds("log_signing_key"):
        options["log_signing_key"] = keys.log_signing_key
    if service.holds("link_keys"):
        options["link_keys"] = keys.link_keys
    return options


def service_environment(
    service: Service,
    database_url: str,
    kafka_bootstrap: str,
    keys: PlatformSecrets,
    topic_namespace: str = "",
) -> dict[str, str]:
    """The same settings as environment variables, under the service's prefix."""
    options = service_options(service, database_url, kafka_bootstrap, keys, topic_namespace)
    return {f"{service.env_prefix}{name.upper()}": str(value) for name, value in options.items()}


async def prepare(infra: LocalInfrastructure, root: Path) -> list[ServiceProcess]:
    """Run migrations, issue the demo keys into the credential registry, register the demo
    agencies with the gateway; return the processes to start. Other topics are created by the
    services themselves when they start.
    """
    keys = PlatformSecrets.load_or_create(root / "secrets.json")
    credentials = DemoCredentials.load_or_create(root / "credentials.json")
    await issue_demo_keys(infra.kafka_bootstrap, credentials)
    processes = []
    for service in SERVICES:
        await infra.create_database(service.name)
        url = infra.postgres_url(service.name)
        await upgrade_to_head(service.migrations, url)
        if service.name == "agency_gateway":
            await seed_demo_agencies(url, DEMO_AGENCIES)
        processes.append(
            ServiceProcess(
                name=service.name,
                port=service.port,
                argv=[sys.executable, "-m", f"services.{service.name}"],
                env=service_environment(service, url, infra.kafka_bootstrap, keys),
                banner=console_banner(service.port) if service.name == "compliance" else "",
            )
        )
        if service.name == "intake":
            processes.append(borrower_site(processes[-1]))
    return processes


def console_banner(port: int) -> str:
    """Compliance's line: its docs and the console (auditors, lender operations)."""
    base = f"http://127.0.0.1:{port}"
    return f"{base}   docs: {base}/docs   console: {base}/console/ (sign in with a key below)"


BORROWER_SITE = "borrower_site"


def borrower_site(intake_process: ServiceProcess) -> ServiceProcess:
    """Intake's second entry point, the borrowers' site (their page and /v1/me): intake's
    settings and database, its own port; links in the notifier's messages point at it."""
    port = IntakeSettings.model_fields["borrower_http_port"].default
    base = f"http://127.0.0.1:{port}"
    return ServiceProcess(
        name=BORROWER_SITE,
        port=port,
        argv=[*intake_process.argv, "borrower"],
        env={**intake_process.env, "INTAKE_BORROWER_BASE_URL": base},
        banner=f"{base}/b/<token>   (a borrower's page: open the link in a message at "
        f"{MESSAGES_URL})",
    )


async def issue_demo_keys(
    kafka_bootstrap: str,
    credentials: DemoCredentials,
    topic_namespace: str = "",
    *,
    replication_factor: int = 1,
    min_insync_replicas: int = 1,
) -> CredentialIssuer:
    """Issue the demo keys the registry does not hold yet (one revoked by hand stays revoked),
    and revoke a demo auditor key an older stack issued that ``credentials`` no longer holds
    (an auditor of every lender). The registry's topic, if new, gets the replication given."""
    topic = credentials_topic(topic_namespace)
    await ensure_credentials_topic(kafka_bootstrap, topic, replication_factor, min_insync_replicas)
    issuer = CredentialIssuer(kafka_bootstrap, topic)
    registry = await issuer.list()
    for role, credential in credentials.grants():
        parts = split_api_key(credential["api_key"])
        if parts is not None and parts[0] not in registry:
            await issuer.issue(role, credential["id"], DEMO_LABEL, api_key=credential["api_key"])
    for superseded in superseded_demo_auditors(registry.values(), credentials):
        await issuer.revoke(superseded)
    return issuer


def superseded_demo_auditors(
    registry: Iterable[CredentialRecord], credentials: DemoCredentials
) -> list[str]:
    """The key ids of active demo auditor keys other than the current one."""
    current = split_api_key(credentials.auditor["api_key"])
    return [
        record.key_id
        for record in registry
        if record.role is Role.AUDITOR
        and record.label == DEMO_LABEL
        and record.revoked_at is None
        and (current is None or record.key_id != current[0])
    ]


def _credential(principal_id: str) -> dict[str, str]:
    return {"id": principal_id, "api_key": new_api_key()[1]}


def _write_private(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.touch(mode=0o600)
    path.write_text(text + "\n")
