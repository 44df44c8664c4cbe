"""Channel adapters that speak real provider protocols (Twilio, Alibaba Cloud SMS, SMTP), the
dispatcher that rate-limits, retries and fails over between them, and the parsers of the
providers' delivery receipts and inbound replies. See README.md beside this file."""
