"""``python -m services.intake.keys create --principal <lender id>``: lender API keys."""

import sys

from services.intake.settings import IntakeSettings
from shared.auth.cli import main
from shared.auth.keys import Role

if __name__ == "__main__":
    sys.exit(
        main(
            "python -m services.intake.keys",
            [Role.LENDER, Role.OPERATOR],
            IntakeSettings().database_url,
            sys.argv[1:],
        )
    )
