"""Which lender an auditor's read covers.

An auditor's key names the lender it may see, or every lender: a scoped auditor sees that
lender's entries alone; an auditor of all names the lender (``lender_id``) whenever it names a
loan, since loan ids are per lender.
"""

from services.compliance.application.errors import LenderRequiredError, OtherLenderError


def lender_in_scope(own: str | None, lender_id: str | None, *, naming_a_loan: bool) -> str | None:
    """The lender to filter on: the auditor's own (``own``; None for an auditor of every
    lender), or the one an auditor of all names."""
    if own is not None:
        if lender_id not in (None, own):
            raise OtherLenderError("Nothing of that lender is visible to this key.")
        return own
    if lender_id is None and naming_a_loan:
        raise LenderRequiredError("loan ids are per lender: an auditor of every lender names one")
    return lender_id
