"""Retracting violations a later judgement no longer finds, free of I/O.

Compliance consumes its topics independently, so a fact can reach the log after a contact it
excuses (an agency's call logged before the notifier's earlier CN-09 notice, a preference
change logged late). Each loan is judged whole again after every batch: a standing violation
the new judgement no longer finds is retracted by a new entry naming the entries that clear it;
the violation's own entry stays, the log only grows.

Which entries clear it: the loan's fact entries logged after the violation's entry, of the
kinds its rule rests on (the report, and the holds, preferences or placements and notices of
``RULE_FACTS``); if none of those kinds was logged since, every fact entry logged since; none
when nothing but the pack changed.
"""

from collections.abc import Collection, Sequence
from dataclasses import dataclass

from services.compliance.domain.judgement import RULE_FACTS, Judged, LoggedEvent, fact_kind


@dataclass(frozen=True)
class StandingViolation:
    """A violation found and not retracted, as stored."""

    violation_id: str
    rule_id: str
    pack_version: str
    loan_id: str
    party: str
    agency_id: str | None
    contact_id: str
    leaf_index: int  # its (latest) violation-found entry


@dataclass(frozen=True)
class Retraction:
    violation: StandingViolation
    clearing_leaf_indexes: tuple[int, ...]
    explanation: str


def retractions(
    standing: Sequence[StandingViolation], judged: Collection[Judged], events: Sequence[LoggedEvent]
) -> list[Retraction]:
    """The standing violations of one loan that its new judgement (``judged``, from
    ``events``, the loan's whole timeline) no longer finds."""
    still_found = {v.violation_id for v in judged}
    return [
        _retraction(violation, events)
        for violation in standing
        if violation.violation_id not in still_found
    ]


def _retraction(violation: StandingViolation, events: Sequence[LoggedEvent]) -> Retraction:
    since = [
        (event.leaf_index, kind)
        for event in events
        if event.leaf_index > violation.leaf_index and (kind := fact_kind(event.type)) is not None
    ]
    rests_on = {"report", *RULE_FACTS.get(violation.rule_id, ())}
    clearing = sorted(leaf for leaf, kind in since if kind in rests_on) or sorted(
        leaf for leaf, _ in since
    )
    if clearing:
        kinds = sorted({kind for leaf, kind in since if leaf in clearing})
        why = (
            f"judged again with the {', '.join(kinds)} entries logged since the violation "
            f"(leaf indexes {', '.join(map(str, clearing))}), contact {violation.contact_id} "
            f"no longer breaks {violation.rule_id}"
        )
    else:
        why = (
            f"judged again by the current pack, contact {violation.contact_id} no longer "
            f"breaks {violation.rule_id} (no fact of the loan was logged since the violation)"
        )
    return Retraction(violation, tuple(clearing), why)
