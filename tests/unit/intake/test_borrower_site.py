"""The borrower's page ``/b/<token>`` on a fake desk: what it shows in each language, its
security headers, forms safe against CSRF, the neutral page of a refused link, the limit on
guessing, RFC 8058 one-click, and no token in any log."""

import base64
import hashlib
import logging
import re
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from html.parser import HTMLParser
from typing import Any
from urllib.parse import urlencode

import httpx
import pytest
import structlog

from services.intake.api.borrower_security import REFUSED_TOKENS_LIMIT
from services.intake.application.borrower_desk import Holder, NoticeSent
from shared.logging import configure_logging
from shared.vocabulary import Channel
from tests.support.fake_borrower_desk import FakeBorrowerDesk
from tests.unit.intake.borrower_site_support import ORIGIN, borrower_app, client_of

FORM = {"Content-Type": "application/x-www-form-urlencoded"}
SAME_ORIGIN = {**FORM, "Origin": ORIGIN, "Sec-Fetch-Site": "same-origin"}
REFUSALS_ALLOWED = int(REFUSED_TOKENS_LIMIT.split("/")[0])


@pytest.fixture
def desk() -> FakeBorrowerDesk:
    return FakeBorrowerDesk()


@pytest.fixture
async def client(desk: FakeBorrowerDesk) -> AsyncIterator[httpx.AsyncClient]:
    async with client_of(borrower_app(desk)) as client:
        yield client


@pytest.fixture
def token(desk: FakeBorrowerDesk) -> str:
    return desk.add_loan(
        held_by=Holder("agency-north", "North Recovery", "+86 10 5555 0101"),
        notices=[NoticeSent(datetime(2026, 11, 2, 9, 30, tzinfo=UTC), Channel.SMS, "reminder")],
    )


def tampered(token: str) -> str:
    """The token with one character of its sealed part changed."""
    index = len(token) - 5
    return token[:index] + ("A" if token[index] != "A" else "B") + token[index + 1 :]


class Inputs(HTMLParser):
    """The form controls of a page and the ``for`` of its labels."""

    def __init__(self) -> None:
        super().__init__()
        self.controls: list[dict[str, str | None]] = []
        self.labelled: set[str] = set()
        self.hidden: dict[str, str] = {}
        self.style = ""
        self._in_style = False
        self.tags: set[str] = set()

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.add(tag)
        found = dict(attrs)
        if tag == "label" and found.get("for"):
            self.labelled.add(str(found["for"]))
        if tag in ("input", "select", "textarea"):
            if found.get("type") == "hidden":
                self.hidden[str(found.get("name"))] = str(found.get("value"))
            else:
                self.controls.append(found)
        self._in_style = tag == "style"

    def handle_endtag(self, tag: str) -> None:
        self._in_style = False

    def handle_data(self, data: str) -> None:
        if self._in_style:
            self.style += data


def parse(html: str) -> Inputs:
    parser = Inputs()
    parser.feed(html)
    return parser


async def csrf_of(client: httpx.AsyncClient, token: str) -> str:
    return parse((await client.get(f"/b/{token}")).text).hidden["csrf"]


# --- what the page shows -----------------------------------------------------------------


async def test_the_page_speaks_the_borrowers_locale(client: httpx.AsyncClient, token: str) -> None:
    response = await client.get(f"/b/{token}")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/html")
    html = response.text
    assert '<html lang="zh-CN">' in html
    assert "您在Demo Consumer Finance的账户" in html
    assert "¥1,250.00" in html  # the amount in the borrower's currency
    assert "2026年10月1日" in html  # overdue since
    assert "North Recovery" in html
    assert "tel:+86 10 5555 0101" in html
    assert "还款提醒" in html
    assert "短信" in html
    assert html.count("<h1>") == 1
    assert "<h2" in html


