"""The notifier's command-line entry points (``python -m services.notifier.cli.<name>``)."""
