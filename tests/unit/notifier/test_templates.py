"""Templates render in the borrower's locale, carry what each jurisdiction requires, and a bad
one (banned phrase, missing notice, unsafe or unknown name, too long) stops the start-up."""

from datetime import date
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from services.notifier.adapters.template_files import load_catalog
from services.notifier.domain.messages import AgencyContact, MessageContext
from services.notifier.domain.sms_length import SmsEncoding
from services.notifier.domain.templates import TemplateError
from shared.events.legal import DemandTerms
from shared.events.money import Money
from shared.vocabulary import Channel, Jurisdiction
from tests.unit.notifier.support import TEMPLATES, banned, catalog, copy_of, edit

LINK = "https://borrower.example.com/b/b1.l1.token"


def context(jurisdiction: Jurisdiction = Jurisdiction.CN, **changes: object) -> MessageContext:
    values: dict[str, object] = {
        "jurisdiction": jurisdiction,
        "borrower_name": "王芳",
        "lender_name": "安心借",
        "loan_id": "loan-20261201-4821",
        "amount_overdue": Money(amount="1234.5", currency="CNY"),
        "due_date": date(2026, 11, 30),
        "days_past_due": 3,
        "link": LINK,
        "agency": AgencyContact("诚信咨询", "400-000-0000"),
        "demand": DemandTerms(
            amount=Money(amount="1234.5", currency="CNY"), respond_by=date(2026, 12, 31)
        ),
    }
    values.update(changes)
    return MessageContext(**values)  # type: ignore[arg-type]


def test_an_sms_renders_in_chinese_with_the_amount_in_yuan_and_the_opt_out_notice() -> None:
    message = catalog().render("reminder_firm_sms", "zh-Hans-CN", context())
    assert (message.locale, message.channel, message.subject) == ("zh-CN", Channel.SMS, None)
    assert message.body == (
        "【安心借】王芳您好，您尾号4821的借款应于2026年11月30日还款，现已逾期3天，"
        f"待还¥1,234.50，请尽快处理。详情 {LINK} 回复TD退订"
    )


def test_an_email_renders_in_english_with_subject_and_the_us_opt_out_notice() -> None:
    us = context(
        Jurisdiction.US,
        borrower_name="Jane Doe",
        lender_name="Acme Lending",
        amount_overdue=Money(amount="250", currency="USD"),
    )
    message = catalog().render("reminder_gentle_email", "en-US", us)
    assert message.locale == "en"
    assert message.subject == "Acme Lending: payment reminder"
    assert message.body.startswith("Dear Jane Doe,\n\nThe payment on your Acme Lending loan")
    assert "was due on November 30, 2026" in message.body
    assert "The amount overdue is $250.00." in message.body
    assert f"choose how we contact you, open:\n{LINK}\n" in message.body
    assert message.body.endswith(
        "To stop these e-mails, choose Unsubscribe in your mail program or change your "
        "contact preferences on the page linked above."
    )
    assert "reply UNSUBSCRIBE" not in message.body


def test_the_agency_notice_names_the_agency_and_the_lender() -> None:
    message = catalog().render("agency_notice_sms", "zh", context())
    assert "已委托诚信咨询（电话400-000-0000）协助催收" in message.body
    assert "安心借仍对该账户负责" in message.body
    with pytest.raises(TemplateError, match="agency notice needs the agency"):
        catalog().render("agency_notice_sms", "zh", context(agency=None))


def test_an_unknown_template_is_a_clear_error() -> None:
    with pytest.raises(TemplateError, match="no template named 'nope'"):
        catalog().render("nope", "en", context())


@pytest.mark.parametrize(
    ("requested", "chosen"),
    [
        ("zh-CN", "zh-CN"),
        ("zh", "zh-CN"),
        ("zh-Hans-CN", "zh-CN"),
        ("zh_TW", "zh-CN"),
        ("ZH-hk", "zh-CN"),
        ("en", "en"),
        ("en-US", "en"),
        ("en_GB", "en"),
        ("fr", "en"),
        ("", "en"),
        ("x-klingon", "en"),
    ],
)
def test_the_borrowers_locale_falls_back_to_the_best_available(requested: str, chosen: str) -> None:
    assert catalog().resolve_locale(requested) == chosen


@given(requested=st.text(max_size=20))
def test_any_locale_tag_resolves_to_a_catalogue_locale(requested: str) -> None:
    chosen = catalog().resolve_locale(requested)
    assert chosen in catalog().locales
    assert (chosen == "zh-CN") == requested.strip().casefold().startswith("zh")