@pytest.mark.parametrize(
    ("headers", "query", "lang"),
    [
        ({"Accept-Language": "en-US,en;q=0.9"}, "", "en"),
        ({"Accept-Language": "fr-FR, en;q=0.5"}, "", "en"),
        ({"Accept-Language": "en-US"}, "?lang=zh-CN", "zh-CN"),
        ({}, "?lang=en", "en"),
        ({"Accept-Language": "fr-FR"}, "", "zh-CN"),  # none we have: the borrower's own
    ],
)
async def test_accept_language_or_lang_switch_the_language(
    client: httpx.AsyncClient, token: str, headers: dict[str, str], query: str, lang: str
) -> None:
    html = (await client.get(f"/b/{token}{query}", headers=headers)).text
    assert f'<html lang="{lang}">' in html
    english = "Your account with Demo Consumer Finance" in html
    assert english == (lang == "en")


async def test_english_shows_the_same_facts(client: httpx.AsyncClient, token: str) -> None:
    html = (await client.get(f"/b/{token}?lang=en")).text
    assert "CN¥1,250.00" in html
    assert "October 1, 2026" in html
    assert "collection agency North Recovery" in html
    assert "Payment reminder" in html


async def test_the_lender_holds_it_when_no_agency_does(
    desk: FakeBorrowerDesk, client: httpx.AsyncClient
) -> None:
    token = desk.add_loan("L-2")
    html = (await client.get(f"/b/{token}?lang=en")).text
    assert "Demo Consumer Finance holds your account itself" in html


async def test_every_control_has_a_label_and_nothing_needs_script(
    client: httpx.AsyncClient, token: str
) -> None:
    page = parse((await client.get(f"/b/{token}")).text)
    assert page.controls
    unlabelled = [c for c in page.controls if c.get("id") not in page.labelled]
    assert not unlabelled
    assert "script" not in page.tags
    assert "img" not in page.tags
    assert "link" not in page.tags


async def test_the_inline_style_is_the_one_the_csp_allows(
    client: httpx.AsyncClient, token: str
) -> None:
    response = await client.get(f"/b/{token}")
    digest = base64.b64encode(hashlib.sha256(parse(response.text).style.encode()).digest())
    assert f"style-src 'sha256-{digest.decode()}'" in response.headers["content-security-policy"]


async def test_the_page_is_small(client: httpx.AsyncClient, token: str) -> None:
    assert len((await client.get(f"/b/{token}")).content) < 20_000


# --- security headers --------------------------------------------------------------------


async def test_every_response_carries_the_security_headers(
    desk: FakeBorrowerDesk, client: httpx.AsyncClient, token: str
) -> None:
    responses = [
        await client.get(f"/b/{token}"),
        await client.get(f"/b/{tampered(token)}"),
        await client.post(f"/b/{token}/disputes", data={"reason": "other"}),
        await client.get("/v1/me"),
        await client.get("/v1/me", headers={"Authorization": f"Bearer {token}"}),
        await client.delete(f"/b/{token}"),
        await client.get("/nowhere"),
    ]
    for response in responses:
        csp = response.headers["content-security-policy"]
        assert "default-src 'none'" in csp
        assert "form-action 'self'" in csp
        assert "frame-ancestors 'none'" in csp
        assert response.headers["referrer-policy"] == "no-referrer"
        assert response.headers["cache-control"] == "no-store"
        assert response.headers["x-content-type-options"] == "nosniff"
    assert [r.status_code for r in responses] == [200, 404, 403, 401, 200, 405, 404]


# --- a link that opens nothing -----------------------------------------------------------


async def test_unknown_tampered_expired_and_revoked_links_get_one_neutral_page(
    desk: FakeBorrowerDesk, client: httpx.AsyncClient, token: str
) -> None:
    revoked = desk.token()
    desk.revoke(revoked)
    unknown_loan = desk.token("L-404")
    answers = {
        "tampered": await client.get(f"/b/{tampered(token)}"),
        "garbage": await client.get("/b/not-a-token"),
        "unknown loan": await client.get(f"/b/{unknown_loan}"),
        "expired": await client.get(f"/b/{desk.expired_token()}"),
        "revoked": await client.get(f"/b/{revoked}"),
    }
    statuses = {name: r.status_code for name, r in answers.items()}
    assert statuses == {
        "tampered": 404,
        "garbage": 404,
        "unknown loan": 404,
        "expired": 410,
        "revoked": 410,
    }
    bodies = {r.text for r in answers.values()}
    assert len(bodies) == 1  # the same page: nothing tells which
    (body,) = bodies
    assert "Demo Consumer Finance" not in body
    assert "1,250" not in body
    assert "csrf" not in body


