"""What every test folder builds on: factories of valid requests, commands and events."""
