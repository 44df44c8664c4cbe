"""The console's pure parts: the session cookie seals the key (never in the clear) and opens
only what this key sealed within the session's lifetime; form tokens are bound to what they were
made for; the charts' bars are proportional; timeline rows name their kind and key fields."""

import base64
from datetime import UTC, datetime
from typing import Any

from services.compliance.adapters.tables import audit_entries
from services.compliance.api.console import kind_of, summary, timeline_row
from services.compliance.api.console_charts import bar_chart
from services.compliance.api.console_security import SESSION_SECONDS, Sessions

KEY = "dc_0123456789abcdef_secretsecretsecretsecret"
NOW = 1_800_000_000.0


def test_a_sealed_session_opens_to_its_key_and_holds_it_only_encrypted() -> None:
    sessions = Sessions.from_secret("PRIVATE+KEY+log.example/audit+abc+def")
    sealed = sessions.seal(KEY, now=NOW)
    assert sessions.open(sealed, now=NOW + 60) == KEY
    raw = base64.urlsafe_b64decode(sealed + "=" * (-len(sealed) % 4))
    assert KEY.encode() not in raw
    assert b"secretsecret" not in raw
    assert sessions.seal(KEY, now=NOW) != sealed  # a fresh nonce each time


def test_a_session_is_refused_when_tampered_foreign_expired_or_garbage() -> None:
    sessions = Sessions.from_secret("one secret")
    sealed = sessions.seal(KEY, now=NOW)
    flipped = sealed[:-3] + ("A" if sealed[-3] != "A" else "B") + sealed[-2:]
    assert sessions.open(flipped, now=NOW) is None
    assert Sessions.from_secret("another secret").open(sealed, now=NOW) is None
    assert sessions.open(sealed, now=NOW + SESSION_SECONDS + 1) is None
    for garbage in (None, "", "!!!", "a" * 5000, base64.urlsafe_b64encode(b"x" * 40).decode()):
        assert sessions.open(garbage, now=NOW) is None


def test_a_form_token_fits_only_the_form_and_cookie_it_was_made_for() -> None:
    sessions = Sessions.from_secret("one secret")
    token = sessions.csrf_for("sign-out", "cookie-a")
    assert sessions.csrf_valid("sign-out", "cookie-a", token)
    assert not sessions.csrf_valid("sign-out", "cookie-b", token)
    assert not sessions.csrf_valid("sign-in", "cookie-a", token)
    assert not sessions.csrf_valid("sign-out", None, token)
    assert not sessions.csrf_valid("sign-out", "cookie-a", None)
    assert not Sessions.from_secret("other").csrf_valid("sign-out", "cookie-a", token)


def test_bars_are_proportional_to_the_largest_and_described() -> None:
    chart = bar_chart("c", "Contacts by agency", "contacts", [("a", 4), ("b", 2), ("c", 0)])
    widths = [bar.width for bar in chart.bars]
    assert widths[0] > 0
    assert widths[1] * 2 == widths[0]
    assert widths[2] == 0
    assert [bar.y for bar in chart.bars] == sorted({bar.y for bar in chart.bars})
    assert "the largest is a with 4 contacts" in chart.description
    empty = bar_chart("e", "Nothing", "contacts", [])
    assert empty.bars == []
    assert empty.description == "No figures in this period."


def test_timeline_rows_name_their_kind_and_key_fields() -> None:
    assert kind_of("collections.loan.overdue-reported") == "Report"
    assert kind_of("collections.notification.delivered") == "Notice"
    assert kind_of("collections.assignment.legal-stage-changed") == "Legal stage"
    assert kind_of("collections.assignment.placed") == "Placement"
    assert kind_of("collections.agency.activity-recorded") == "Contact"
    assert kind_of("collections.loan.hold-placed") == "Hold"
    assert kind_of("collections.something-new") == "Other"
    data = {"amount": {"amount": "10.00", "currency": "CNY"}, "channel": "sms", "text": "x"}
    assert summary(data) == [("amount", "10.00 CNY"), ("channel", "sms")]
    row: dict[str, Any] = {column.name: None for column in audit_entries.c}
    row.update(
        leaf_index=7,
        event_type="collections.notification.sent",
        event_time=datetime(2026, 11, 1, tzinfo=UTC),
        entry=b'{"data":{"channel":"sms","status":"sent"},"type":"collections.notification.sent"}',
    )
    shown = timeline_row(row)
    assert shown["kind"] == "Notice"
    assert shown["summary"] == [("channel", "sms"), ("status", "sent")]