# --- the forms ---------------------------------------------------------------------------


async def test_a_dispute_is_filed_and_the_page_says_so(
    desk: FakeBorrowerDesk, client: httpx.AsyncClient, token: str
) -> None:
    csrf = await csrf_of(client, token)
    form = {"csrf": csrf, "reason": "not_mine", "details": "I never\r\nborrowed"}
    response = await client.post(f"/b/{token}/disputes", data=form, headers=SAME_ORIGIN)
    assert response.status_code == 303
    assert response.headers["location"] == f"/b/{token}?done=dispute"
    loan = desk.loan()
    assert [d.reason.value for d in loan.disputes] == ["not_mine"]
    assert loan.details == ["I never\nborrowed"]
    html = (await client.get(response.headers["location"])).text
    assert 'role="status"' in html
    assert "您的异议已提交" in html


async def test_a_chosen_language_is_kept_across_the_redirect(
    client: httpx.AsyncClient, token: str
) -> None:
    csrf = await csrf_of(client, token)
    response = await client.post(
        f"/b/{token}/disputes?lang=en",
        data={"csrf": csrf, "reason": "other"},
        headers=SAME_ORIGIN,
    )
    assert response.headers["location"] == f"/b/{token}?done=dispute&lang=en"


async def test_a_form_without_a_reason_is_refused_naming_it(
    desk: FakeBorrowerDesk, client: httpx.AsyncClient, token: str
) -> None:
    csrf = await csrf_of(client, token)
    response = await client.post(
        f"/b/{token}/disputes?lang=en",
        data={"csrf": csrf, "reason": "bogus", "details": "x" * 2001},
        headers=SAME_ORIGIN,
    )
    assert response.status_code == 422
    assert "Choose a reason." in response.text
    assert "The details are too long" in response.text
    assert 'aria-invalid="true"' in response.text
    assert desk.loan().disputes == []


@pytest.mark.parametrize(
    ("csrf", "headers"),
    [
        (None, SAME_ORIGIN),  # no token
        ("another", SAME_ORIGIN),  # the token of another link
        ("valid", {**FORM, "Sec-Fetch-Site": "cross-site"}),
        ("valid", {**FORM, "Sec-Fetch-Site": "same-site"}),
        ("valid", {**FORM, "Origin": "https://evil.example"}),
        ("valid", {"Content-Type": "text/plain", "Origin": ORIGIN}),
    ],
    ids=["no-token", "other-link", "cross-site", "same-site", "foreign-origin", "not-a-form"],
)
async def test_a_forged_post_is_a_403_and_writes_nothing(
    desk: FakeBorrowerDesk,
    client: httpx.AsyncClient,
    token: str,
    csrf: str | None,
    headers: dict[str, str],
) -> None:
    other = desk.add_loan("L-2")
    given = {"valid": await csrf_of(client, token), "another": await csrf_of(client, other)}
    form = {"reason": "not_mine"} | ({"csrf": given[csrf]} if csrf else {})
    response = await client.post(f"/b/{token}/disputes", content=urlencode(form), headers=headers)
    assert response.status_code == 403
    assert "无法接受此表单" in response.text or "could not be accepted" in response.text
    assert desk.loan().disputes == []


async def test_a_same_origin_form_under_no_referrer_sends_origin_null_and_passes(
    desk: FakeBorrowerDesk, client: httpx.AsyncClient, token: str
) -> None:
    csrf = await csrf_of(client, token)
    headers = {**FORM, "Origin": "null", "Sec-Fetch-Site": "same-origin"}
    response = await client.post(
        f"/b/{token}/disputes", data={"csrf": csrf, "reason": "other"}, headers=headers
    )
    assert response.status_code == 303
    assert len(desk.loan().disputes) == 1


