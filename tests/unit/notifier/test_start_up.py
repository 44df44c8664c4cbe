"""The notifier refuses to start on a bad policy or template, naming the file and the key,
without the borrower links' keys, and outside the local profile on a provider secret still at
its public demo value."""

from pathlib import Path

import pytest

from services.notifier.domain.cadence_policies import PolicyError
from services.notifier.domain.templates import TemplateError
from services.notifier.settings import NotifierSettings
from services.notifier.wiring import create_app
from shared.crypto import KeyRing
from tests.unit.notifier.support import POLICIES, TEMPLATES, copy_of, edit


def settings(**changes: Path | str) -> NotifierSettings:
    keys = {
        "transit_keys": KeyRing.generate_spec("t1"),
        "data_keys": KeyRing.generate_spec("n1"),
        "link_keys": KeyRing.generate_spec("l1"),
    }
    return NotifierSettings.model_validate({**keys, "profile": "local", **changes})


def test_the_shipped_policies_and_templates_start() -> None:
    app = create_app(settings())
    assert {p.id for p in app.state.notifier.policies.policies} == {"cn-default", "us-default"}


def test_without_link_keys_the_notifier_does_not_start_and_says_which_setting() -> None:
    with pytest.raises(ValueError, match=r"^link_keys: the key ring is empty"):
        create_app(settings(link_keys=""))


def test_an_invalid_policy_stops_the_start_naming_file_and_key(tmp_path: Path) -> None:
    policies = copy_of(POLICIES, tmp_path / "policies")
    edit(policies / "cn-default.toml", 'channel = "email"', 'channel = "fax"')
    with pytest.raises(PolicyError, match=r"cn-default\.toml: steps\.3\.channel"):
        create_app(settings(policies_dir=policies))


def test_a_template_with_a_banned_phrase_stops_the_start(tmp_path: Path) -> None:
    templates = copy_of(TEMPLATES, tmp_path / "templates")
    edit(templates / "reminder_final_sms.toml", "逾期", "逾期，否则坐牢")
    with pytest.raises(TemplateError, match=r"reminder_final_sms\.toml.*坐牢"):
        create_app(settings(templates_dir=templates))


def test_outside_the_local_profile_a_demo_provider_secret_stops_the_start() -> None:
    assert NotifierSettings().profile == "production"  # what a start with no profile set is
    with pytest.raises(ValueError, match="demo value") as refused:
        create_app(settings(profile="production"))
    named = str(refused.value)
    for setting in (
        "NOTIFIER_TWILIO_AUTH_TOKEN",
        "NOTIFIER_ALIYUN_ACCESS_KEY_SECRET",
        "NOTIFIER_ALIYUN_CALLBACK_TOKEN",
    ):
        assert setting in named
    with pytest.raises(ValueError, match="NOTIFIER_ALIYUN_CALLBACK_TOKEN"):
        create_app(
            settings(
                profile="production",
                twilio_auth_token="a-real-token",
                aliyun_access_key_secret="a-real-secret",
            )
        )


def test_a_provider_not_configured_has_no_receipt_route_and_its_secrets_do_not_matter() -> None:
    app = create_app(
        settings(profile="production", sms_providers="twilio", twilio_auth_token="a-real-token")
    )
    assert set(app.state.notifier.receipts.parsers) == {"twilio"}
