"""Every setting the dev stack hands a service is one its settings class reads (Compose and
Kubernetes: tests/unit/test_deploy_files.py)."""

import json
from dataclasses import asdict
from pathlib import Path

import pytest

from deploy.devstack.platform import SERVICES, PlatformSecrets, Service, service_options


@pytest.mark.parametrize("service", SERVICES, ids=lambda service: service.name)
def test_the_dev_stack_gives_a_service_only_settings_it_has(service: Service) -> None:
    options = service_options(
        service, "postgresql+asyncpg://-/-", "-:0", PlatformSecrets.generate()
    )
    assert set(options) <= set(service.settings.model_fields)


def test_each_service_holds_only_the_keys_it_uses() -> None:
    """Compliance never opens contacts: no transit key; only services storing personal data
    have a data key ring (each its own); only intake makes pseudonyms."""
    holders = {
        key: [service.name for service in SERVICES if service.holds(key)]
        for key in ("data_keys", "transit_keys", "pseudonym_key")
    }
    assert holders == {
        "data_keys": ["intake", "notifier", "agency_gateway"],
        "transit_keys": ["intake", "notifier", "agency_gateway"],
        "pseudonym_key": ["intake"],
    }


def test_each_data_key_ring_is_the_services_own() -> None:
    keys = PlatformSecrets.generate()
    rings = [keys.storage_keys[s.name] for s in SERVICES if s.holds("data_keys")]
    assert len(set(rings)) == len(rings) == 3
    assert keys.transit_keys not in rings


def test_an_older_dev_stack_keeps_its_keys_and_gets_the_new_data_key_rings(tmp_path: Path) -> None:
    older = PlatformSecrets.generate()
    path = tmp_path / "secrets.json"
    path.write_text(
        json.dumps(asdict(older) | {"storage_keys": {"intake": older.storage_keys["intake"]}})
    )
    loaded = PlatformSecrets.load_or_create(path)
    assert loaded.storage_keys["intake"] == older.storage_keys["intake"]
    assert (loaded.transit_keys, loaded.pseudonym_key) == (older.transit_keys, older.pseudonym_key)
    assert set(loaded.storage_keys) == {"intake", "notifier", "agency_gateway"}
    assert PlatformSecrets.load_or_create(path) == loaded  # written back, kept from now on
