"""Webhook rules: the backoff, the body, and what a receiver's check refuses."""

import base64
import os
from datetime import UTC, datetime, timedelta

import pytest
from standardwebhooks import Webhook
from standardwebhooks.webhooks import WebhookVerificationError

from services.agency_gateway.domain.webhooks import payload
from shared.db.backoff import backoff


def test_backoff_doubles_up_to_its_ceiling() -> None:
    waits = [backoff(n, timedelta(seconds=2), timedelta(seconds=30)) for n in range(1, 7)]
    assert [w.total_seconds() for w in waits] == [2, 4, 8, 16, 30, 30]


def test_the_body_carries_no_borrower_data() -> None:
    data = {
        "assignment_id": "A-1",
        "loan_id": "L-1",
        "borrower_ref": "bref_secret",
        "agency_id": "agency-north",
        "placed_at": "2026-12-01T00:00:00Z",
        "reason": "r",
    }
    body = payload("assignment.placed", "wh-1", data)
    assert body == {
        "id": "wh-1",
        "type": "assignment.placed",
        "data": {
            "assignment_id": "A-1",
            "loan_id": "L-1",
            "placed_at": "2026-12-01T00:00:00Z",
            "reason": "r",
        },
    }


def test_a_replayed_or_tampered_request_is_refused() -> None:
    """What the receiver checks: a signature over this id, timestamp and body, made within
    five minutes; an old request sent again fails, as does a changed body."""
    secret = "whsec_" + base64.b64encode(os.urandom(32)).decode()
    body = '{"id":"wh-1","type":"assignment.placed","data":{}}'
    now = datetime.now(UTC)
    signed = Webhook(secret).sign("wh-1", now, body)
    headers = {
        "webhook-id": "wh-1",
        "webhook-timestamp": str(int(now.timestamp())),
        "webhook-signature": signed,
    }
    assert Webhook(secret).verify(body, headers)["id"] == "wh-1"
    with pytest.raises(WebhookVerificationError):
        Webhook(secret).verify(body.replace("placed", "recalled"), headers)
    old = now - timedelta(minutes=10)
    stale = {
        "webhook-id": "wh-1",
        "webhook-timestamp": str(int(old.timestamp())),
        "webhook-signature": Webhook(secret).sign("wh-1", old, body),
    }
    with pytest.raises(WebhookVerificationError, match="too old"):
        Webhook(secret).verify(body, stale)
