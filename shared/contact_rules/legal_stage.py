"""Who may still contact a borrower at each legal stage: written once, for the notifier's
reminders, every agency's contact check and compliance's judgement after the fact.

After the formal demand the lender's reminders stop (the demand is the last word before court);
after filing only counsel speaks for the creditor, so agencies stop too; a judgment or a
settlement ends collection contact; a withdrawal returns the loan to ordinary collection.
"""

from shared.contact_rules.ledger import PartyKind
from shared.events.legal import LegalStage

REMINDERS_STOP_AT = frozenset(
    {LegalStage.DEMAND_SENT, LegalStage.FILED, LegalStage.JUDGMENT, LegalStage.SETTLED}
)
AGENCIES_STOP_AT = frozenset({LegalStage.FILED, LegalStage.JUDGMENT, LegalStage.SETTLED})


def stage_stops(stage: LegalStage | None, party: PartyKind) -> bool:
    """Whether a contact by ``party`` (the lender's reminders, or an agency) is stopped by the
    loan's legal stage (None: the loan has none). Notices the law requires (the demand letter
    itself, the answer to a dispute) are not reminders and are not stopped here."""
    if stage is None:
        return False
    return stage in (REMINDERS_STOP_AT if party is PartyKind.LENDER else AGENCIES_STOP_AT)
