"""The borrower's page, ``/b/<token>``: server-rendered HTML in their language, with forms
that post back here and redirect (POST-redirect-GET). Works without JavaScript; no asset is
loaded from anywhere (the style is inline, allowed by its hash).

An unknown or tampered token (404) and an expired or revoked one (410) get the same neutral
page; too many refused tokens from one address get a 429 with ``Retry-After``.
"""

import base64
import hashlib
import json
import math
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime, time
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlencode

from babel.dates import format_date, format_datetime
from babel.numbers import format_currency
from fastapi import APIRouter, FastAPI, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from jinja2 import Environment, FileSystemLoader, select_autoescape

from services.intake.api.borrower_security import (
    TooManyRefusalsError,
    open_link,
    same_origin_post,
    site_of,
)
from services.intake.application.borrower_desk import (
    BorrowerView,
    LinkRefusedError,
    LoanEndedError,
)
from shared.borrower_links import LinkClaims
from shared.events.borrowers import DataRequestKind, DisputeReason
from shared.events.limits import storable_note
from shared.events.models import InconvenientTime
from shared.events.money import Money
from shared.http.problems import HTTP_TITLES, problem_response
from shared.vocabulary import Channel

TEMPLATES = Path(__file__).parent / "borrower_templates"
LOCALES = ("zh-CN", "en")
LANGUAGE_NAMES = (("zh-CN", "中文"), ("en", "English"))
DEFAULT_LOCALE = "en"
WINDOWS = 2  # inconvenient-time windows the form offers
DAY_SETS: dict[str, list[int]] = {
    "all": list(range(7)),
    "weekdays": [0, 1, 2, 3, 4],
    "weekend": [5, 6],
}
DETAILS_MAX = 2000
MAX_FORM_FIELDS = 50

CSS = (TEMPLATES / "style.css").read_text(encoding="utf-8").strip()
STYLE_HASH = base64.b64encode(hashlib.sha256(CSS.encode()).digest()).decode()
CATALOGUES: dict[str, dict[str, str]] = {
    locale: json.loads((TEMPLATES / "messages" / f"{locale}.json").read_text(encoding="utf-8"))
    for locale in LOCALES
}
_templates = Environment(
    loader=FileSystemLoader(TEMPLATES),
    autoescape=select_autoescape(["html"]),
    trim_blocks=True,
    lstrip_blocks=True,
)

router = APIRouter(prefix="/b", include_in_schema=False)


def supported_locale(tag: str | None) -> str | None:
    """``zh``, ``zh-CN``, ``zh-Hans-CN`` … -> ``zh-CN``; ``en-GB`` -> ``en``; else None."""
    if not tag:
        return None
    language = tag.strip().replace("_", "-").split("-")[0].lower()
    return {"zh": "zh-CN", "en": "en"}.get(language)


def accepted_languages(header: str) -> list[str]:
    """The tags of an ``Accept-Language`` header, most wanted first (``q=0`` left out)."""
    weighted: list[tuple[float, int, str]] = []
    for position, part in enumerate(header.split(",")[:20]):
        tag, _, parameters = part.strip().partition(";")
        quality = 1.0
        if parameters.strip().startswith("q="):
            try:
                quality = float(parameters.strip()[2:])
            except ValueError:
                quality = 0.0
        if tag and tag != "*" and quality > 0 and math.isfinite(quality):
            weighted.append((-quality, position, tag))
    return [tag for _, _, tag in sorted(weighted)]


def choose_locale(request: Request, borrower_locale: str | None) -> str:
    """``?lang=`` if it names one we have, else the first of ``Accept-Language`` we have,
    else the borrower's own locale (from the lender's report)."""
    asked = request.query_params.get("lang")
    if asked in LOCALES:
        return asked
    for tag in accepted_languages(request.headers.get("accept-language", "")):
        found = supported_locale(tag)
        if found:
            return found
    return supported_locale(borrower_locale) or DEFAULT_LOCALE


