"""``python -m services.intake``: serve intake's lender API (migrations run at start-up);
``python -m services.intake borrower``: serve the borrowers' site on ``borrower_http_port``."""

import sys

from services.intake.settings import IntakeSettings
from shared.serve import serve

if __name__ == "__main__":
    settings = IntakeSettings()
    if sys.argv[1:] == ["borrower"]:
        site = settings.model_copy(update={"http_port": settings.borrower_http_port})
        serve("intake-borrower", "services.intake.wiring:served_borrower_app", site)
    elif sys.argv[1:]:
        sys.exit("usage: python -m services.intake [borrower]")
    else:
        serve(
            "intake", "services.intake.wiring:served_app", settings, workers=settings.http_workers
        )
