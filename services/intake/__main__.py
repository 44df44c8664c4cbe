"""``python -m services.intake``: serve intake (migrations run at start-up)."""

from services.intake.settings import IntakeSettings
from services.intake.wiring import create_app
from shared.serve import serve

if __name__ == "__main__":
    settings = IntakeSettings()
    serve("intake", create_app(settings), settings)