@dataclass(frozen=True)
class Words:
    """The catalogue of one locale and the formats of its numbers and dates."""

    locale: str

    @property
    def _babel(self) -> str:
        return self.locale.replace("-", "_")

    def t(self, key: str, **values: Any) -> str:
        text = CATALOGUES[self.locale][key]
        return text.format(**values) if values else text

    def word(self, prefix: str, value: object) -> str:
        """The catalogue's word for an enum value (``channel_sms``), else the value itself."""
        raw = str(getattr(value, "value", value))
        return CATALOGUES[self.locale].get(prefix + raw, raw)

    def money(self, money: Money) -> str:
        return format_currency(money.amount, money.currency, locale=self._babel)

    def day(self, value: date | datetime) -> str:
        if isinstance(value, datetime):
            value = value.astimezone(UTC).date()
        return format_date(value, format="long", locale=self._babel)

    def moment(self, value: datetime) -> str:
        return format_datetime(value, format="medium", tzinfo=UTC, locale=self._babel) + " UTC"


def render(
    request: Request,
    template: str,
    locale: str,
    status: int = 200,
    headers: Mapping[str, str] | None = None,
    **context: Any,
) -> HTMLResponse:
    words = Words(locale)
    title = context.pop("title", None) or words.t("neutral_title")
    html = _templates.get_template(template).render(
        lang=locale,
        languages=LANGUAGE_NAMES,
        css=CSS,
        title=title,
        t=words.t,
        word=words.word,
        money=words.money,
        day=words.day,
        moment=words.moment,
        **context,
    )
    return HTMLResponse(html, status_code=status, headers=dict(headers or {}))


def neutral_page(request: Request, status: int) -> HTMLResponse:
    """The one page of a link that opens nothing: the same for 404 and 410, no data."""
    locale = choose_locale(request, None)
    words = Words(locale)
    return render(
        request,
        "message.html",
        locale,
        status,
        heading=words.t("neutral_title"),
        body=words.t("neutral_body"),
    )


def message_page(
    request: Request,
    locale: str,
    status: int,
    key: str,
    headers: Mapping[str, str] | None = None,
    **values: Any,
) -> HTMLResponse:
    words = Words(locale)
    return render(
        request,
        "message.html",
        locale,
        status,
        headers,
        title=words.t(f"{key}_title"),
        heading=words.t(f"{key}_title"),
        body=words.t(f"{key}_body", **values),
    )


async def _link_refused(request: Request, error: Exception) -> Response:
    assert isinstance(error, LinkRefusedError)
    return neutral_page(request, 410 if error.gone else 404)


async def _too_many(request: Request, error: Exception) -> Response:
    assert isinstance(error, TooManyRefusalsError)
    minutes = max(1, math.ceil(error.retry_after / 60))
    return message_page(
        request,
        choose_locale(request, None),
        429,
        "too_many",
        {"Retry-After": str(error.retry_after)},
        minutes=minutes,
    )


def error_page(request: Request, status: int) -> Response:
    """What an error no handler answered gives (the site's guard calls it): on the page, a
    page saying to retry (503) or that something went wrong (500); on the API, problem+json."""
    if not request.url.path.startswith("/b/"):
        if status == 503:
            detail = "A service this one depends on is briefly unavailable; retry later."
            return problem_response(503, HTTP_TITLES[503], detail)
        return problem_response(500, "Internal error", "The error was logged.")
    key = "unavailable" if status == 503 else "error"
    return message_page(request, choose_locale(request, None), status, key)


def answer_link_refusals(app: FastAPI) -> None:
    app.add_exception_handler(LinkRefusedError, _link_refused)
    app.add_exception_handler(TooManyRefusalsError, _too_many)


# --- the page ----------------------------------------------------------------------------


def _keep_lang(request: Request) -> str:
    """The query string that keeps a ``?lang=`` choice across forms and redirects."""
    asked = request.query_params.get("lang")
    return f"?{urlencode({'lang': asked})}" if asked in LOCALES else ""


def _windows(view: BorrowerView) -> list[dict[str, str]]:
    windows = []
    for window in view.preferences.inconvenient_times[:WINDOWS]:
        days = next((k for k, v in DAY_SETS.items() if v == sorted(window.weekdays)), "all")
        windows.append(
            {
                "start": window.start.strftime("%H:%M"),
                "end": window.end.strftime("%H:%M"),
                "days": days,
            }
        )
    while len(windows) < WINDOWS:
        windows.append({"start": "", "end": "", "days": "all"})
    return windows


