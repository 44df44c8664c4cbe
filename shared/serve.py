"""Runs a service's app under uvicorn with the platform's logging."""

import uvicorn
from fastapi import FastAPI

from shared.logging import configure_logging
from shared.settings import ServiceSettings


def serve(name: str, app: FastAPI | str, settings: ServiceSettings, *, workers: int = 1) -> None:
    """Serve ``app``: an app, or the import string of a factory (``"package.module:function"``).

    Several ``workers`` need the factory: uvicorn starts each worker as a fresh process that
    builds its own app (its own pool, producer and relay; the relay's advisory lock lets one
    publish at a time), so the factory must set up logging itself.
    """
    configure_logging(name, settings.log_level, settings.log_json)
    uvicorn.run(
        app,
        factory=isinstance(app, str),
        workers=workers,
        host=settings.http_host,
        port=settings.http_port,
        log_config=None,
        access_log=False,
        proxy_headers=True,
    )
