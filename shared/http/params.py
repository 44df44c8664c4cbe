"""Path and query parameters, checked with the identifier rules of the bodies."""

from typing import Annotated

from fastapi import Path

from shared.events.limits import IDENTIFIER_PATTERN

LoanId = Annotated[str, Path(pattern=IDENTIFIER_PATTERN, description="The lender's loan id")]
HoldId = Annotated[str, Path(pattern=IDENTIFIER_PATTERN, description="The lender's hold id")]
BorrowerId = Annotated[
    str, Path(pattern=IDENTIFIER_PATTERN, description="The lender's borrower id")
]
