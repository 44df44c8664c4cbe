"""Every setting the dev stack hands a service is one its settings class reads (Compose and
Kubernetes: tests/unit/test_deploy_files.py)."""

import pytest

from deploy.devstack.platform import SERVICES, PlatformSecrets, Service, service_options


@pytest.mark.parametrize("service", SERVICES, ids=lambda service: service.name)
def test_the_dev_stack_gives_a_service_only_settings_it_has(service: Service) -> None:
    options = service_options(
        service, "postgresql+asyncpg://-/-", "-:0", PlatformSecrets.generate()
    )
    assert set(options) <= set(service.settings.model_fields)


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
