"""Intake's part of the operator's command (``collections reseal intake``)."""
