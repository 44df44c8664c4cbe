"""``python -m services.compliance``: serve compliance (migrations run at start-up)."""

from services.compliance.settings import ComplianceSettings
from services.compliance.wiring import create_app
from shared.serve import serve

if __name__ == "__main__":
    settings = ComplianceSettings()
    serve("compliance", create_app(settings), settings)
