"""The placement policy's file: ``policies/placement.toml`` unless the settings name another."""

import tomllib
from pathlib import Path

from services.agency_gateway.domain.policy import PlacementPolicy

DEFAULT_FILE = Path(__file__).parent.parent / "policies" / "placement.toml"


def load_policy(path: Path = DEFAULT_FILE) -> PlacementPolicy:
    """The policy of a TOML file; a bad value raises naming the file and the key."""
    try:
        return PlacementPolicy.model_validate(tomllib.loads(path.read_text()))
    except ValueError as error:
        raise ValueError(f"{path}: {error}") from error
