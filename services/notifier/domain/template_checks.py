"""Start-up checks of every template: known variables only, the content each jurisdiction
requires, the link to the borrower's page, no banned phrase (CN-06), SMS wording no longer
than two segments (the link adds its own, at most ``MAX_SMS_SEGMENTS_WITH_LINK`` in all).

Each template is rendered for every jurisdiction it serves and every locale with a probe
context of long, realistic values, so a check sees what a borrower would.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Iterator, Mapping
from datetime import date
from typing import Protocol

from jinja2 import meta

from services.notifier.domain.messages import (
    DEMAND_LETTER_TEMPLATES,
    DISPUTE_OUTCOME_TEMPLATES,
    VARIABLES,
    AgencyContact,
    MessageContext,
    RenderedMessage,
    TemplateKind,
)
from services.notifier.domain.sms_length import SmsLength, sms_length
from services.notifier.domain.template_specs import (
    NOTICES_FILE,
    JurisdictionNotices,
    TemplateError,
    TemplateSpec,
    parse_text,
)
from shared.contact_rules import RulePack
from shared.contact_rules.params import BannedPhraseParams
from shared.contact_rules.wording import fold
from shared.events.legal import DemandTerms
from shared.events.money import Money
from shared.vocabulary import Channel, Jurisdiction

MAX_SMS_SEGMENTS = 2
"""The wording of a text, without the link: what a borrower reads."""
MAX_SMS_SEGMENTS_WITH_LINK = 5
"""The whole text with its link: a link is ~180 characters (the token is sealed claims), which
alone takes three UCS-2 segments of a Chinese text."""
PROBE_LINK = "https://borrower.example.com/b/b1.l1." + "x" * 146
"""As long as a real link: ``BorrowerLinks.mint`` makes a 152-character token."""

_CURRENCY = {Jurisdiction.CN: "CNY", Jurisdiction.US: "USD"}
_NAMES = {
    "zh-CN": (
        "欧阳明华",
        "示例消费金融有限公司",
        AgencyContact("示例信息咨询服务有限公司", "400-820-8820"),
    ),
    "en": (
        "Alexandra Montgomery",
        "Example Consumer Finance",
        AgencyContact("Example Recovery Services LLC", "+1 800 555 0100"),
    ),
}


def probe_context(jurisdiction: Jurisdiction, locale: str) -> MessageContext:
    """Long, realistic values for ``locale`` (other locales get the English ones)."""
    borrower, lender, agency = _NAMES.get(locale, _NAMES["en"])
    return MessageContext(
        jurisdiction=jurisdiction,
        borrower_name=borrower,
        lender_name=lender,
        loan_id="LN-2026-000123457890",
        amount_overdue=Money(amount="123456.78", currency=_CURRENCY.get(jurisdiction, "USD")),
        due_date=date(2026, 12, 31),
        days_past_due=120,
        link=PROBE_LINK,
        agency=agency,
        demand=DemandTerms(
            amount=Money(amount="123456.78", currency=_CURRENCY.get(jurisdiction, "USD")),
            respond_by=date(2027, 1, 31),
            agency_id="agency-probe",
            agency_name=agency.name,
            agency_phone=agency.phone,
        ),
    )


class _Catalog(Protocol):
    @property
    def specs(self) -> Mapping[str, TemplateSpec]: ...
    @property
    def notices(self) -> Mapping[Jurisdiction, JurisdictionNotices]: ...
    @property
    def locales(self) -> tuple[str, ...]: ...
    def render(self, name: str, locale: str, context: MessageContext) -> RenderedMessage: ...


def check_catalog(
    catalog: _Catalog, banned_by_jurisdiction: Mapping[Jurisdiction, Collection[str]]
) -> dict[tuple[str, Jurisdiction, str], SmsLength]:
    """Every problem of every template at once (``TemplateError``), else each SMS's length."""
    banned = _Banned(banned_by_jurisdiction)
    problems = list(_banned_in_notices(catalog.notices, banned))
    problems += _missing_dispute_outcomes(catalog.specs)
    problems += _missing_demand_letters(catalog.specs)
    lengths: dict[tuple[str, Jurisdiction, str], SmsLength] = {}
    for spec in catalog.specs.values():
        problems += _check_template(catalog, spec, banned, lengths)
    if problems:
        raise TemplateError("\n".join(problems))
    return lengths


