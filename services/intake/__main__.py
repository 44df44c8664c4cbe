"""``python -m services.intake``: serve intake (migrations run at start-up)."""

from services.intake.settings import IntakeSettings
from shared.serve import serve

if __name__ == "__main__":
    settings = IntakeSettings()
    serve("intake", "services.intake.wiring:served_app", settings, workers=settings.http_workers)
