"""Why a use case refuses: raised before it commits anything (``api/errors.py`` answers each)."""

from dataclasses import dataclass


class GatewayError(Exception):
    """A refusal; ``str(error)`` says why, for a person."""


class AssignmentNotFoundError(GatewayError):
    """Unknown, or another agency's."""


class AssignmentEndedError(GatewayError):
    """Recalled, returned or expired: its borrower data is gone."""


class LoanNotFoundError(GatewayError):
    """No case of the loan is open."""


class AgencyNotFoundError(GatewayError):
    pass


class NotPlacedError(GatewayError):
    """The loan is with no agency: nothing to escalate."""


class ActivityIdReusedError(GatewayError):
    """An activity id recorded before with other content."""

    field = "activity_id"


@dataclass(frozen=True)
class FieldProblem:
    field: str  # a field of what was reported (``text``, ``amount.amount``)
    message: str
    code: str = "invalid"


class InvalidReportError(GatewayError):
    """What was reported does not hold together; each problem names its field."""

    def __init__(self, title: str, detail: str, problems: list[FieldProblem]) -> None:
        super().__init__(detail)
        self.title = title
        self.problems = problems


class NoLegalStageError(GatewayError):
    """No escalation of the loan was granted: it has no legal stage to move."""


class StageMoveError(GatewayError):
    """The legal stage cannot make that move (``NEXT_STAGES``)."""


class StageReportForbiddenError(GatewayError):
    """The lender's policy does not let an agency report the legal stage."""
