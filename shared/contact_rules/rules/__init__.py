"""The rule implementations, by rule id; a pack's rules are built from it once per pack."""

from __future__ import annotations

from collections.abc import Callable

from shared.contact_rules.packs import Rule, RulePack
from shared.contact_rules.rules import agency, conduct, frequency, quiet_hours, status
from shared.contact_rules.rules import third_parties as third
from shared.contact_rules.rules.base import Evaluate, Finding, Situation

Builder = Callable[[Rule, RulePack], Evaluate]

BUILDERS: dict[str, Builder] = {
    "POL-01": status.build_hold,
    "POL-02": status.build_preferences,
    "POL-03": frequency.build_message_cap,
    "CN-01": quiet_hours.build,
    "CN-02": frequency.build_connected_cap,
    "CN-03": frequency.build_unanswered_cap,
    "CN-04": third.build_emergency_contacts,
    "CN-05": third.build_disclosure,
    "CN-06": conduct.build_banned_phrases,
    "CN-07": conduct.build_field_visit,
    "CN-09": agency.build_agency_notice,
    "CN-10": agency.build_placement,
    "CN-11": status.build_illegal_debt,
    "US-01": quiet_hours.build,
    "US-02": frequency.build_call_frequency,
    "US-04": agency.build_validation_notice,
    "US-05": agency.build_dispute,
    "US-06": status.build_opt_out,
    "US-07": third.build_third_party_list,
    "US-08": status.build_attorney_and_cease,
    "US-09": status.build_time_barred,
    "US-12": conduct.build_autodial,
}
"""Rules with no entry decide nothing about a contact: US-03 (definitions US-02 applies) and the
out-of-scope ones (CN-08, US-10, US-11)."""

OUTCOME_SENSITIVE = frozenset({"CN-02", "CN-03"})
"""Rules that depend on how the contact itself ends; ``check`` weighs every possible outcome."""

__all__ = ["BUILDERS", "OUTCOME_SENSITIVE", "Builder", "Evaluate", "Finding", "Situation"]
