"""Compliance's verifiers, called by the operator's ``collections audit verify`` and
``collections audit verify-bundle`` (``deploy/cli/audit.py``)."""
