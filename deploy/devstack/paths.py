"""Where the dev stack keeps its files."""

from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[2]
DEFAULT_ROOT = REPO_ROOT / ".devstack"
TEST_ROOT = REPO_ROOT / ".devstack-test"
# Downloaded Kafka jars: shared by `make run` and the tests, kept by `clean`.
DEFAULT_CACHE = DEFAULT_ROOT / "cache"
