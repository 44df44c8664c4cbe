"""Policy files are validated at start-up; a bad one refuses to load, naming the file and key."""

from pathlib import Path

import pytest

from services.notifier.adapters.policy_files import load_policies
from services.notifier.adapters.template_files import load_catalog
from services.notifier.domain.cadence_policies import CadencePolicies, PolicyError
from tests.unit.notifier.support import (
    EXAMPLE_POLICY,
    POLICIES,
    TEMPLATES,
    banned,
    book,
    catalog,
    copy_of,
    edit,
    packs,
)


def test_the_shipped_policies_load_and_record_their_version() -> None:
    labels = {policy.label for policy in book().policies}
    assert labels == {"cn-default@2026-12-01.1", "us-default@2026-12-01.1"}


def _load_edited(tmp_path: Path, name: str, old: str, new: str) -> CadencePolicies:
    directory = copy_of(POLICIES, tmp_path / "policies")
    edit(directory / name, old, new)
    return load_policies(directory, catalog())


CN_STEP_2 = 'days_past_due = 3\nchannel = "sms"\ntemplate = "reminder_firm_sms"'


@pytest.mark.parametrize(
    ("old", "new", "message"),
    [
        (
            CN_STEP_2,
            'days_past_due = 3\nchannel = "phone_call"\ntemplate = "reminder_firm_sms"',
            "cn-default.toml: steps.2.channel: the notifier sends only sms and email",
        ),
        (
            CN_STEP_2,
            'days_past_due = 1\nchannel = "sms"\ntemplate = "reminder_firm_sms"',
            "cn-default.toml: steps.2.days_past_due: 1 must be greater than step 1's 1",
        ),
        (
            CN_STEP_2,
            'days_past_due = 3\nchannel = "sms"\ntemplate = "reminder_rude_sms"',
            "cn-default.toml: steps.2.template: no template 'reminder_rude_sms'",
        ),
        (
            CN_STEP_2,
            'days_past_due = 3\nchannel = "sms"\ntemplate = "reminder_firm_email"',
            "cn-default.toml: steps.2.template: 'reminder_firm_email' is written for email, "
            "the step sends sms",
        ),
        (
            CN_STEP_2,
            'days_past_due = 3\nchannel = "sms"\ntemplate = "agency_notice_sms"',
            "cn-default.toml: steps.2.template: 'agency_notice_sms' is a agency_notice template",
        ),
        (
            CN_STEP_2,
            'days_past_due = "3"\nchannel = "sms"\ntemplate = "reminder_firm_sms"',
            "cn-default.toml: steps.2.days_past_due: Input should be a valid integer",
        ),
        (
            "max_attempts = 3 ",
            "",
            "cn-default.toml: retry.max_attempts: Field required",
        ),
        (
            'retry_on = ["timeout", "rate_limited", "provider_unavailable"]',
            'retry_on = ["timeout", "invalid_address"]',
            "cn-default.toml: retry.retry_on.2: invalid_address is permanent, never retried",
        ),
        (
            "backoff_max_minutes = 120",
            "backoff_max_minutes = 5",
            "cn-default.toml: retry.backoff_max_minutes: must be at least backoff_base_minutes",
        ),
        (
            "pause_days = 3",
            "",
            "cn-default.toml: payments.pause_days: required with on_partial = 'pause'",
        ),
        (
            "after_days_past_due = 30",
            "after_days_past_due = 9",
            "cn-default.toml: stop.after_days_past_due: 9 is before the last step (day 10)",
        ),
        (
            'send_at = "10:00"',
            'send_at = "25:00"',
            "cn-default.toml: send_at: must be a local time written HH:MM",
        ),
        (
            'version = "2026-12-01.1"',
            'version = "2026-13-01.1"',
            "cn-default.toml: version: must start with a real date",
        ),
        (
            'id = "cn-default"',
            'id = "cn-other"',
            "cn-default.toml: id: 'cn-other' must be the file's name, 'cn-default'",
        ),
        (
            'jurisdiction = "CN"',
            'jurisdiction = "UK"',
            "cn-default.toml: match.jurisdiction: must be '*' or one of CN, US",
        ),
        (
            "[holds]",
            "colour = 'blue'\n[holds]",
            "cn-default.toml: payments.colour: Extra inputs are not permitted",
        ),
        (
            'on_lift = "resume"',
            'on_lift = "forget"',
            "cn-default.toml: holds.on_lift: Input should be 'resume' or 'catch_up'",
        ),
        (
            "[[steps]]\ndays_past_due = 1",
            "[[steps]\ndays_past_due = 1",
            "cn-default.toml: not valid TOML",
        ),
    ],
)
def test_a_bad_value_is_refused_naming_the_file_and_key(
    tmp_path: Path, old: str, new: str, message: str
) -> None:
    with pytest.raises(PolicyError) as refused:
        _load_edited(tmp_path, "cn-default.toml", old, new)
    assert message in str(refused.value)


