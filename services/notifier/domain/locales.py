"""The borrower's locale mapped to one the templates are written in, and values shown in it."""

from collections.abc import Sequence
from datetime import date
from decimal import Decimal

from babel import Locale, UnknownLocaleError
from babel.dates import format_date
from babel.numbers import format_currency

from shared.events.money import MINOR_UNITS, Money

FALLBACK_LOCALE = "en"


def resolve_locale(requested: str, available: Sequence[str]) -> str:
    """The best of ``available`` for a borrower's locale tag ("zh-Hans-CN", "en_US", "fr" ...).

    The exact tag first, then the first available tag of the same language (every Chinese
    variant gets ``zh-CN`` when that is the only Chinese one), then ``FALLBACK_LOCALE``.
    """
    wanted = requested.strip().replace("_", "-").casefold()
    by_folded = {tag.casefold(): tag for tag in available}
    if wanted in by_folded:
        return by_folded[wanted]
    language = wanted.partition("-")[0]
    for tag in available:
        if tag.casefold().partition("-")[0] == language:
            return tag
    return FALLBACK_LOCALE


def babel_locale(tag: str) -> Locale:
    """Babel's locale for a template locale tag; ``ValueError`` if Babel does not know it."""
    try:
        return Locale.parse(tag, sep="-")
    except (UnknownLocaleError, ValueError) as error:
        raise ValueError(f"unknown locale {tag!r}: {error}") from None


def format_money(money: Money, locale: Locale) -> str:
    """E.g. "¥1,234.50" in zh-CN, "CN¥1,234.50" in en; always the currency's minor units."""
    places = Decimal(1).scaleb(-MINOR_UNITS[money.currency])
    return format_currency(money.amount.quantize(places), money.currency, locale=locale)


def format_day(day: date, locale: Locale) -> str:
    """E.g. "2026年12月1日" in zh-CN, "December 1, 2026" in en."""
    return format_date(day, format="long", locale=locale)
