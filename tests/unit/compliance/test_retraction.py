"""A standing violation the loan's new judgement no longer finds is retracted, naming the
entries logged since that clear it; one that still holds never is."""

from services.compliance.domain.judgement import Judged, judge_loan
from services.compliance.domain.retraction import StandingViolation, retractions
from tests.unit.compliance.test_judgement import NOTICE, PACKS, Log, at

FOUND = "collections.compliance.violation-found"


def stop_reply(channel: str, when: str) -> dict[str, object]:
    """The data of the notifier's opt-out-recorded for a STOP reply."""
    return {
        "borrower_ref": "bref_1",
        "channel": channel,
        "source": "reply",
        "at": when,
        "loan_ids": ["L-1"],
    }


def judged(log: Log) -> list[Judged]:
    return judge_loan("lender-1", "L-1", log.events, PACKS)


def logged_violation(log: Log, rule_id: str) -> StandingViolation:
    """The violation of ``rule_id`` judged now, as stored once its entry is appended."""
    v = next(v for v in judged(log) if v.rule_id == rule_id)
    leaf = log.add(FOUND, violation_id=v.violation_id)
    return StandingViolation(
        v.violation_id, v.rule_id, v.pack_version, "L-1", v.party, v.agency_id, v.contact_id, leaf
    )


def test_a_cn09_notice_logged_after_the_call_retracts_its_violation() -> None:
    log = Log()
    log.placed(notified=None)
    log.activity(0)
    cn09 = logged_violation(log, "CN-09")
    log.sent(1)  # a contact logged since: no fact, clears nothing
    notice = log.add(
        "collections.notification.agency-notice-sent", **NOTICE, agency_id="ag", at=at(-47)
    )  # sent before the call, logged after it

    [retraction] = retractions([cn09], judged(log), log.events)

    assert retraction.violation == cn09
    assert retraction.clearing_leaf_indexes == (notice,)
    assert "CN-09" in retraction.explanation
    assert f"leaf indexes {notice}" in retraction.explanation


def test_a_violation_that_still_holds_is_not_retracted_by_later_entries() -> None:
    log = Log()
    log.placed(notified=None)
    log.activity(0)
    cn09 = logged_violation(log, "CN-09")
    log.add("collections.loan.hold-placed", hold_id="h1", reason="dispute", placed_at=at(5))
    log.add("collections.borrower.opt-out-recorded", **stop_reply("email", at(6)))
    log.activity(7)
    log.add("collections.notification.agency-notice-sent", **NOTICE, agency_id="ag", at=at(8))

    assert retractions([cn09], judged(log), log.events) == []


def test_a_lifted_hold_clears_a_contact_once_judged_under_it() -> None:
    log = Log()
    log.add("collections.loan.hold-placed", hold_id="h1", reason="dispute", placed_at=at(0))
    log.sent(2)
    pol01 = logged_violation(log, "POL-01")
    placement = log.add("collections.assignment.placed", agency_id="ag", placed_at=at(-48))
    lifted = log.add("collections.loan.hold-lifted", hold_id="h1", lifted_at=at(1))

    [retraction] = retractions([pol01], judged(log), log.events)

    assert retraction.clearing_leaf_indexes == (lifted,)  # the placement is no fact of POL-01
    assert placement not in retraction.clearing_leaf_indexes


def test_every_fact_logged_since_when_none_is_of_the_rules_kinds() -> None:
    log = Log()
    log.add("collections.loan.hold-placed", hold_id="h1", reason="dispute", placed_at=at(0))
    log.sent(2)
    pol01 = logged_violation(log, "POL-01")
    opt_out = log.add("collections.borrower.opt-out-recorded", **stop_reply("email", at(3)))

    [retraction] = retractions([pol01], [], log.events)

    assert retraction.clearing_leaf_indexes == (opt_out,)


def test_only_the_pack_changed() -> None:
    log = Log()
    log.add("collections.loan.hold-placed", hold_id="h1", reason="dispute", placed_at=at(0))
    log.sent(2)
    pol01 = logged_violation(log, "POL-01")

    [retraction] = retractions([pol01], [], log.events)

    assert retraction.clearing_leaf_indexes == ()
    assert "no fact of the loan was logged since" in retraction.explanation
