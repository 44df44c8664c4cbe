"""What an operator sees of the running services: traces (``tracing``) and metrics."""
