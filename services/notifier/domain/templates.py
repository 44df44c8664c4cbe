"""The message catalogue: renders a message in the borrower's locale from checked templates.

Made once at start-up (``adapters/template_files.py`` reads the files): every template is
compiled in a Jinja2 sandbox, checked for unknown variables, rendered with a probe context for
each jurisdiction and locale, and screened against the banned phrases (``template_checks``). A
template that fails any check stops the service with ``TemplateError`` naming the file, the
locale and the problem.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from types import MappingProxyType
from typing import Any

from jinja2 import TemplateError as JinjaError

from services.notifier.domain.locales import (
    babel_locale,
    format_day,
    format_money,
    resolve_locale,
)
from services.notifier.domain.messages import (
    VARIABLES,
    MessageContext,
    RenderedMessage,
    TemplateKind,
)
from services.notifier.domain.sms_length import SmsLength
from services.notifier.domain.template_checks import check_catalog
from services.notifier.domain.template_specs import (
    JurisdictionNotices,
    TemplateError,
    TemplateSpec,
    catalog_locales,
    check_notice_locales,
)
from shared.vocabulary import Jurisdiction

__all__ = ["TemplateCatalog", "TemplateError", "TemplateSpec"]


class TemplateCatalog:
    """Every message template, loaded and checked; renders a message in the borrower's locale."""

    def __init__(
        self,
        specs: Mapping[str, TemplateSpec],
        locales: tuple[str, ...],
        notices: Mapping[Jurisdiction, JurisdictionNotices],
    ) -> None:
        self._specs = MappingProxyType(dict(specs))
        self.locales = locales
        self.notices = MappingProxyType(dict(notices))
        self.sms_lengths: Mapping[tuple[str, Jurisdiction, str], SmsLength] = {}
        """Probe rendering length of every SMS: (template, jurisdiction, locale) -> length."""
        self._babel = {tag: babel_locale(tag) for tag in locales}

    @classmethod
    def checked(
        cls,
        specs: Mapping[str, TemplateSpec],
        notices: Mapping[Jurisdiction, JurisdictionNotices],
        banned_phrases_by_jurisdiction: Mapping[Jurisdiction, Collection[str]],
    ) -> TemplateCatalog:
        """The catalogue of ``specs``, every template checked (``TemplateError`` names the
        first problem)."""
        locales = catalog_locales(specs)
        check_notice_locales(notices, locales)
        catalog = cls(specs, locales, notices)
        lengths = check_catalog(catalog, banned_phrases_by_jurisdiction)
        catalog.sms_lengths = MappingProxyType(lengths)
        return catalog

    @property
    def names(self) -> tuple[str, ...]:
        return tuple(self._specs)

    def __contains__(self, name: object) -> bool:
        return name in self._specs

    @property
    def specs(self) -> Mapping[str, TemplateSpec]:
        return self._specs

    def spec(self, name: str) -> TemplateSpec:
        try:
            return self._specs[name]
        except KeyError:
            raise TemplateError(f"no template named {name!r}") from None

    def resolve_locale(self, requested: str) -> str:
        """The catalogue locale used for a borrower's locale tag (zh* -> zh-CN, else en)."""
        return resolve_locale(requested, self.locales)

    def render(self, name: str, locale: str, context: MessageContext) -> RenderedMessage:
        """Render ``name`` in the locale best matching the borrower's ``locale``."""
        spec = self.spec(name)
        chosen = self.resolve_locale(locale)
        if context.jurisdiction not in spec.jurisdictions:
            raise TemplateError(f"{name}: not written for jurisdiction {context.jurisdiction}")
        variables = self._variables(spec, chosen, context)
        compiled = spec.compiled[chosen]
        try:
            subject = compiled.subject.render(variables).strip() if compiled.subject else None
            body = compiled.body.render(variables).strip()
        except Exception as error:  # an expression may raise anything: {{ 1 / 0 }}, {{ "a" + 1 }}
            reason = str(error) if isinstance(error, JinjaError) else repr(error)
            raise TemplateError(f"{name}.toml: {chosen}: {reason}") from None
        return RenderedMessage(name, chosen, spec.channel, subject, body)

    def _variables(
        self, spec: TemplateSpec, locale: str, context: MessageContext
    ) -> dict[str, Any]:
        place = self._babel[locale]
        values: dict[str, Any] = {
            "borrower_name": context.borrower_name,
            "lender_name": context.lender_name,
            "amount_overdue": format_money(context.amount_overdue, place),
            "due_date": format_day(context.due_date, place),
            "days_past_due": context.days_past_due,
            "loan_ref": loan_reference(context.loan_id),
            "link": context.link,
            "opt_out_notice": self.notices[context.jurisdiction].opt_out_notice[
                (spec.channel, locale)
            ],
        }
        if spec.kind is TemplateKind.AGENCY_NOTICE:
            if context.agency is None:
                raise TemplateError(f"{spec.name}: an agency notice needs the agency's name")
            values["agency_name"] = context.agency.name
            values["agency_phone"] = context.agency.phone
        if spec.kind is TemplateKind.DEMAND_LETTER:
            demand = context.demand
            if demand is None:
                raise TemplateError(f"{spec.name}: a demand letter needs the demand's terms")
            values["jurisdiction"] = context.jurisdiction.value
            values["amount_due"] = format_money(demand.amount, place)
            values["respond_by"] = format_day(demand.respond_by, place)
            values["agency_name"] = demand.agency_name or ""
            values["agency_phone"] = demand.agency_phone or ""
        allowed = VARIABLES[spec.kind]
        return {key: value for key, value in values.items() if key in allowed}


def loan_reference(loan_id: str) -> str:
    """The last four letters or digits of the loan id (never the whole id in a message):
    "L-2026-000123" reads "0123", "ln_ab-1" reads "ab1"."""
    return "".join(c for c in loan_id if c.isalnum())[-4:]
