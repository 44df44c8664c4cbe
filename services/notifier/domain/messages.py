"""What a message is rendered from and what comes out: plain data for templates and callers."""

from dataclasses import dataclass
from datetime import date
from enum import StrEnum

from shared.events.legal import DemandTerms
from shared.events.money import Money
from shared.vocabulary import Channel, Jurisdiction

SENDABLE_CHANNELS = (Channel.SMS, Channel.EMAIL)
"""The channels the notifier sends on; calls, letters and visits are the agencies'."""


class TemplateKind(StrEnum):
    REMINDER = "reminder"
    AGENCY_NOTICE = "agency_notice"  # CN-09: the account was entrusted to a named agency
    OPT_OUT_CONFIRMATION = "opt_out_confirmation"
    DISPUTE_OUTCOME = "dispute_outcome"  # the lender's answer to the borrower's dispute
    DEMAND_LETTER = "demand_letter"  # the formal demand of the legal stage (e-mail: with a PDF)


DISPUTE_OUTCOME_TEMPLATES = {
    (outcome, channel): f"dispute_{outcome}_{channel.value}"
    for outcome in ("upheld", "rejected")
    for channel in (Channel.SMS, Channel.EMAIL)
}
"""The dispute-outcome notice's template of each outcome and channel (no policy chooses them:
every lender's borrowers get the same answer, in their language)."""

DEMAND_LETTER_TEMPLATES = {
    channel: f"demand_letter_{channel.value}" for channel in (Channel.EMAIL, Channel.SMS)
}
"""The demand letter's template of each channel: the e-mail is the letter (its body is also the
PDF attached), the SMS points to the borrower's page."""


@dataclass(frozen=True, slots=True)
class AgencyContact:
    name: str
    phone: str


@dataclass(frozen=True, slots=True)
class MessageContext:
    """The facts a message may show; formatted for the locale when rendered."""

    jurisdiction: Jurisdiction
    borrower_name: str
    lender_name: str
    loan_id: str  # only its last four characters are shown
    amount_overdue: Money
    due_date: date
    days_past_due: int
    link: str  # the borrower's page: <base>/b/<token>, a bearer credential (never logged)
    agency: AgencyContact | None = None  # required by agency notices
    demand: DemandTerms | None = None  # required by the demand letter


@dataclass(frozen=True, slots=True)
class RenderedMessage:
    template: str
    locale: str  # the template locale used, after resolving the borrower's
    channel: Channel
    subject: str | None  # e-mail only
    body: str


VARIABLES: dict[TemplateKind, frozenset[str]] = {
    TemplateKind.REMINDER: frozenset(
        {
            "borrower_name",
            "lender_name",
            "amount_overdue",
            "due_date",
            "days_past_due",
            "loan_ref",
            "opt_out_notice",
            "link",
        }
    ),
    TemplateKind.AGENCY_NOTICE: frozenset(
        {
            "borrower_name",
            "lender_name",
            "amount_overdue",
            "due_date",
            "days_past_due",
            "loan_ref",
            "opt_out_notice",
            "agency_name",
            "agency_phone",
            "link",
        }
    ),
    TemplateKind.OPT_OUT_CONFIRMATION: frozenset(
        {"borrower_name", "lender_name", "loan_ref", "link"}
    ),
    TemplateKind.DISPUTE_OUTCOME: frozenset(
        {"borrower_name", "lender_name", "loan_ref", "opt_out_notice", "link"}
    ),
    TemplateKind.DEMAND_LETTER: frozenset(
        {
            "borrower_name",
            "lender_name",
            "loan_ref",
            "opt_out_notice",
            "link",
            "jurisdiction",
            "amount_due",
            "respond_by",
            "agency_name",
            "agency_phone",
        }
    ),
}
"""The variables each kind of template may use; any other name fails loading."""