@given(
    name=st.text(min_size=1, max_size=30),
    cents=st.integers(min_value=0, max_value=10**12),
    days=st.integers(min_value=0, max_value=5000),
    due=st.dates(min_value=date(1970, 1, 1), max_value=date(9999, 12, 31)),
    locale=st.sampled_from(["zh-CN", "en", "fr"]),
)
def test_every_template_renders_any_borrower_and_names_the_lender(
    name: str, cents: int, days: int, due: date, locale: str
) -> None:
    facts = context(
        borrower_name=name,
        amount_overdue=Money(amount=f"{cents // 100}.{cents % 100:02d}", currency="CNY"),
        days_past_due=days,
        due_date=due,
    )
    for template in catalog().names:
        message = catalog().render(template, locale, facts)
        assert "安心借" in message.body


def test_sms_lengths_are_measured_at_load_with_the_link_and_within_five_segments() -> None:
    lengths = catalog().sms_lengths
    sms = [name for name in catalog().names if catalog().spec(name).channel is Channel.SMS]
    assert {(name, j, loc) for name, j, loc in lengths} == {
        (name, j, loc) for name in sms for j in Jurisdiction for loc in ("zh-CN", "en")
    }
    for (_, _, locale), length in lengths.items():
        expected = SmsEncoding.UCS_2 if locale == "zh-CN" else SmsEncoding.GSM_7BIT
        assert length.encoding is expected
        assert 3 <= length.segments <= 5  # the link alone is ~180 characters


def _broken(tmp_path: Path, name: str, old: str, new: str) -> str:
    directory = copy_of(TEMPLATES, tmp_path / "templates")
    edit(directory / name, old, new)
    with pytest.raises(TemplateError) as refused:
        load_catalog(directory, banned())
    return str(refused.value)


GENTLE_ZH = "如已还款请忽略。"
GENTLE_EN = "If you have paid, please ignore this."


