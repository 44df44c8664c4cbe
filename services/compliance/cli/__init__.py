"""Compliance's command-line entry points (``python -m services.compliance.cli.verify``)."""
