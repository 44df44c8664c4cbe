"""The emulators' own promises: what they accepted survives a restart (JSONL in the state
folder), and ``?to=`` filters the read API."""

from pathlib import Path

import httpx

from deploy.local_providers.config import EmulatorConfig
from deploy.local_providers.server import running_providers
from services.notifier.adapters.providers.base import OutgoingMessage
from services.notifier.adapters.providers.smtp import SmtpEmail
from shared.vocabulary import Channel


async def test_messages_survive_a_restart_and_filter_by_recipient(tmp_path: Path) -> None:
    config = EmulatorConfig(http_port=0, smtp_port=0, state_dir=tmp_path)
    async with running_providers(config) as running:
        for to in ("a@example.com", "b@example.com"):
            mail = SmtpEmail(
                host="127.0.0.1",
                port=running.smtp_port,
                from_address="reminders@lender.example",
                ca_file=str(running.smtp_certificate),
            )
            await mail.send(OutgoingMessage(Channel.EMAIL, to, "Reminder", "Please pay.", to))
    assert (tmp_path / "messages.jsonl").exists()
    async with running_providers(config) as restarted, httpx.AsyncClient() as client:
        everything = (await client.get(restarted.messages_url)).json()
        only_b = (await client.get(restarted.messages_url, params={"to": "b@example.com"})).json()
    assert [m["to"] for m in everything] == ["a@example.com", "b@example.com"]
    assert [(m["to"], m["subject"], m["provider"]) for m in only_b] == [
        ("b@example.com", "Reminder", "smtp")
    ]