def page(
    request: Request,
    token: str,
    view: BorrowerView,
    *,
    status: int = 200,
    done: str | None = None,
    problem: str | None = None,
    errors: Mapping[str, str] | None = None,
    form: Mapping[str, str] | None = None,
) -> HTMLResponse:
    locale = choose_locale(request, view.locale)
    return render(
        request,
        "page.html",
        locale,
        status,
        title=Words(locale).t("page_title", lender=view.lender_name),
        view=view,
        base=f"/b/{token}",
        keep=_keep_lang(request),
        csrf=site_of(request).csrf.token_for(token),
        done=done,
        problem=problem,
        errors=dict(errors or {}),
        form=dict(form or {}),
        reasons=[r.value for r in DisputeReason],
        channels=[c.value for c in Channel],
        opted_out={c.value for c in view.preferences.opted_out_channels},
        windows=_windows(view),
        day_sets=list(DAY_SETS),
        kinds=[k.value for k in DataRequestKind],
    )


DONE = ("dispute", "preferences", "data")


@router.get("/{token}", response_class=HTMLResponse)
async def borrower_page(request: Request, token: str) -> Response:
    claims = await open_link(request, token)
    view = await site_of(request).desk.view(claims)
    done = request.query_params.get("done")
    return page(request, token, view, done=done if done in DONE else None)


@router.get("/{token}/data-requests/{request_id}", response_class=HTMLResponse)
async def data_request_page(request: Request, token: str, request_id: str) -> Response:
    claims = await open_link(request, token)
    site = site_of(request)
    found = await site.desk.data_request(claims, request_id[:64])
    view = await site.desk.view(claims)
    locale = choose_locale(request, view.locale)
    if found is None:
        return neutral_page(request, 404)
    return render(
        request,
        "request.html",
        locale,
        title=Words(locale).word("request_title_", found.kind),
        asked=found,
        done=request.query_params.get("done") == "data",
        base=f"/b/{token}",
        keep=_keep_lang(request),
    )


# --- the forms ---------------------------------------------------------------------------


class FormRefusedError(Exception):
    """A POST that did not come from the borrower's own page (or not as a form)."""


async def read_form(request: Request, token: str) -> dict[str, list[str]]:
    """The fields of a form posted from this link's page; FormRefusedError otherwise (not
    same-origin, no or a wrong CSRF token, not ``application/x-www-form-urlencoded``)."""
    site = site_of(request)
    if not same_origin_post(request, site.base_url):
        raise FormRefusedError
    media_type = request.headers.get("content-type", "").partition(";")[0].strip().lower()
    if media_type != "application/x-www-form-urlencoded":
        raise FormRefusedError
    try:
        pairs = parse_qsl(
            (await request.body()).decode("utf-8"),
            keep_blank_values=True,
            strict_parsing=False,
            max_num_fields=MAX_FORM_FIELDS,
        )
    except (UnicodeDecodeError, ValueError):
        raise FormRefusedError from None
    fields: dict[str, list[str]] = {}
    for name, value in pairs:
        fields.setdefault(name, []).append(value)
    given = fields.get("csrf")
    if not site.csrf.valid(token, given[0] if given else None):
        raise FormRefusedError
    return fields


async def _form_refused(request: Request, _error: Exception) -> Response:
    return message_page(request, choose_locale(request, None), 403, "forbidden")


def answer_form_refusals(app: FastAPI) -> None:
    app.add_exception_handler(FormRefusedError, _form_refused)


def _one(fields: Mapping[str, list[str]], name: str) -> str:
    values = fields.get(name) or [""]
    return values[0]


def _after(request: Request, token: str, done: str, path: str = "") -> RedirectResponse:
    query = {"done": done}
    if request.query_params.get("lang") in LOCALES:
        query["lang"] = request.query_params["lang"]
    return RedirectResponse(f"/b/{token}{path}?{urlencode(query)}", status_code=303)


async def _refused_form(
    request: Request,
    token: str,
    claims: LinkClaims,
    errors: Mapping[str, str],
    form: Mapping[str, str] | None = None,
) -> Response:
    view = await site_of(request).desk.view(claims)
    return page(request, token, view, status=422, errors=errors, form=form)


async def _loan_ended(request: Request, token: str, claims: LinkClaims) -> Response:
    view = await site_of(request).desk.view(claims)
    return page(request, token, view, status=409, problem="loan_ended")


