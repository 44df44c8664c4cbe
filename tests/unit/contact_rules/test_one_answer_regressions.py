"""Each disagreement ``test_one_answer`` found between the services' views, replayed as a plain
scenario (each failed before its fix)."""

from datetime import timedelta

from shared.contact_rules import Party
from shared.events.models import ContactPreferences, HoldReason
from shared.vocabulary import Channel, Jurisdiction
from tests.unit.contact_rules.test_one_answer import World, intended, judged, play
from tests.unit.contact_rules.views import engine_answer

AGENCY = Party.agency("agency-a")


def answers(
    world: World, party: Party, channel: Channel, later: timedelta
) -> list[tuple[str, ...]]:
    """The engine's answer over the notifier's and the gateway's views, and compliance's."""
    at = world.clock + later
    contact = intended(world, party, channel, at)
    return [
        engine_answer(contact, world.notifier.ledger(), world.notifier.facts()),
        engine_answer(contact, world.gateway.ledger(), world.gateway.facts()),
        judged(world, party, channel, at),
    ]


def test_a_suspected_illegal_debt_is_refused_by_the_same_rules_everywhere() -> None:
    """The gateway alone added CN-11 (from its own reading of the holds) to POL-01."""
    world = World.reported(Jurisdiction.CN)
    play(world, "hold", (HoldReason.SUSPECTED_ILLEGAL_DEBT,))
    by_notifier, by_gateway, by_compliance = answers(
        world, Party.lender(), Channel.SMS, timedelta(hours=2)
    )
    assert by_notifier == by_gateway == by_compliance == ("CN-11", "POL-01")


def test_an_acknowledged_assignment_does_not_stop_compliance_judging() -> None:
    """Compliance read every ``collections.assignment.*`` entry but ``placed`` as an end and
    failed (KeyError ``ended_at``) on the agency's acknowledgement."""
    world = World.reported(Jurisdiction.CN)
    play(world, "place", ("agency-a",))
    play(world, "acknowledge", ("agency-a",))
    play(world, "notice", ("agency-a",))
    assert set(answers(world, AGENCY, Channel.PHONE_CALL, timedelta(hours=2))) == {()}


def test_an_agencys_dispute_holds_the_loan_for_every_party() -> None:
    """The gateway held the case on an agency's dispute; the notifier kept sending and
    compliance judged nothing."""
    world = World.reported(Jurisdiction.CN)
    play(world, "place", ("agency-a",))
    play(world, "notice", ("agency-a",))
    play(world, "dispute", ("agency-a",))
    for party, channel in ((Party.lender(), Channel.SMS), (AGENCY, Channel.PHONE_CALL)):
        assert set(answers(world, party, channel, timedelta(hours=2))) == {("POL-01",)}
    play(world, "lift", (0,))  # the lender answers the dispute: its hold is lifted
    assert set(answers(world, AGENCY, Channel.PHONE_CALL, timedelta(hours=2))) == {()}


def test_a_second_report_of_preferences_at_the_same_instant_counts_everywhere() -> None:
    """The notifier kept the first of two reports effective at the same instant; the gateway
    and compliance took the later one (a cease went unheeded by the lender)."""
    world = World.reported(Jurisdiction.CN)
    play(world, "preferences", (ContactPreferences(),))
    play(world, "preferences", (ContactPreferences(cease_communication=True),))
    assert set(answers(world, Party.lender(), Channel.SMS, timedelta(hours=2))) == {("POL-02",)}


def test_a_later_report_of_preferences_lifts_what_an_earlier_one_said_everywhere() -> None:
    """Compliance kept every opt-out and cease any report had stated, so it judged a message
    the notifier and the gateway allowed once the lender reported them lifted."""
    world = World.reported(Jurisdiction.CN)
    opted_out = ContactPreferences(opted_out_channels=[Channel.SMS], cease_communication=True)
    play(world, "preferences", (opted_out,))
    assert set(answers(world, Party.lender(), Channel.SMS, timedelta(hours=2))) == {("POL-02",)}
    world.clock += timedelta(days=1)
    play(world, "preferences", (ContactPreferences(),))
    assert set(answers(world, Party.lender(), Channel.SMS, timedelta(hours=2))) == {()}


def test_the_lenders_agency_notices_count_as_its_messages_everywhere() -> None:
    """Compliance left the notifier's agency notices (their own event type) out of the ledger,
    so a third message that day broke POL-03 for the notifier and the gateway only."""
    world = World.reported(Jurisdiction.CN)
    play(world, "place", ("agency-a",))
    play(world, "notice", ("agency-a",))  # by SMS
    play(world, "notice", ("agency-a",))  # by e-mail
    assert set(answers(world, Party.lender(), Channel.SMS, timedelta(hours=2))) == {("POL-03",)}