def _check_template(
    catalog: _Catalog,
    spec: TemplateSpec,
    banned: _Banned,
    lengths: dict[tuple[str, Jurisdiction, str], SmsLength],
) -> list[str]:
    problems = list(_unknown_variables(spec))
    for locale, text in spec.source.items():
        source = f"{text.subject or ''}\n{text.body}"
        problems += banned.screen(f"{spec.name}.toml: {locale}: the source", source)
    if problems:
        return problems  # rendering would only repeat them
    for jurisdiction in sorted(spec.jurisdictions):
        for locale in catalog.locales:
            render = _probe(catalog.render, spec, jurisdiction, locale)
            if isinstance(render, str):
                problems.append(render)
                continue
            where = f"rendered for {jurisdiction}"
            rendered = f"{render.subject or ''}\n{render.body}"
            problems += banned.screen(f"{spec.name}.toml: {locale}: {where}", rendered)
            problems += _required_content(spec, locale, jurisdiction, render, catalog.notices)
            if spec.channel is Channel.SMS:
                length = sms_length(render.body)
                lengths[(spec.name, jurisdiction, locale)] = length
                wording = sms_length(render.body.replace(PROBE_LINK, ""))
                if wording.segments > MAX_SMS_SEGMENTS:
                    problems.append(
                        f"{spec.name}.toml: {locale}: SMS {where} is {wording} without its "
                        f"link; at most {MAX_SMS_SEGMENTS} segments"
                    )
                elif length.segments > MAX_SMS_SEGMENTS_WITH_LINK:
                    problems.append(
                        f"{spec.name}.toml: {locale}: SMS {where} is {length} with its link; "
                        f"at most {MAX_SMS_SEGMENTS_WITH_LINK} segments"
                    )
    return problems


def _missing_dispute_outcomes(specs: Mapping[str, TemplateSpec]) -> Iterator[str]:
    """The dispute-outcome notice has one template per outcome and channel, always."""
    for (outcome, channel), name in sorted(DISPUTE_OUTCOME_TEMPLATES.items()):
        spec = specs.get(name)
        if spec is None:
            yield f"{name}.toml: missing (the {outcome} dispute outcome by {channel})"
        elif spec.kind is not TemplateKind.DISPUTE_OUTCOME or spec.channel is not channel:
            yield f"{name}.toml: must be a {TemplateKind.DISPUTE_OUTCOME} template by {channel}"


def _missing_demand_letters(specs: Mapping[str, TemplateSpec]) -> Iterator[str]:
    """The demand letter has one template per channel, always."""
    for channel, name in DEMAND_LETTER_TEMPLATES.items():
        spec = specs.get(name)
        if spec is None:
            yield f"{name}.toml: missing (the demand letter by {channel})"
        elif spec.kind is not TemplateKind.DEMAND_LETTER or spec.channel is not channel:
            yield f"{name}.toml: must be a {TemplateKind.DEMAND_LETTER} template by {channel}"


def _probe(
    render: Callable[[str, str, MessageContext], RenderedMessage],
    spec: TemplateSpec,
    jurisdiction: Jurisdiction,
    locale: str,
) -> RenderedMessage | str:
    try:
        return render(spec.name, locale, probe_context(jurisdiction, locale))
    except TemplateError as error:
        return f"{error} (rendered for {jurisdiction})"


