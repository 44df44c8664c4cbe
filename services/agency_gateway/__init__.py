"""Agency gateway: places unpaid loans with collection agencies and serves them the agency API."""