async def test_preferences_are_replaced_from_the_form(
    desk: FakeBorrowerDesk, client: httpx.AsyncClient, token: str
) -> None:
    csrf = await csrf_of(client, token)
    form = [
        ("csrf", csrf),
        ("opted_out", "sms"),
        ("opted_out", "phone_call"),
        ("start_1", "12:00"),
        ("end_1", "14:00"),
        ("days_1", "weekdays"),
        ("start_2", ""),
        ("end_2", ""),
        ("days_2", "all"),
    ]
    response = await client.post(
        f"/b/{token}/preferences", content=urlencode(form), headers=SAME_ORIGIN
    )
    assert response.status_code == 303
    assert response.headers["location"] == f"/b/{token}?done=preferences"
    preferences = desk.loan().preferences
    assert preferences.opted_out_channels == [Channel.SMS, Channel.PHONE_CALL]
    (window,) = preferences.inconvenient_times
    assert (window.weekdays, window.start.isoformat(), window.end.isoformat()) == (
        [0, 1, 2, 3, 4],
        "12:00:00",
        "14:00:00",
    )
    html = (await client.get(f"/b/{token}")).text
    assert 'id="opt-sms" name="opted_out" value="sms" checked' in html
    assert 'value="12:00"' in html


async def test_a_window_without_its_end_is_refused(
    desk: FakeBorrowerDesk, client: httpx.AsyncClient, token: str
) -> None:
    csrf = await csrf_of(client, token)
    form = {"csrf": csrf, "start_1": "12:00", "end_1": "", "opted_out": "letter"}
    response = await client.post(f"/b/{token}/preferences?lang=en", data=form, headers=SAME_ORIGIN)
    assert response.status_code == 422
    assert "Give both times of a window as hh:mm." in response.text
    assert desk.loan().preferences.opted_out_channels == []


async def test_a_data_request_leads_to_its_page_and_its_answers(
    desk: FakeBorrowerDesk, client: httpx.AsyncClient, token: str
) -> None:
    csrf = await csrf_of(client, token)
    response = await client.post(
        f"/b/{token}/data-requests?lang=en",
        data={"csrf": csrf, "kind": "access"},
        headers=SAME_ORIGIN,
    )
    assert response.status_code == 303
    (asked,) = desk.loan().requests
    location = f"/b/{token}/data-requests/{asked.request_id}?done=data&lang=en"
    assert response.headers["location"] == location
    pending = (await client.get(location)).text
    assert "Your request was received." in pending
    assert "pending, answered by" in pending
    desk.answer(asked.request_id)
    ready = (await client.get(location)).text
    assert "+8613800138000" in ready
    assert "North Recovery" in ready
    assert "Personal information held" in ready


async def test_a_deletion_answer_says_what_was_kept_and_why(
    desk: FakeBorrowerDesk, client: httpx.AsyncClient, token: str
) -> None:
    csrf = await csrf_of(client, token)
    await client.post(
        f"/b/{token}/data-requests", data={"csrf": csrf, "kind": "deletion"}, headers=SAME_ORIGIN
    )
    (asked,) = desk.loan().requests
    desk.answer(asked.request_id)
    html = (await client.get(f"/b/{token}/data-requests/{asked.request_id}?lang=en")).text
    assert "What was erased and what is kept" in html
    assert "debt still owed" in html


async def test_another_borrowers_request_is_the_neutral_page(
    desk: FakeBorrowerDesk, client: httpx.AsyncClient, token: str
) -> None:
    other = desk.add_loan("L-2", borrower_ref="bref_other")
    csrf = await csrf_of(client, other)
    await client.post(
        f"/b/{other}/data-requests", data={"csrf": csrf, "kind": "access"}, headers=SAME_ORIGIN
    )
    (theirs,) = desk.loan("L-2").requests
    response = await client.get(f"/b/{token}/data-requests/{theirs.request_id}")
    assert response.status_code == 404
    assert response.text == (await client.get(f"/b/{tampered(token)}")).text


