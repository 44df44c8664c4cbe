"""Properties over generated ledgers and times, in three zones and around their DST changes:

- ``check`` allows a contact only if ``judge`` finds no violation in it, whatever its outcome;
  and every rule that refuses it is one ``judge`` finds for some outcome;
- ``next_allowed_at`` is itself allowed, and no earlier minute is.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, time, timedelta

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from shared.contact_rules import (
    Contact,
    DebtFacts,
    Direction,
    Dispute,
    Hold,
    OptOut,
    Party,
    Placement,
    Purpose,
    Recipient,
    RulePack,
    ThirdPartyObjection,
    ThirdPartyRelation,
    ValidationNotice,
    check,
    judge,
)
from shared.contact_rules.ledger import POSSIBLE_OUTCOMES
from shared.events.models import ConsentKind, ConsentRecord, HoldReason, InconvenientTime
from shared.vocabulary import Channel, Jurisdiction
from tests.unit.contact_rules.support import CN, DEBT, PERSON, US

PROPERTY = settings(
    max_examples=200,
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)

ZONES = ["Asia/Shanghai", "America/New_York", "Europe/London"]
DST_DAYS = [
    datetime(2026, 3, 8, tzinfo=UTC),
    datetime(2026, 3, 29, tzinfo=UTC),
    datetime(2026, 10, 25, tzinfo=UTC),
    datetime(2026, 11, 1, tzinfo=UTC),
    datetime(2026, 6, 15, tzinfo=UTC),
]
PARTIES = [Party.lender(), Party.agency("agency-a"), Party.agency("agency-b")]


@st.composite
def moments(draw: st.DrawFn) -> datetime:
    """A minute within two days of a DST change (or of an ordinary day)."""
    base = draw(st.sampled_from(DST_DAYS))
    return base + timedelta(minutes=draw(st.integers(-2 * 1440, 2 * 1440)))


def _sometimes(draw: st.DrawFn, odds: int = 5) -> bool:
    """True about once in ``odds`` (away from the bounds Hypothesis favours)."""
    return draw(st.integers(0, 10 * odds)) in range(3, 13)


@st.composite
def contacts(draw: st.DrawFn, when: datetime, intended: bool = False) -> Contact:
    calls = not _sometimes(draw, 3) if not intended else _sometimes(draw, 2)
    channel = Channel.PHONE_CALL if calls else draw(st.sampled_from(list(Channel)))
    third = _sometimes(draw, 10)
    other_debt = not intended and _sometimes(draw, 10)
    flags = _sometimes(draw, 3)
    return Contact(
        id=f"c{draw(st.integers(0, 2**32))}",
        debt_id="loan-2" if other_debt else DEBT,
        person_ref=PERSON,
        party=draw(st.sampled_from(PARTIES)),
        channel=channel,
        at=when,
        direction=Direction.INBOUND if not intended and _sometimes(draw) else Direction.OUTBOUND,
        outcome=draw(st.sampled_from(POSSIBLE_OUTCOMES[channel])),
        purpose=draw(st.sampled_from(list(Purpose)))
        if _sometimes(draw, 10)
        else Purpose.COLLECTION,
        recipient=Recipient.THIRD_PARTY if third else Recipient.DEBTOR,
        third_party_ref=draw(st.sampled_from(["tp-1", "tp-2"])) if third else None,
        third_party_relation=draw(st.sampled_from(list(ThirdPartyRelation))) if third else None,
        location_inquiry=third and draw(st.booleans()),
        also_discussed=frozenset({DEBT}) if other_debt else frozenset(),
        recording_id=None if flags and draw(st.booleans()) else "rec",
        staff_count=draw(st.sampled_from([None, 1, 2, 3])) if flags else 2,
        autodialed=flags and draw(st.booleans()),
        to_mobile=flags and draw(st.booleans()),
        text=draw(st.sampled_from([None, "请还款", "extra fee applies"])) if flags else None,
        agency_named=draw(st.sampled_from([None, True, False])) if flags else None,
        debt_disclosed=draw(st.sampled_from([None, False, True])) if flags else None,
        opt_out_notice=draw(st.sampled_from([None, True, False])) if flags else None,
        threatens_suit=draw(st.sampled_from([None, False, True])) if flags else None,
    )


@st.composite
def scenarios(draw: st.DrawFn) -> tuple[Contact, list[Contact], DebtFacts, RulePack]:
    now = draw(moments())
    pack = draw(st.sampled_from([CN, US]))

    def around(low_hours: int = -240, high_hours: int = 72) -> datetime:
        return now + timedelta(minutes=draw(st.integers(low_hours * 60, high_hours * 60)))

    span = 9 * 1440 if _sometimes(draw, 2) else 1440
    ledger = [
        draw(contacts(now - timedelta(minutes=draw(st.integers(0, span)))))
        for _ in range(draw(st.integers(0, 25)))
    ]
    intended = draw(contacts(now, intended=True))
    consents = tuple(
        ConsentRecord(
            kind=draw(st.sampled_from(list(ConsentKind))),
            granted=draw(st.booleans()),
            recorded_at=around(-240, 0),
            channel=draw(st.sampled_from([None, *Channel])),
        )
        for _ in range(draw(st.integers(0, 3)))
    )
    windows = tuple(
        InconvenientTime(
            weekdays=draw(st.lists(st.integers(0, 6), min_size=1, max_size=7, unique=True)),
            start=time(draw(st.integers(0, 23)), draw(st.sampled_from([0, 30]))),
            end=time(draw(st.integers(0, 23)), draw(st.sampled_from([0, 30]))),
        )
        for _ in range(draw(st.integers(0, 2)))
    )
    placements = tuple(
        Placement(
            agency,
            around(-400, 0),
            borrower_notified_at=around(-400, 48) if not _sometimes(draw) else None,
            ended_at=around(-24, 72) if _sometimes(draw) else None,
        )
        for agency in ("agency-a", "agency-b")
        if not _sometimes(draw)
    )
    facts = DebtFacts(
        debt_id=DEBT,
        person_ref=PERSON,
        jurisdiction=pack.jurisdiction,
        borrower_zone=draw(st.sampled_from(ZONES)),
        holds=(Hold(draw(st.sampled_from(list(HoldReason))), around(), around(-24, 72)),)
        if _sometimes(draw)
        else (),
        disputes=(
            Dispute(around(), written=draw(st.booleans()), verification_sent_at=around(-24, 72)),
        )
        if _sometimes(draw)
        else (),
        opt_outs=(OptOut(draw(st.sampled_from(list(Channel))), around(-240, 0)),)
        if _sometimes(draw)
        else (),
        consents=consents,
        inconvenient_times=windows,
        cease_requested_at=around() if _sometimes(draw, 10) else None,
        attorney_represented_since=around() if _sometimes(draw, 10) else None,
        illegal_debt=_sometimes(draw, 20),
        placements=placements,
        validation_notices=(ValidationNotice("agency-a", around(-400, 24)),)
        if not _sometimes(draw)
        else (),
        third_party_objections=(ThirdPartyObjection("tp-1", around()),) if _sometimes(draw) else (),
        debtor_unreachable_since=around() if _sometimes(draw) else None,
        time_barred=draw(st.booleans()),
    )
    assert facts.jurisdiction in (Jurisdiction.CN, Jurisdiction.US)
    return intended, ledger, facts, pack


@PROPERTY
@given(scenarios())
def test_check_allows_only_what_judge_finds_no_violation_in(
    scenario: tuple[Contact, list[Contact], DebtFacts, RulePack],
) -> None:
    intended, ledger, facts, pack = scenario
    decision = check(intended, ledger, facts, pack)
    judged: set[str] = set()
    for outcome in POSSIBLE_OUTCOMES[intended.channel]:
        made = replace(intended, outcome=outcome)
        violations = judge(made, [*ledger, made], facts, pack)
        if decision.allowed:
            assert violations == (), (decision, violations)
        judged.update(v.rule_id for v in violations)
    assert set(decision.refused_by) <= judged


@PROPERTY
@given(scenarios(), st.floats(0, 1))
def test_next_allowed_at_is_allowed_and_no_earlier_minute_is(
    scenario: tuple[Contact, list[Contact], DebtFacts, RulePack], fraction: float
) -> None:
    intended, ledger, facts, pack = scenario
    decision = check(intended, ledger, facts, pack)
    moment = decision.next_allowed_at
    if decision.allowed or moment is None:
        return
    assert moment > intended.at
    assert check(replace(intended, at=moment), ledger, facts, pack).allowed
    span = moment - intended.at
    earlier = {moment - timedelta(minutes=1), intended.at + span * fraction}
    step = max(timedelta(minutes=1), span / 60)
    probe = intended.at
    while probe < moment:
        earlier.add(probe)
        probe += step
    for when in earlier:
        if intended.at <= when < moment:
            assert not check(replace(intended, at=when), ledger, facts, pack).allowed, when
