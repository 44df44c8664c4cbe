"""CN-01 and US-01: the quiet window on the borrower's wall clock, across midnight and DST."""

from datetime import UTC, datetime, time, timedelta

import pytest

from shared.contact_rules import check, judge, tighten
from shared.events.models import ConsentKind, ConsentRecord, InconvenientTime
from shared.vocabulary import Channel
from tests.unit.contact_rules.support import (
    AGENCY,
    CN,
    LENDER,
    LONDON,
    NEW_YORK,
    SHANGHAI,
    US,
    at,
    cn_facts,
    contact,
    us_facts,
)


def test_quiet_window_is_the_borrowers_not_the_servers() -> None:
    # 14:30 on a UTC server is 22:30 in Shanghai; 01:00 UTC is 09:00 there.
    late = contact(datetime(2026, 5, 5, 14, 30, tzinfo=UTC), Channel.SMS)
    early = contact(datetime(2026, 5, 5, 1, 0, tzinfo=UTC), Channel.SMS)
    decision = check(late, [], cn_facts(), CN)
    assert decision.refused_by == ("CN-01",)
    assert decision.next_allowed_at == at("2026-05-06 08:00", SHANGHAI)
    assert check(early, [], cn_facts(), CN).allowed


@pytest.mark.parametrize(
    ("local", "allowed", "next_at"),
    [
        ("2026-05-05 21:59", True, None),
        ("2026-05-05 22:00", False, "2026-05-06 08:00"),
        ("2026-05-05 23:59", False, "2026-05-06 08:00"),
        ("2026-05-06 00:00", False, "2026-05-06 08:00"),
        ("2026-05-06 07:59", False, "2026-05-06 08:00"),
        ("2026-05-06 08:00", True, None),
    ],
)
def test_window_crossing_midnight(local: str, allowed: bool, next_at: str | None) -> None:
    decision = check(
        contact(at(local, SHANGHAI), Channel.FIELD_VISIT, recording_id="r", staff_count=2),
        [],
        cn_facts(),
        CN,
    )
    assert decision.allowed is allowed
    assert decision.next_allowed_at == (at(next_at, SHANGHAI) if next_at else None)


def test_every_channel_including_visits_and_the_judgement_agrees() -> None:
    for channel in Channel:
        late = contact(at("2026-05-05 23:00", SHANGHAI), channel, recording_id="r", staff_count=2)
        assert check(late, [], cn_facts(), CN).refused_by == ("CN-01",)
        assert [v.rule_id for v in judge(late, [late], cn_facts(), CN)] == ["CN-01"]


def test_agreement_lifts_the_quiet_window() -> None:
    consent = ConsentRecord(
        kind=ConsentKind.CONTACT_IN_QUIET_HOURS,
        granted=True,
        recorded_at=at("2026-05-01 10:00", SHANGHAI),
    )
    late = contact(at("2026-05-05 23:00", SHANGHAI), Channel.SMS)
    assert check(late, [], cn_facts(consents=(consent,)), CN).allowed


def test_new_york_spring_forward() -> None:
    # 2026-03-08 02:00 EST becomes 03:00 EDT: 08:00 that morning is 12:00 UTC, not 13:00.
    evening = contact(at("2026-03-07 22:00", NEW_YORK), Channel.SMS, party=AGENCY)
    decision = check(evening, [], us_facts(), US)
    assert decision.refused_by == ("US-01",)
    assert decision.next_allowed_at == datetime(2026, 3, 8, 12, 0, tzinfo=UTC)
    assert decision.next_allowed_at is not None
    assert decision.next_allowed_at - evening.at == timedelta(hours=9)
    # 12:30 UTC is 08:30 EDT (allowed); a fixed EST offset would read it as 07:30.
    assert check(
        contact(datetime(2026, 3, 8, 12, 30, tzinfo=UTC), Channel.SMS, party=AGENCY),
        [],
        us_facts(),
        US,
    ).allowed
    assert not check(
        contact(datetime(2026, 3, 8, 11, 59, tzinfo=UTC), Channel.SMS, party=AGENCY),
        [],
        us_facts(),
        US,
    ).allowed