async def test_a_closed_loan_takes_no_dispute(
    desk: FakeBorrowerDesk, client: httpx.AsyncClient, token: str
) -> None:
    csrf = await csrf_of(client, token)
    desk.loan().status = "closed"
    response = await client.post(
        f"/b/{token}/disputes?lang=en", data={"csrf": csrf, "reason": "other"}, headers=SAME_ORIGIN
    )
    assert response.status_code == 409
    assert "This loan is closed" in response.text


# --- RFC 8058 one-click ------------------------------------------------------------------


async def test_one_click_unsubscribe_opts_out_of_email(
    desk: FakeBorrowerDesk, client: httpx.AsyncClient, token: str
) -> None:
    # A mail provider posts from its own servers: no Origin, no CSRF token, no cookie.
    response = await client.post(
        f"/b/{token}/unsubscribe", content="List-Unsubscribe=One-Click", headers=FORM
    )
    assert response.status_code == 200
    assert desk.loan().unsubscribed
    assert desk.loan().preferences.opted_out_channels == [Channel.EMAIL]
    assert "set-cookie" not in response.headers


async def test_unsubscribe_needs_the_one_click_body_and_a_get_changes_nothing(
    desk: FakeBorrowerDesk, client: httpx.AsyncClient, token: str
) -> None:
    page = await client.get(f"/b/{token}/unsubscribe")
    assert page.status_code == 200
    assert 'name="List-Unsubscribe" value="One-Click"' in page.text
    refused = await client.post(f"/b/{token}/unsubscribe", content="x=y", headers=FORM)
    assert refused.status_code == 400
    assert not desk.loan().unsubscribed
    gone = await client.post(
        f"/b/{tampered(token)}/unsubscribe", content="List-Unsubscribe=One-Click", headers=FORM
    )
    assert gone.status_code == 404


# --- guessing ----------------------------------------------------------------------------


async def test_too_many_refused_tokens_from_one_address_are_a_429(
    desk: FakeBorrowerDesk, token: str
) -> None:
    app = borrower_app(desk)
    async with client_of(app, "198.51.100.9") as guesser, client_of(app, "192.0.2.1") as other:
        for _ in range(REFUSALS_ALLOWED):
            assert (await guesser.get(f"/b/{tampered(token)}")).status_code == 404
        opened = desk.opened
        limited = await guesser.get(f"/b/{token}?lang=en")  # even a good one, for a while
        assert limited.status_code == 429
        assert 0 < int(limited.headers["retry-after"]) <= 300
        assert limited.headers["referrer-policy"] == "no-referrer"
        assert "Too many attempts" in limited.text
        assert "Demo Consumer" not in limited.text
        api = await guesser.get("/v1/me", headers={"Authorization": f"Bearer {token}"})
        assert api.status_code == 429
        assert "retry-after" in api.headers
        assert desk.opened == opened  # the desk is not even asked
        assert (await other.get(f"/b/{token}")).status_code == 200


async def test_good_tokens_do_not_count(desk: FakeBorrowerDesk, token: str) -> None:
    async with client_of(borrower_app(desk)) as client:
        for _ in range(REFUSALS_ALLOWED + 5):
            assert (await client.get(f"/b/{token}")).status_code == 200


# --- no token in any log -----------------------------------------------------------------


class ExplodingDesk(FakeBorrowerDesk):
    async def unsubscribe_email(self, claims: object) -> None:
        raise RuntimeError(f"boom with {self.last_token}")  # an error that names the token

    last_token = ""


