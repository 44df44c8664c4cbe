"""Agencies' payments reconciled with the lender's, and the prerequisites of legal
escalation: pure functions of what the gateway knows (promises kept or broken:
``shared.promises``)."""

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal

from services.agency_gateway.domain.policy import EscalationPolicy
from shared.promises import Paid

MATCH_WINDOW = timedelta(days=3)  # an agency's report and the lender's record of one payment


def reconcile(reported: Sequence[Paid], lender_payments: Sequence[Paid]) -> dict[str, str | None]:
    """Each reported payment's matching lender payment id (same amount and currency, paid
    within three days of each other; each lender payment matches once), or None."""
    unused = list(lender_payments)
    matches: dict[str, str | None] = {}
    for report in sorted(reported, key=lambda p: p.paid_at):
        match = next(
            (
                p
                for p in unused
                if p.amount == report.amount
                and p.currency == report.currency
                and abs(p.paid_at - report.paid_at) <= MATCH_WINDOW
            ),
            None,
        )
        matches[report.payment_id] = match.payment_id if match else None
        if match is not None:
            unused.remove(match)
    return matches


@dataclass(frozen=True)
class EscalationFacts:
    notice_sent_at: datetime | None
    open_dispute: bool
    days_past_due: int
    amount: Decimal
    lender_approved: bool


def unmet_prerequisites(
    facts: EscalationFacts, policy: EscalationPolicy, now: datetime
) -> list[tuple[str, str]]:
    """Every prerequisite of legal escalation that does not hold, each with why."""
    unmet = []
    validation_end = (
        facts.notice_sent_at + timedelta(days=policy.validation_days)
        if facts.notice_sent_at
        else None
    )
    if validation_end is None or now < validation_end:
        when = (
            "the borrower has not been told yet"
            if validation_end is None
            else (f"it ends {validation_end.isoformat()}")
        )
        unmet.append(("validation_period_over", f"the validation period is not over: {when}"))
    if facts.open_dispute:
        unmet.append(("no_open_dispute", "a dispute of the debt is open"))
    if facts.days_past_due >= policy.time_bar_days:
        unmet.append(
            (
                "not_time_barred",
                f"{facts.days_past_due} days past due reaches the {policy.time_bar_days}-day bar",
            )
        )
    if facts.amount <= policy.minimum_amount:
        unmet.append(("amount_over_minimum", f"{facts.amount} is not over {policy.minimum_amount}"))
    if not facts.lender_approved:
        unmet.append(("lender_approval", "the lender has not approved legal escalation"))
    return unmet
