"""What an operator sees of the running services: metrics (``metrics``) and traces (``tracing``)."""
