"""The fault suite's invariant checker on small fixtures: a clean run passes with its counts,
and each kind of violation is named."""

from datetime import UTC, datetime, timedelta
from uuid import UUID, uuid4

from tests.invariants import (
    Accepted,
    ConsumerStore,
    DeadLetterSeen,
    Notification,
    Published,
    Snapshot,
    check,
    sender_key,
)

T0 = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)
LOANS, NOTICES = "loans", "notifications"
REPORTED, SENT_EVENT = "collections.loan.overdue-reported", "collections.notification.sent"
POISON = [b"{not json", b'{"type": "x"}']


def store(
    service: str, topics: set[str], types: set[str], inbox: dict[UUID, bool]
) -> ConsumerStore:
    return ConsumerStore(service, service, frozenset(topics), frozenset(types), inbox)


def clean() -> Snapshot:
    """Two reports and a notice: every consumer applied what it handles, one text each."""
    reports = [Published(uuid4(), LOANS, REPORTED, "intake") for _ in range(2)]
    notice = Published(uuid4(), NOTICES, SENT_EVENT, "notifier")
    first, second = (str(uuid4()) for _ in range(2))
    return Snapshot(
        published=[*reports, notice],
        consumers=[
            store("notifier", {LOANS}, {REPORTED}, {r.event_id: False for r in reports}),
            store(
                "compliance",
                {LOANS, NOTICES},
                {REPORTED, SENT_EVENT},
                {p.event_id: False for p in [*reports, notice]},
            ),
        ],
        audited_topics=frozenset({LOANS, NOTICES}),
        audit_event_ids=[p.event_id for p in [*reports, notice]],
        notifications={
            first: Notification(first, "lender", "bref_1", "sms", "delivered", None),
            second: Notification(second, "lender", "bref_2", "sms", "cancelled", T0),
        },
        journal=[Accepted(first, "+8613900000001", "sms", T0)],
        dead_letters=[DeadLetterSeen("notifier", value, "bad") for value in POISON],
        dead_letter_groups=["notifier"],
        poison=list(POISON),
        send_margin=timedelta(seconds=5),
    )


def test_a_clean_run_passes_and_counts_what_it_saw() -> None:
    findings = check(clean())
    assert findings.ok, findings.summary()
    assert findings.counts["events published"] == 3
    assert findings.counts["notifier inbox: applied"] == 2
    assert findings.counts["compliance inbox: applied"] == 3
    assert findings.counts["audit entries"] == 3
    assert findings.counts["messages accepted by providers"] == 1
    assert findings.counts["dead letters of notifier"] == 2
    assert findings.counts["notifications delivered more than once"] == 0


def test_a_lost_a_foreign_or_a_dead_lettered_event_breaks_the_inbox_invariant() -> None:
    snapshot = clean()
    lost, dead = snapshot.published[0].event_id, snapshot.published[1].event_id
    snapshot.consumers[0] = store("notifier", {LOANS}, {REPORTED}, {dead: True, uuid4(): False})
    violations = check(snapshot).violations["inbox_exactly_once"]
    assert len(violations) == 4  # two never applied, one from nowhere, one dead-lettered
    assert any(str(lost) in v for v in violations)


def test_an_unpublished_outbox_row_is_named() -> None:
    snapshot = clean()
    snapshot.unpublished = 2
    assert check(snapshot).violations["outbox_drained"] == ["2 rows never published"]


def test_an_event_logged_twice_or_never_or_a_failed_verification_breaks_the_audit() -> None:
    snapshot = clean()
    twice, never, _ = (p.event_id for p in snapshot.published)
    snapshot.audit_event_ids = [twice, twice, uuid4()]
    snapshot.audit_verification = "root mismatch"
    violations = check(snapshot).violations["audit_once"]
    assert len(violations) == 5  # twice, two never logged, one unknown, no verification
    assert any("logged 2 times" in v for v in violations)
    assert any(str(never) in v and "not logged" in v for v in violations)


def test_two_messages_for_one_notification_are_a_double_delivery() -> None:
    snapshot = clean()
    first = snapshot.journal[0]
    snapshot.journal += [first, Accepted(None, first.to, "sms", T0), Accepted("x", "a", "sms", T0)]
    findings = check(snapshot)
    assert len(findings.violations["no_double_delivery"]) == 3
    assert findings.counts["notifications delivered more than once"] == 1
    assert findings.counts["messages beyond the first of a notification"] == 1


def test_a_notification_recorded_sent_without_its_message_is_named() -> None:
    snapshot = clean()
    snapshot.journal = []
    (violation,) = check(snapshot).violations["sent_is_witnessed"]
    assert "recorded delivered" in violation


def test_a_message_accepted_after_its_stop_plus_the_margin_is_named() -> None:
    snapshot = clean()
    cancelled = next(n for n in snapshot.notifications.values() if n.status == "cancelled")
    in_flight = Accepted(cancelled.id, "+86139", "sms", T0 + timedelta(seconds=4))
    assert (
        check(Snapshot(**{**vars(snapshot), "journal": [in_flight]})).violations[
            "no_send_after_stop"
        ]
        == []
    )  # begun before the stop: within the margin
    late = Accepted(cancelled.id, "+86139", "sms", T0 + timedelta(seconds=6))
    snapshot.journal = [late]
    assert len(check(snapshot).violations["no_send_after_stop"]) == 1


def test_a_text_after_the_borrowers_stop_reply_is_named_even_if_never_cancelled() -> None:
    snapshot = clean()
    delivered = next(n for n in snapshot.notifications.values() if n.status == "delivered")
    snapshot.reply_stops = {("lender", delivered.borrower_ref): {"sms": T0 - timedelta(minutes=1)}}
    (violation,) = check(snapshot).violations["no_send_after_stop"]
    assert "STOP on sms" in violation


def test_dead_letters_must_be_exactly_the_poison_once_each_with_a_reason() -> None:
    snapshot = clean()
    snapshot.dead_letters = [
        DeadLetterSeen("notifier", POISON[0], "bad"),
        DeadLetterSeen("notifier", POISON[0], ""),
        DeadLetterSeen("notifier", b"good event", "transient blip"),
    ]
    violations = check(snapshot).violations["dead_letters_are_the_poison"]
    assert sorted(v.split(": ", 1)[1] for v in violations) == [
        "2 copies of a poison message",
        "a dead letter without a reason",
        "dead-lettered a good message",
        "poison message not dead-lettered",
    ]


def test_the_senders_key_is_read_from_an_smtp_message_id() -> None:
    assert sender_key("<3838bc36-7b54@lender.example>") == "3838bc36-7b54"
    assert sender_key("3838bc36-7b54") == "3838bc36-7b54"
    assert sender_key(None) is None
