"""``python -m deploy.local_providers``: the provider emulators until Ctrl-C."""

import argparse
import asyncio
import contextlib
import logging
from dataclasses import replace
from pathlib import Path

from .config import EmulatorConfig
from .server import running_providers


def _config() -> EmulatorConfig:
    parser = argparse.ArgumentParser(prog="python -m deploy.local_providers", description=__doc__)
    parser.add_argument("--host", default=EmulatorConfig.host)
    parser.add_argument("--http-port", type=int, default=EmulatorConfig.http_port)
    parser.add_argument("--smtp-port", type=int, default=EmulatorConfig.smtp_port)
    parser.add_argument(
        "--state-dir", type=Path, help="keep messages.jsonl and the SMTP certificate here"
    )
    parser.add_argument(
        "--receipts-url",
        default="http://127.0.0.1:8002/v1/receipts",
        help="the notifier's receipts base URL (…/twilio, …/aliyun?token=…)",
    )
    parser.add_argument(
        "--callback-attempts",
        type=int,
        default=EmulatorConfig.callback_attempts,
        help="deliveries of a callback before giving up (one second apart)",
    )
    args = parser.parse_args()
    config = EmulatorConfig(
        host=args.host,
        http_port=args.http_port,
        smtp_port=args.smtp_port,
        state_dir=args.state_dir,
        callback_attempts=args.callback_attempts,
    )
    base = args.receipts_url.rstrip("/")
    token = config.aliyun_push_url.partition("?")[2]
    return replace(
        config, twilio_inbound_url=f"{base}/twilio", aliyun_push_url=f"{base}/aliyun?{token}"
    )


async def _serve(config: EmulatorConfig) -> None:
    async with running_providers(config) as running:
        print(
            f"local providers: HTTP {running.http_url} (Twilio /twilio, Aliyun /aliyun/), "
            f"SMTP {config.host}:{running.smtp_port} (STARTTLS, certificate "
            f"{running.smtp_certificate}); received messages: {running.messages_url}",
            flush=True,
        )
        await asyncio.Event().wait()


def main() -> None:
    logging.basicConfig(level=logging.INFO, format="%(name)s: %(levelname)s: %(message)s")
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(_serve(_config()))


if __name__ == "__main__":
    main()
