"""The lender's answer to a dispute (a ``dispute_outcome`` notice) sent under the dispute's
hold is what the borrower asked for: it is judged as the notifier checks it, with only the
holds that stop even an answer (``binding_holds``: a suspected illegal debt), so the hold rules
judged after the fact (POL-01) find nothing in it, while a reminder under the same hold is
still a violation; other rules still judge it."""

from services.compliance.application.judge import Judge
from services.compliance.application.log_writer import LogWriter
from services.compliance.domain.entries import NewEntry
from tests.unit.compliance.fakes import CountingSigner, FakeUnitOfWork, FixedClock, entry
from tests.unit.compliance.test_judge import LOAN, REF, at, report
from tests.unit.compliance.test_judgement import PACKS, Log
from tests.unit.compliance.test_judgement import at as at_cn


def test_a_dispute_outcome_under_the_dispute_hold_is_no_violation_a_reminder_is() -> None:
    log = Log()
    hold = log.add(
        "collections.loan.hold-placed", hold_id="dispute:d1", reason="dispute", placed_at=at_cn(0)
    )
    reminder = log.sent(1)
    log.add(
        "collections.notification.sent",
        notification_id="n-outcome",
        kind="dispute_outcome",
        channel="email",
        at=at_cn(2),
    )
    assert log.rules() == [("POL-01", "lender", (reminder, 0, hold))]


def test_a_dispute_outcome_under_an_agency_dispute_hold_in_the_us_pack() -> None:
    log = Log(jurisdiction="US", zone="America/New_York")
    log.add(
        "collections.agency.dispute-raised",
        dispute_id="D-1",
        assignment_id="A-1",
        borrower_ref="bref_1",
        agency_id="ag",
        reason="not_mine",
        raised_at=at_cn(0),
    )
    log.add(
        "collections.notification.sent",
        notification_id="n-outcome",
        kind="dispute_outcome",
        channel="email",
        at=at_cn(14),  # 11:00 in New York
    )
    reminder = log.sent(15)
    assert [rule for rule, party, _ in log.rules() if party == "lender"] == ["POL-01"]
    assert all(leaves[0] == reminder for rule, _, leaves in log.rules() if rule == "POL-01")


def test_a_hardship_hold_does_not_stop_the_answer_as_it_does_not_at_the_notifier() -> None:
    log = Log()
    log.add("collections.loan.hold-placed", hold_id="h1", reason="hardship", placed_at=at_cn(0))
    log.add(
        "collections.notification.sent",
        notification_id="n-outcome",
        kind="dispute_outcome",
        channel="email",
        at=at_cn(1),
    )
    assert log.rules() == []


def test_a_suspected_illegal_debt_stops_even_the_answer() -> None:
    log = Log()
    hold = log.add(
        "collections.loan.hold-placed",
        hold_id="h1",
        reason="suspected_illegal_debt",
        placed_at=at_cn(0),
    )
    answer = log.add(
        "collections.notification.sent",
        notification_id="n-outcome",
        kind="dispute_outcome",
        channel="email",
        at=at_cn(1),
    )
    found = log.rules()
    assert sorted(rule for rule, *_ in found) == ["CN-11", "POL-01"]
    assert ("POL-01", "lender", (answer, 0, hold)) in found
    assert all(leaves[0] == answer for _, _, leaves in found)


def test_other_rules_still_judge_a_dispute_outcome() -> None:
    log = Log()
    late = log.add(
        "collections.notification.sent",
        notification_id="n-outcome",
        kind="dispute_outcome",
        channel="sms",
        at=at_cn(13),  # 23:00 in Shanghai
    )
    assert log.rules() == [("CN-01", "lender", (late, 0))]


def _sent(kind: str, hours: float, notification: str) -> NewEntry:
    return entry(
        "collections.notification.sent",
        loan_id=LOAN,
        borrower_ref=REF,
        notification_id=notification,
        kind=kind,
        channel="email",
        status="sent",
        at=at(hours),
    )


async def test_the_writer_records_the_reminder_under_the_hold_not_the_outcome() -> None:
    uow = FakeUnitOfWork()
    writer = LogWriter(CountingSigner(), Judge(PACKS), FixedClock())
    hold = entry(
        "collections.loan.hold-placed",
        loan_id=LOAN,
        hold_id="dispute:d1",
        reason="dispute",
        placed_at=at(0),
    )
    for batch in ([report(), hold], [_sent("dispute_outcome", 1, "n-outcome")]):
        await writer.append(uow, batch)
        await writer.judge_pending(uow)
    assert uow.published == []  # nothing found
    await writer.append(uow, [_sent("reminder", 2, "n-reminder")])
    await writer.judge_pending(uow)
    assert [(e.data["rule_id"], e.data["contact_id"]) for e in uow.published] == [
        ("POL-01", "notifier:n-reminder")
    ]
    assert set(uow.violations.by_rule()) == {"POL-01"}
