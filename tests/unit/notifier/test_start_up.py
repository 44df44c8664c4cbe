"""The notifier refuses to start on a bad policy or template, naming the file and the key."""

from pathlib import Path

import pytest

from services.notifier.domain.policy_book import PolicyError
from services.notifier.domain.templates import TemplateError
from services.notifier.settings import NotifierSettings
from services.notifier.wiring import create_app
from shared.crypto import KeyRing
from tests.unit.notifier.support import POLICIES, TEMPLATES, copy_of, edit


def settings(**changes: Path) -> NotifierSettings:
    keys = {"transit_keys": KeyRing.generate_spec("t1"), "data_keys": KeyRing.generate_spec("n1")}
    return NotifierSettings.model_validate({**keys, **changes})


def test_the_shipped_policies_and_templates_start() -> None:
    app = create_app(settings())
    assert {p.id for p in app.state.policies.policies} == {"cn-default", "us-default"}


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