def test_a_chinese_policy_must_say_how_the_borrower_is_told_of_a_placement(
    tmp_path: Path,
) -> None:
    directory = copy_of(POLICIES, tmp_path / "policies")
    path = directory / "cn-default.toml"
    text = path.read_text("utf-8")
    path.write_text(text[: text.index("# CN-09")], "utf-8")
    with pytest.raises(PolicyError, match=r"cn-default.toml: agency_notice: CN-09 requires"):
        load_policies(directory, catalog())


def test_two_policies_may_not_match_the_same_loans(tmp_path: Path) -> None:
    directory = copy_of(POLICIES, tmp_path / "policies")
    copy = (directory / "cn-default.toml").read_text("utf-8").replace("cn-default", "cn-copy")
    (directory / "cn-copy.toml").write_text(copy, "utf-8")
    with pytest.raises(PolicyError) as refused:
        load_policies(directory, catalog())
    assert str(refused.value) == (
        "cn-default.toml: match: lender_id=*, product=*, jurisdiction=CN "
        "is already matched by cn-copy.toml"
    )


def test_every_problem_of_every_file_is_reported_at_once(tmp_path: Path) -> None:
    directory = copy_of(POLICIES, tmp_path / "policies")
    edit(directory / "cn-default.toml", 'channel = "email"', 'channel = "letter"')
    edit(directory / "us-default.toml", "max_attempts = 4", "max_attempts = 0")
    with pytest.raises(PolicyError) as refused:
        load_policies(directory, catalog())
    lines = str(refused.value).splitlines()
    assert lines == [
        "cn-default.toml: steps.3.channel: the notifier sends only sms and email",
        "us-default.toml: retry.max_attempts: Input should be greater than or equal to 1",
    ]


def test_a_policy_naming_a_template_not_written_for_its_jurisdiction_is_refused(
    tmp_path: Path,
) -> None:
    templates = copy_of(TEMPLATES, tmp_path / "templates")
    edit(templates / "reminder_final_sms.toml", "kind =", 'jurisdictions = ["US"]\nkind =')
    narrowed = load_catalog(templates, banned())
    with pytest.raises(PolicyError) as refused:
        load_policies(POLICIES, narrowed)
    assert str(refused.value) == (
        "cn-default.toml: steps.4.template: 'reminder_final_sms' is not written for CN"
    )


def test_an_empty_directory_is_refused(tmp_path: Path) -> None:
    with pytest.raises(PolicyError, match="no policy files"):
        load_policies(tmp_path, catalog())


def test_the_example_lender_policy_loads_beside_the_defaults(tmp_path: Path) -> None:
    directory = copy_of(POLICIES, tmp_path / "policies")
    copy_of(EXAMPLE_POLICY.parent, directory)
    loaded = load_policies(directory, catalog())
    assert [p.id for p in loaded.policies] == ["acme-cash-loan-cn", "cn-default", "us-default"]


def test_a_send_time_inside_a_quiet_window_binding_the_lender_is_refused(tmp_path: Path) -> None:
    directory = copy_of(POLICIES, tmp_path / "policies")
    edit(directory / "cn-default.toml", 'send_at = "10:00"', 'send_at = "22:30"')
    edit(directory / "us-default.toml", 'send_at = "10:00"', 'send_at = "21:30"')
    assert len(load_policies(directory, catalog()).policies) == 2  # without packs: not checked
    with pytest.raises(PolicyError) as refused:
        load_policies(directory, catalog(), packs())
    # US-01 binds agencies only, so the lender's 21:30 passes; CN-01 binds the lender too.
    assert str(refused.value) == (
        "cn-default.toml: send_at: 22:30 is inside CN-01's quiet window 22:00-08:00 (CN-2026.1)"
    )