@router.post("/{token}/disputes")
async def post_dispute(request: Request, token: str) -> Response:
    claims = await open_link(request, token)
    fields = await read_form(request, token)
    reason_text, details = _one(fields, "reason"), _one(fields, "details").strip()
    errors: dict[str, str] = {}
    try:
        reason = DisputeReason(reason_text)
    except ValueError:
        errors["reason"] = "error_reason"
    try:
        details = storable_note(details.replace("\r\n", "\n"))
    except ValueError:
        errors["details"] = "error_details"
    if len(details) > DETAILS_MAX:
        errors["details"] = "error_details"
    if errors:
        form = {"reason": reason_text, "details": details[:DETAILS_MAX]}
        return await _refused_form(request, token, claims, errors, form)
    try:
        await site_of(request).desk.open_dispute(claims, reason, details)
    except LoanEndedError:
        return await _loan_ended(request, token, claims)
    return _after(request, token, "dispute")


def _parse_time(text: str) -> time:
    return time.fromisoformat(text.strip())


@router.post("/{token}/preferences")
async def post_preferences(request: Request, token: str) -> Response:
    claims = await open_link(request, token)
    fields = await read_form(request, token)
    errors: dict[str, str] = {}
    channels: list[Channel] = []
    for value in fields.get("opted_out", []):
        try:
            channels.append(Channel(value))
        except ValueError:
            errors["opted_out"] = "error_channels"
    times: list[InconvenientTime] = []
    for n in range(1, WINDOWS + 1):
        start, end = _one(fields, f"start_{n}"), _one(fields, f"end_{n}")
        if not start.strip() and not end.strip():
            continue
        days = DAY_SETS.get(_one(fields, f"days_{n}"), DAY_SETS["all"])
        try:
            times.append(
                InconvenientTime(weekdays=days, start=_parse_time(start), end=_parse_time(end))
            )
        except ValueError:
            errors["times"] = "error_times"
    if errors:
        return await _refused_form(request, token, claims, errors)
    try:
        await site_of(request).desk.set_preferences(claims, list(dict.fromkeys(channels)), times)
    except LoanEndedError:
        return await _loan_ended(request, token, claims)
    return _after(request, token, "preferences")


@router.post("/{token}/data-requests")
async def post_data_request(request: Request, token: str) -> Response:
    claims = await open_link(request, token)
    fields = await read_form(request, token)
    try:
        kind = DataRequestKind(_one(fields, "kind"))
    except ValueError:
        return await _refused_form(request, token, claims, {"kind": "error_kind"})
    asked = await site_of(request).desk.request_data(claims, kind)
    return _after(request, token, "data", f"/data-requests/{asked.request_id}")


# --- RFC 8058 one-click unsubscribe ------------------------------------------------------

ONE_CLICK = ("List-Unsubscribe", "One-Click")


@router.get("/{token}/unsubscribe", response_class=HTMLResponse)
async def unsubscribe_page(request: Request, token: str) -> Response:
    """What a mail client without one-click support opens: a button, never an unsubscribe
    on GET (link scanners follow links)."""
    claims = await open_link(request, token)
    view = await site_of(request).desk.view(claims)
    locale = choose_locale(request, view.locale)
    return render(
        request,
        "unsubscribe.html",
        locale,
        title=Words(locale).t("unsubscribe_title"),
        done=False,
        base=f"/b/{token}",
    )


@router.post("/{token}/unsubscribe", response_class=HTMLResponse)
async def unsubscribe(request: Request, token: str) -> Response:
    """RFC 8058: the body ``List-Unsubscribe=One-Click``, no CSRF token, no cookies: an opt-out
    of e-mail at this lender."""
    claims = await open_link(request, token)
    body = await request.body()
    try:
        pairs = parse_qsl(body.decode("utf-8"), keep_blank_values=True, max_num_fields=10)
    except (UnicodeDecodeError, ValueError):
        pairs = []
    if ONE_CLICK not in pairs:
        return neutral_page_for_bad_unsubscribe(request)
    await site_of(request).desk.unsubscribe_email(claims)
    locale = choose_locale(request, None)
    return render(
        request,
        "unsubscribe.html",
        locale,
        title=Words(locale).t("unsubscribe_title"),
        done=True,
        base=f"/b/{token}",
    )


def neutral_page_for_bad_unsubscribe(request: Request) -> HTMLResponse:
    """A POST without the one-click body: refused (400), saying nothing of the link."""
    return message_page(request, choose_locale(request, None), 400, "forbidden")