@pytest.mark.parametrize(
    ("name", "old", "new", "message"),
    [
        (
            "demand_letter_email.toml",
            "可以向国家金融监督管理总局或当地金融监管部门投诉，消费者投诉热线 12378",
            "请尽快还款",
            "demand_letter_email.toml: zh-CN: rendered for CN: the demand letter must show '投诉'",
        ),
        (
            "demand_letter_email.toml",
            "the creditor may take legal action",
            "you will face a court summons",
            "demand_letter_email.toml: en: the source contains the banned phrase 'court summons'",
        ),
        (
            "reminder_gentle_sms.toml",
            GENTLE_ZH,
            "否则将被拘留。",
            "reminder_gentle_sms.toml: zh-CN: the source contains the banned phrase '拘留'",
        ),
        (
            "reminder_gentle_sms.toml",
            GENTLE_EN,
            "Or we will EXPOSE  YOU.",
            "reminder_gentle_sms.toml: en: the source contains the banned phrase 'expose you'",
        ),
        (
            "reminder_gentle_sms.toml",
            GENTLE_EN,
            "Or face ＪＡＩＬ.",  # full-width letters do not hide it
            "reminder_gentle_sms.toml: en: the source contains the banned phrase 'jail'",
        ),
        (
            "reminder_gentle_sms.toml",
            GENTLE_EN,
            "{{ 'ja' ~ 'il' }}",
            "reminder_gentle_sms.toml: en: rendered for CN contains the banned phrase 'jail'",
        ),
        (
            "reminder_gentle_sms.toml",
            "{{ opt_out_notice }}",
            "",
            "reminder_gentle_sms.toml: zh-CN: rendered for CN: the body must carry the opt-out "
            "notice '回复TD退订'",
        ),
        (
            "reminder_gentle_email.toml",
            "\n{{ opt_out_notice }}\n",
            "\n",
            "reminder_gentle_email.toml: zh-CN: rendered for US: the body must carry the opt-out "
            "notice",
        ),
        (
            "reminder_gentle_sms.toml",
            'body = "【{{ lender_name }}】',
            'body = "【贷款平台】',
            "reminder_gentle_sms.toml: zh-CN: rendered for CN: the body must name the lender",
        ),
        (
            "agency_notice_sms.toml",
            "已委托{{ agency_name }}（",
            "已委托第三方（",
            "agency_notice_sms.toml: zh-CN: rendered for CN: an agency notice must name the agency",
        ),
        (
            "reminder_gentle_sms.toml",
            GENTLE_EN,
            "{{ ''.__class__ }}",
            "reminder_gentle_sms.toml: en: access to attribute '__class__' of 'str' object "
            "is unsafe",
        ),
        (
            "reminder_gentle_sms.toml",
            GENTLE_EN,
            "{{ agency_name }}",
            "reminder_gentle_sms.toml: en.body: unknown variable 'agency_name' (reminder "
            "templates may use amount_overdue, borrower_name, days_past_due, due_date, "
            "lender_name, link, loan_ref, opt_out_notice)",
        ),
        (
            "reminder_gentle_sms.toml",
            GENTLE_EN,
            "{% if days_past_due > 3 %}{{ borower_name }}{% endif %}",
            "reminder_gentle_sms.toml: en.body: unknown variable 'borower_name'",
        ),
        (
            "reminder_gentle_sms.toml",
            GENTLE_EN,
            "{{ days_past_due // 0 }}",
            "reminder_gentle_sms.toml: en: ZeroDivisionError('integer division or modulo by zero')",
        ),
        (
            "reminder_gentle_sms.toml",
            GENTLE_EN,
            "{{ amount_overdue ",
            "reminder_gentle_sms.toml: en (line 1): expected token 'end of print statement'",
        ),
        (
            "reminder_gentle_sms.toml",
            GENTLE_EN,
            "Please pay now. " * 12,
            "reminder_gentle_sms.toml: en: SMS rendered for CN is 337 gsm-7bit units, "
            "3 segment(s) without its link; at most 2 segments",
        ),
        (
            "reminder_gentle_sms.toml",
            "详情 {{ link }} ",
            "",
            "reminder_gentle_sms.toml: zh-CN: rendered for CN: the body must carry the link to "
            "the borrower's page (link)",
        ),
        (
            "reminder_gentle_email.toml",
            "{{ link }}",
            "https://borrower.example.com/",
            "reminder_gentle_email.toml: zh-CN: rendered for US: the body must carry the link",
        ),
        (
            "reminder_gentle_sms.toml",
            "详情 {{ link }}",
            "详情 {{ link }} {{ link }}",
            "reminder_gentle_sms.toml: zh-CN: SMS rendered for CN is 436 ucs-2 units, "
            "7 segment(s) with its link; at most 5 segments",
        ),
        (
            "dispute_rejected_sms.toml",
            "该借款仍需偿还。",
            "不还就曝光。",
            "dispute_rejected_sms.toml: zh-CN: the source contains the banned phrase '曝光'",
        ),
        (
            "dispute_upheld_email.toml",
            'kind = "dispute_outcome"',
            'kind = "reminder"',
            "dispute_upheld_email.toml: must be a dispute_outcome template by email",
        ),
        (
            "reminder_gentle_email.toml",
            'subject = "{{ lender_name }}：还款提醒"\n',
            "",
            "reminder_gentle_email.toml: zh-CN: an email message needs a subject",
        ),
        (
            "reminder_gentle_sms.toml",
            'channel = "sms"',
            'channel = "letter"',
            "reminder_gentle_sms.toml: channel: the notifier sends only sms and email",
        ),
        (
            "reminder_gentle_sms.toml",
            "[en]",
            "[fr]",
            "every template has the same locales",
        ),
        (
            "notices.toml",
            'zh-CN = "回复TD退订"',
            'zh-CN = "回复TD退订，不还就曝光"',
            "notices.toml: CN.opt_out_notice.sms.zh-CN contains the banned phrase '曝光'",
        ),
        (
            "notices.toml",
            'en = "Reply TD to unsubscribe"\n',
            "",
            "notices.toml: CN.opt_out_notice.sms.en: missing",
        ),
    ],
)
def test_a_bad_template_stops_the_start_up_naming_file_locale_and_problem(
    tmp_path: Path, name: str, old: str, new: str, message: str
) -> None:
    assert message in _broken(tmp_path, name, old, new)


def test_a_template_without_the_required_chinese_locale_is_refused(tmp_path: Path) -> None:
    directory = copy_of(TEMPLATES, tmp_path / "templates")
    for path in directory.glob("*.toml"):
        if path.name != "notices.toml":
            text = path.read_text("utf-8")
            path.write_text(text[: text.index("[zh-CN]")] + text[text.index("[en]") :], "utf-8")
    with pytest.raises(TemplateError, match=r"missing locale zh-CN"):
        load_catalog(directory, banned())


def test_every_bad_template_is_reported_at_once(tmp_path: Path) -> None:
    directory = copy_of(TEMPLATES, tmp_path / "templates")
    edit(directory / "agency_notice_sms.toml", "{{ agency_phone }}", "{{ agency_fax }}")
    edit(directory / "reminder_final_sms.toml", "{{ lender_name }}: {{ borrower_name }}", "Hi")
    with pytest.raises(TemplateError) as refused:
        load_catalog(directory, banned())
    lines = str(refused.value).splitlines()
    assert lines[0].startswith("agency_notice_sms.toml: zh-CN.body: unknown variable 'agency_fax'")
    assert lines[1:] == [
        f"reminder_final_sms.toml: en: rendered for {j}: the body must name the lender "
        "(lender_name): who is contacting"
        for j in ("CN", "US")
    ]
