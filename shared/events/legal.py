"""Data of the legal stage's events: a granted escalation's life until the court or a
settlement ends it, and the formal demand the borrower is sent.

The gateway owns the stage (the lender reports it, the agency too where the lender allows);
the notifier sends the demand letter when the stage becomes ``demand_sent``; compliance logs
every change and hands the evidence bundle over.
"""

from datetime import date
from enum import StrEnum

from pydantic import Field

from shared.events.limits import DateTime
from shared.events.models import Frozen
from shared.events.money import Money


class LegalStage(StrEnum):
    GRANTED = "granted"  # escalation granted: every prerequisite held
    DEMAND_SENT = "demand_sent"  # the formal demand went to the borrower
    FILED = "filed"  # a claim was filed with a court or an arbitration body
    JUDGMENT = "judgment"  # the court decided (ends the stage)
    SETTLED = "settled"  # the borrower and the lender agreed (ends the stage)
    WITHDRAWN = "withdrawn"  # the lender gave up the legal route (ends the stage)


NEXT_STAGES: dict[LegalStage, frozenset[LegalStage]] = {
    LegalStage.GRANTED: frozenset(
        {LegalStage.DEMAND_SENT, LegalStage.SETTLED, LegalStage.WITHDRAWN}
    ),
    LegalStage.DEMAND_SENT: frozenset({LegalStage.FILED, LegalStage.SETTLED, LegalStage.WITHDRAWN}),
    LegalStage.FILED: frozenset({LegalStage.JUDGMENT, LegalStage.SETTLED, LegalStage.WITHDRAWN}),
    LegalStage.JUDGMENT: frozenset(),
    LegalStage.SETTLED: frozenset(),
    LegalStage.WITHDRAWN: frozenset(),
}
"""The only moves a stage may make; a stage with none ends the legal route."""


class DemandTerms(Frozen):
    """What the formal demand says: how much, to whom, by when (the borrower's rights are the
    template's, per jurisdiction)."""

    amount: Money
    respond_by: date
    agency_id: str | None = None
    agency_name: str | None = None
    agency_phone: str | None = None


class LegalStageChanged(Frozen):
    """A granted escalation moved to ``stage`` (its first event is ``granted``)."""

    escalation_id: str
    assignment_id: str | None
    loan_id: str
    borrower_ref: str
    agency_id: str | None
    stage: LegalStage
    previous: LegalStage | None
    reported_by: str = Field(description="lender or agency")
    changed_at: DateTime
    demand: DemandTerms | None = Field(
        default=None, description="With demand_sent: what the demand letter says."
    )