async def test_no_token_reaches_a_log_over_a_whole_visit_and_an_error(
    caplog: pytest.LogCaptureFixture, capsys: pytest.CaptureFixture[str]
) -> None:
    root = logging.getLogger()
    saved = root.handlers[:], root.level
    configure_logging("intake-borrower", "DEBUG", json=True)
    root.addHandler(caplog.handler)
    client_log = logging.getLogger("httpx")  # the test's client logs its URLs; the site must not
    client_level = client_log.level
    client_log.setLevel(logging.WARNING)
    try:
        desk = ExplodingDesk()
        token = desk.add_loan()
        desk.last_token = token
        async with client_of(borrower_app(desk)) as client:
            auth = {"Authorization": f"Bearer {token}"}
            csrf = await csrf_of(client, token)
            await client.post(
                f"/b/{token}/disputes", data={"csrf": csrf, "reason": "other"}, headers=SAME_ORIGIN
            )
            await client.post(f"/b/{token}/disputes", data={"reason": "other"}, headers=FORM)
            await client.get(f"/b/{tampered(token)}")
            await client.get("/v1/me", headers=auth)
            await client.post("/v1/me/disputes", json={"reason": "bad"}, headers=auth)
            await client.get(f"/v1/me/data-requests/{token}", headers=auth)
            failed = await client.post(
                f"/b/{token}/unsubscribe", content="List-Unsubscribe=One-Click", headers=FORM
            )
        assert failed.status_code == 500
        assert "Something went wrong" in failed.text or "出错了" in failed.text
        assert failed.headers["content-security-policy"].startswith("default-src 'none'")
        assert failed.headers["cache-control"] == "no-store"
        assert token not in failed.text
        server_records = caplog.records
        assert any(r.levelno >= logging.ERROR for r in server_records)  # the error was logged
        sealed = token.rsplit(".", 1)[1]
        for record in server_records:
            assert sealed[:12] not in record.getMessage()
            assert sealed[:12] not in str(record.__dict__)
        printed = capsys.readouterr().out
        assert "unhandled error" in printed
        assert sealed[:12] not in printed
    finally:
        client_log.setLevel(client_level)
        root.handlers[:], level = saved
        root.setLevel(level)
        structlog.reset_defaults()


class UnavailableDesk(FakeBorrowerDesk):
    async def view(self, claims: object) -> Any:
        raise ConnectionError("the database is away")

    async def open_dispute(self, *args: object) -> Any:
        raise ValueError("a bug")


async def test_an_unavailable_database_is_a_503_to_retry_and_a_bug_a_500() -> None:
    desk = UnavailableDesk()
    token = desk.add_loan()
    auth = {"Authorization": f"Bearer {token}"}
    async with client_of(borrower_app(desk)) as client:
        page = await client.get(f"/b/{token}?lang=en")
        api = await client.get("/v1/me", headers=auth)
        bug = await client.post("/v1/me/disputes", json={"reason": "other"}, headers=auth)
    assert page.status_code == 503
    assert page.headers["retry-after"] == "5"
    assert "This page is briefly unavailable" in page.text
    assert page.headers["content-security-policy"].startswith("default-src 'none'")
    assert api.status_code == 503
    assert api.headers["content-type"] == "application/problem+json"
    assert api.headers["retry-after"] == "5"
    assert bug.status_code == 500
    assert bug.json()["title"] == "Internal error"


def _luminance(colour: str) -> float:
    channels = [int(colour[i : i + 2], 16) / 255 for i in (1, 3, 5)]
    linear = [c / 12.92 if c <= 0.03928 else ((c + 0.055) / 1.055) ** 2.4 for c in channels]
    return 0.2126 * linear[0] + 0.7152 * linear[1] + 0.0722 * linear[2]


def _contrast(one: str, other: str) -> float:
    high, low = sorted((_luminance(one), _luminance(other)), reverse=True)
    return (high + 0.05) / (low + 0.05)


def test_every_text_colour_has_at_least_wcag_aa_contrast() -> None:
    """Each text colour of the style on white and on the lightest tinted box; the button's
    white text on its own background (WCAG 2 AA: 4.5:1)."""
    from services.intake.api.borrower_site import CSS

    texts = set(re.findall(r"(?<![-\w])color:(#[0-9a-f]{6})", CSS))
    backgrounds = {"#ffffff", *re.findall(r"background:(#[0-9a-f]{6})", CSS)}
    assert texts
    assert len(backgrounds) > 1
    button = re.search(r"button\{[^}]*color:(#[0-9a-f]{6})[^}]*background:(#[0-9a-f]{6})", CSS)
    assert button is not None
    assert _contrast(button.group(1), button.group(2)) >= 4.5
    light = [b for b in backgrounds if _luminance(b) > 0.5]
    for text in texts - {button.group(1)}:
        for background in light:
            assert _contrast(text, background) >= 4.5, (text, background)
