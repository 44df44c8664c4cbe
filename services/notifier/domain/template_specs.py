"""Templates and notices as checked values: one per message, compiled in a Jinja2 sandbox.

Pure: ``adapters/template_files.py`` reads the files and gives each one's TOML here. A template
file has ``kind``, ``channel``, optional ``description`` and ``jurisdictions``, and
one table per locale (``[zh-CN]``, ``[en]``) with ``body`` (and ``subject`` for e-mail).
``notices.toml`` says per jurisdiction which channels must carry an opt-out notice and its text
per channel and locale.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import Any

from jinja2 import StrictUndefined, nodes
from jinja2 import Template as JinjaTemplate
from jinja2 import TemplateError as JinjaError
from jinja2.sandbox import ImmutableSandboxedEnvironment
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from services.notifier.domain.locales import babel_locale
from services.notifier.domain.messages import SENDABLE_CHANNELS, TemplateKind
from shared.vocabulary import Channel, Jurisdiction

REQUIRED_LOCALES = ("zh-CN", "en")
NOTICES_FILE = "notices.toml"


class TemplateError(ValueError):
    """A template or notice that may not be used; the message names the file and locale."""


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class LocaleText(_Strict):
    subject: str | None = Field(default=None, min_length=1)
    body: str = Field(min_length=1)


class _TemplateFile(_Strict):
    kind: TemplateKind
    channel: Channel
    description: str = ""
    jurisdictions: tuple[Jurisdiction, ...] = Field(default=tuple(Jurisdiction), min_length=1)
    locales: dict[str, LocaleText]


class _JurisdictionNotices(_Strict):
    opt_out_required: tuple[Channel, ...]
    opt_out_notice: dict[Channel, dict[str, str]]


@dataclass(frozen=True, slots=True)
class JurisdictionNotices:
    """What each jurisdiction requires messages to carry (``templates/notices.toml``)."""

    opt_out_required: frozenset[Channel]
    opt_out_notice: Mapping[tuple[Channel, str], str]  # (channel, locale) -> text


@dataclass(frozen=True, slots=True)
class CompiledText:
    subject: JinjaTemplate | None
    body: JinjaTemplate


@dataclass(frozen=True)
class TemplateSpec:
    name: str
    kind: TemplateKind
    channel: Channel
    jurisdictions: frozenset[Jurisdiction]
    locales: tuple[str, ...]
    description: str
    source: Mapping[str, LocaleText]
    compiled: Mapping[str, CompiledText]


_ENVIRONMENT = ImmutableSandboxedEnvironment(
    undefined=StrictUndefined,
    autoescape=False,
    trim_blocks=True,
    lstrip_blocks=True,
)
"""No loader (no include or import), no autoescape (SMS and plain-text e-mail), immutable."""


def compile_text(source: str) -> JinjaTemplate:
    return _ENVIRONMENT.from_string(source)


def parse_text(source: str) -> nodes.Template:
    """The template's syntax tree (raises ``jinja2.TemplateSyntaxError``)."""
    return _ENVIRONMENT.parse(source)


def template_spec(file_name: str, raw: dict[str, Any]) -> TemplateSpec:
    """The template of one file (``file_name``, its TOML ``raw``), compiled and checked."""
    raw = dict(raw)
    meta = {
        key: raw.pop(key)
        for key in ("kind", "channel", "description", "jurisdictions")
        if key in raw
    }
    try:
        spec = _TemplateFile.model_validate({**meta, "locales": raw})
    except ValidationError as error:
        raise TemplateError(_describe(file_name, error)) from None
    where = file_name
    if spec.channel not in SENDABLE_CHANNELS:
        raise TemplateError(f"{where}: channel: the notifier sends only sms and email")
    compiled = {}
    for locale, text in spec.locales.items():
        if (text.subject is None) == (spec.channel is Channel.EMAIL):
            need = "needs" if spec.channel is Channel.EMAIL else "may not have"
            raise TemplateError(f"{where}: {locale}: an {spec.channel} message {need} a subject")
        try:
            babel_locale(locale)
            subject = compile_text(text.subject) if text.subject is not None else None
            compiled[locale] = CompiledText(subject, compile_text(text.body))
        except (JinjaError, ValueError) as error:
            line = getattr(error, "lineno", None)
            at = f" (line {line})" if line else ""
            raise TemplateError(f"{where}: {locale}{at}: {error}") from None
    return TemplateSpec(
        name=file_name.removesuffix(".toml"),
        kind=spec.kind,
        channel=spec.channel,
        jurisdictions=frozenset(spec.jurisdictions),
        locales=tuple(spec.locales),
        description=spec.description,
        source=MappingProxyType(spec.locales),
        compiled=MappingProxyType(compiled),
    )


def catalog_locales(specs: Mapping[str, TemplateSpec]) -> tuple[str, ...]:
    first = next(iter(specs.values()))
    locales = set(first.locales)
    missing = [tag for tag in REQUIRED_LOCALES if tag not in locales]
    if missing:
        raise TemplateError(f"{first.name}.toml: missing locale {', '.join(missing)}")
    for spec in specs.values():
        if set(spec.locales) != locales:
            differ = sorted(locales.symmetric_difference(spec.locales))
            raise TemplateError(
                f"{spec.name}.toml: every template has the same locales; "
                f"this one differs from {first.name}.toml in {', '.join(differ)}"
            )
    return (*REQUIRED_LOCALES, *sorted(locales - set(REQUIRED_LOCALES)))


def jurisdiction_notices(raw: dict[str, Any]) -> dict[Jurisdiction, JurisdictionNotices]:
    """What ``notices.toml`` (its TOML ``raw``) requires of each jurisdiction's messages."""
    raw = dict(raw)
    notices = {}
    for jurisdiction in Jurisdiction:
        if jurisdiction.value not in raw:
            raise TemplateError(f"{NOTICES_FILE}: {jurisdiction.value}: missing")
        try:
            parsed = _JurisdictionNotices.model_validate(raw.pop(jurisdiction.value))
        except ValidationError as error:
            raise TemplateError(_describe(NOTICES_FILE, error, jurisdiction.value)) from None
        texts = {
            (channel, locale): text
            for channel, by_locale in parsed.opt_out_notice.items()
            for locale, text in by_locale.items()
        }
        notices[jurisdiction] = JurisdictionNotices(
            frozenset(parsed.opt_out_required), MappingProxyType(texts)
        )
    if raw:
        raise TemplateError(f"{NOTICES_FILE}: {', '.join(raw)}: not a jurisdiction")
    return notices


def check_notice_locales(
    notices: Mapping[Jurisdiction, JurisdictionNotices], locales: tuple[str, ...]
) -> None:
    for jurisdiction, notice in notices.items():
        for channel in SENDABLE_CHANNELS:
            for locale in locales:
                if (channel, locale) not in notice.opt_out_notice:
                    raise TemplateError(
                        f"{NOTICES_FILE}: {jurisdiction}.opt_out_notice.{channel}.{locale}: missing"
                    )


def _describe(name: str, error: ValidationError, prefix: str = "") -> str:
    problems = []
    for detail in error.errors():
        parts = [prefix] if prefix else []
        parts += [str(part) for part in detail["loc"] if part != "locales"]
        problems.append(f"{name}: {'.'.join(parts) or '(top)'}: {detail['msg']}")
    return "; ".join(problems)
