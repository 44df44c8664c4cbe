"""``python -m services.notifier``: serve notifier (migrations run at start-up)."""

from services.notifier.settings import NotifierSettings
from services.notifier.wiring import create_app
from shared.serve import serve

if __name__ == "__main__":
    settings = NotifierSettings()
    serve("notifier", create_app(settings), settings)