def test_new_york_fall_back() -> None:
    # 2026-11-01 02:00 EDT becomes 01:00 EST: 08:00 that morning is 13:00 UTC.
    evening = contact(at("2026-10-31 21:30", NEW_YORK), Channel.PHONE_CALL, party=AGENCY)
    decision = check(evening, [], us_facts(), US)
    assert decision.next_allowed_at == datetime(2026, 11, 1, 13, 0, tzinfo=UTC)
    assert decision.next_allowed_at is not None
    assert decision.next_allowed_at - evening.at == timedelta(hours=11, minutes=30)
    assert not check(
        contact(datetime(2026, 11, 1, 12, 59, tzinfo=UTC), party=AGENCY), [], us_facts(), US
    ).allowed


@pytest.mark.parametrize(
    ("evening", "next_utc"),
    [
        ("2026-03-28 23:00", datetime(2026, 3, 29, 7, 0, tzinfo=UTC)),  # BST starts overnight
        ("2026-10-24 23:00", datetime(2026, 10, 25, 8, 0, tzinfo=UTC)),  # GMT returns overnight
    ],
)
def test_europe_london_dst_nights(evening: str, next_utc: datetime) -> None:
    facts = cn_facts(borrower_zone="Europe/London")
    decision = check(contact(at(evening, LONDON), Channel.SMS), [], facts, CN)
    assert decision.refused_by == ("CN-01",)
    assert decision.next_allowed_at == next_utc
    assert decision.next_allowed_at is not None
    assert decision.next_allowed_at.astimezone(LONDON).time() == time(8, 0)


def test_named_window_ending_in_the_dst_gap_ends_when_the_gap_ends() -> None:
    # The borrower agreed to night calls but named Sundays 01:30-02:30 as inconvenient; on
    # 2026-03-08 02:30 does not exist in New York: the window ends at 03:00 EDT (07:00 UTC).
    window = InconvenientTime(weekdays=[6], start=time(1, 30), end=time(2, 30))
    consent = ConsentRecord(
        kind=ConsentKind.CONTACT_IN_QUIET_HOURS,
        granted=True,
        recorded_at=at("2026-03-01 10:00", NEW_YORK),
    )
    facts = us_facts(inconvenient_times=(window,), consents=(consent,))
    night = contact(at("2026-03-08 01:45", NEW_YORK), Channel.EMAIL, party=AGENCY)
    decision = check(night, [], facts, US)
    assert decision.refused_by == ("US-01",)
    assert decision.next_allowed_at == datetime(2026, 3, 8, 7, 0, tzinfo=UTC)


def test_named_times_and_a_named_window_across_midnight() -> None:
    lunch = InconvenientTime(weekdays=[0, 1, 2, 3, 4], start=time(12, 0), end=time(13, 0))
    weekend = InconvenientTime(weekdays=[4], start=time(23, 0), end=time(10, 0))
    facts = us_facts(inconvenient_times=(lunch, weekend))
    monday_lunch = contact(at("2026-05-04 12:15", NEW_YORK), party=AGENCY)
    decision = check(monday_lunch, [], facts, US)
    assert decision.refused_by == ("US-01",)
    assert decision.next_allowed_at == at("2026-05-04 13:00", NEW_YORK)
    saturday = contact(at("2026-05-09 09:00", NEW_YORK), party=AGENCY)
    assert check(saturday, [], facts, US).next_allowed_at == at("2026-05-09 10:00", NEW_YORK)
    assert check(contact(at("2026-05-10 09:00", NEW_YORK), party=AGENCY), [], facts, US).allowed


def test_regulation_f_binds_agencies_not_the_lender_unless_it_tightens() -> None:
    late_sms = contact(at("2026-05-05 23:00", NEW_YORK), Channel.SMS, party=LENDER)
    assert check(late_sms, [], us_facts(), US).allowed
    stricter = tighten(US, {"US-01": {"applies_to": ["lender", "agency"]}}, label="acme")
    assert check(late_sms, [], us_facts(), stricter).refused_by == ("US-01",)
    assert judge(late_sms, [], us_facts(), stricter)[0].pack_version == "US-2026.1+acme"
