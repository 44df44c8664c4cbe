"""Every setting a deployment hands a service is one its settings class reads."""

import re
from pathlib import Path

import pytest

from deploy.devstack.platform import SERVICES, PlatformSecrets, Service, service_options

DEPLOY = Path(__file__).resolve().parents[2] / "deploy"
MANIFESTS = [DEPLOY / "compose.yaml", *sorted((DEPLOY / "k8s").glob("*.yaml"))]


@pytest.mark.parametrize("service", SERVICES, ids=lambda service: service.name)
def test_the_dev_stack_gives_a_service_only_settings_it_has(service: Service) -> None:
    options = service_options(
        service, "postgresql+asyncpg://-/-", "-:0", PlatformSecrets.generate()
    )
    assert set(options) <= set(service.settings.model_fields)


def test_the_manifests_set_only_environment_variables_a_service_reads() -> None:
    unread = []
    for manifest in MANIFESTS:
        for service in SERVICES:
            for name in re.findall(rf"\b{service.env_prefix}([A-Z0-9_]+)\b", manifest.read_text()):
                if name.lower() not in service.settings.model_fields:
                    unread.append(f"{manifest.name}: {service.env_prefix}{name}")
    assert not unread


def test_only_intake_holds_the_at_rest_and_pseudonym_keys() -> None:
    holders = {
        key: [service.name for service in SERVICES if service.holds(key)]
        for key in ("data_keys", "transit_keys", "pseudonym_key")
    }
    assert holders == {
        "data_keys": ["intake"],
        "transit_keys": ["intake", "notifier", "agency_gateway"],
        "pseudonym_key": ["intake"],
    }
