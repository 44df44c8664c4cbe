"""Runs a service's app under uvicorn with the platform's logging."""

import uvicorn
from fastapi import FastAPI

from shared.logging import configure_logging
from shared.settings import ServiceSettings


def serve(name: str, app: FastAPI, settings: ServiceSettings) -> None:
    configure_logging(name, settings.log_level, settings.log_json)
    uvicorn.run(
        app,
        host=settings.http_host,
        port=settings.http_port,
        log_config=None,
        access_log=False,
        proxy_headers=True,
    )