def _unknown_variables(spec: TemplateSpec) -> Iterator[str]:
    allowed = VARIABLES[spec.kind]
    for locale, text in spec.source.items():
        for part, source in (("subject", text.subject), ("body", text.body)):
            if source is None:
                continue
            used = meta.find_undeclared_variables(parse_text(source))
            for name in sorted(used - allowed):
                yield (
                    f"{spec.name}.toml: {locale}.{part}: unknown variable {name!r} "
                    f"({spec.kind} templates may use {', '.join(sorted(allowed))})"
                )


def _required_content(
    spec: TemplateSpec,
    locale: str,
    jurisdiction: Jurisdiction,
    message: RenderedMessage,
    notices: Mapping[Jurisdiction, JurisdictionNotices],
) -> Iterator[str]:
    probe = probe_context(jurisdiction, locale)
    where = f"{spec.name}.toml: {locale}: rendered for {jurisdiction}"
    if probe.lender_name not in message.body:
        yield f"{where}: the body must name the lender (lender_name): who is contacting"
    if probe.link not in message.body:
        yield f"{where}: the body must carry the link to the borrower's page (link)"
    if spec.kind is TemplateKind.OPT_OUT_CONFIRMATION:
        return
    notice = notices[jurisdiction]
    if spec.channel in notice.opt_out_required:
        text = notice.opt_out_notice[(spec.channel, locale)]
        if text not in message.body:
            yield f"{where}: the body must carry the opt-out notice {text!r} (opt_out_notice)"
    agency = probe.agency
    if spec.kind is TemplateKind.AGENCY_NOTICE and agency and agency.name not in message.body:
        yield f"{where}: an agency notice must name the agency (agency_name)"
    if spec.kind is TemplateKind.DEMAND_LETTER and spec.channel is Channel.EMAIL:
        yield from _demand_content(where, message.body, locale)


_DEMAND_MUST_SHOW = {
    "zh-CN": ("123,456.78", "2027", "异议", "核实", "投诉", "7890"),
    "en": ("123,456.78", "2027", "dispute", "verif", "complain", "7890"),
}
"""What the letter must show (the probe's amount, deadline year, loan reference) and the
borrower's rights: to dispute, to ask for verification, to complain to the regulator."""


def _demand_content(where: str, body: str, locale: str) -> Iterator[str]:
    for needed in _DEMAND_MUST_SHOW.get(locale, _DEMAND_MUST_SHOW["en"]):
        if needed.lower() not in body.lower():
            yield f"{where}: the demand letter must show {needed!r} (amount, deadline, rights)"


class _Banned:
    """Every jurisdiction's phrases, screened everywhere: a threat is banned in any message."""

    def __init__(self, by_jurisdiction: Mapping[Jurisdiction, Collection[str]]) -> None:
        self.phrases = [
            (phrase, fold(phrase), jurisdiction)
            for jurisdiction, phrases in sorted(by_jurisdiction.items())
            for phrase in phrases
        ]

    def screen(self, where: str, text: str) -> Iterator[str]:
        folded = fold(text)
        for phrase, key, jurisdiction in self.phrases:
            if key and key in folded:
                yield f"{where} contains the banned phrase {phrase!r} ({jurisdiction} pack)"


def _banned_in_notices(
    notices: Mapping[Jurisdiction, JurisdictionNotices], banned: _Banned
) -> Iterator[str]:
    for jurisdiction, notice in notices.items():
        for (channel, locale), text in notice.opt_out_notice.items():
            where = f"{NOTICES_FILE}: {jurisdiction}.opt_out_notice.{channel}.{locale}"
            yield from banned.screen(where, text)


def banned_phrases(pack: RulePack) -> tuple[str, ...]:
    """The phrases a pack bans from messages (CN-06's ``banned_phrases``); none if it has none."""
    found: list[str] = []
    for rule in pack.rules.values():
        if isinstance(rule.params, BannedPhraseParams):
            found += rule.params.banned_phrases
    return tuple(found)
