"""Local stand-ins for the notifier's providers (``make run`` and the tests): a Twilio-compatible
Messages endpoint, an Alibaba Cloud-compatible SendSms endpoint and an SMTP server, each checking
requests and authentication as the real one does, keeping what they received and showing it at
``GET /v1/messages``. Imports nothing from ``services``: it checks the adapters independently.
See README.md beside this file."""
