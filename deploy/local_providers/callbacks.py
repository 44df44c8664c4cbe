"""Posts the providers' callbacks (status reports, inbound messages) the way they do: after
the answer to the send, retried a few times when the receiver does not answer 2xx."""

import asyncio
import logging
from collections.abc import Mapping
from typing import Any

import httpx

from .config import EmulatorConfig

log = logging.getLogger("local_providers")


class CallbackPoster:
    def __init__(self, config: EmulatorConfig) -> None:
        self._config = config
        self._client = httpx.AsyncClient(timeout=10.0)
        self._tasks: set[asyncio.Task[None]] = set()

    async def post(
        self,
        url: str,
        *,
        form: Mapping[str, str] | None = None,
        json_body: Any = None,
        headers: Mapping[str, str] | None = None,
    ) -> int:
        """One delivery, retried on failure; the last HTTP status (0: never answered)."""
        status = 0
        for attempt in range(self._config.callback_attempts):
            if attempt:
                await asyncio.sleep(self._config.callback_retry_seconds)
            try:
                response = await self._client.post(
                    url, data=form, json=json_body, headers=dict(headers or {})
                )
            except httpx.HTTPError as error:
                log.warning("callback to %s failed: %s", url, type(error).__name__)
                continue
            status = response.status_code
            if response.is_success:
                return status
            log.warning("callback to %s answered %d", url, status)
        return status

    def later(self, *deliveries: tuple[str, dict[str, Any]]) -> None:
        """Post ``(url, post keyword arguments)`` in order, in the background, after the
        configured delay."""

        async def run() -> None:
            for url, options in deliveries:
                await asyncio.sleep(self._config.callback_delay_seconds)
                await self.post(url, **options)

        task = asyncio.get_running_loop().create_task(run())
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def aclose(self) -> None:
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        await self._client.aclose()
