"""Checks of the certificate file settings (Kafka and PostgreSQL TLS), made at start-up."""

from pathlib import Path

from pydantic import BaseModel


def check_files(settings: BaseModel, names: tuple[str, ...], *, allowed: bool, why: str) -> None:
    """Each of these file settings that is set must be allowed, and name a file that exists."""
    for name in names:
        path: Path | None = getattr(settings, name)
        if path is None:
            continue
        if not allowed:
            raise ValueError(f"{name} is set but {why}")
        if not path.is_file():
            raise ValueError(f"{name}: no file at {path}")


def check_pair(settings: BaseModel, certfile: str, keyfile: str) -> None:
    """A client certificate and its key go together."""
    if (getattr(settings, certfile) is None) != (getattr(settings, keyfile) is None):
        raise ValueError(f"{certfile} and {keyfile} go together: set both or neither")
