"""The ``policy`` and ``rules`` command groups' arguments: a bad candidate file or period is
refused before any database is opened, naming the option and, for a file, the key."""

from pathlib import Path

import pytest
from typer.testing import CliRunner

from deploy.cli.app import app

PERIOD = ["--from", "2026-11-01", "--to", "2026-12-01"]
NOWHERE = {  # a database nobody listens on: reaching it would fail the command differently
    name: "postgresql+asyncpg://nobody@127.0.0.1:9/none"
    for name in ("NOTIFIER_DATABASE_URL", "AGENCY_GATEWAY_DATABASE_URL", "COMPLIANCE_DATABASE_URL")
}


def run(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(app, list(args), env=NOWHERE)
    return result.exit_code, result.output


def test_the_groups_are_listed() -> None:
    code, output = run("--help")
    assert code == 0
    assert "policy" in output
    assert "rules" in output
    assert "dry-run" in run("policy", "--help")[1]
    assert "explain" in run("rules", "--help")[1]


def test_exactly_one_candidate_file(tmp_path: Path) -> None:
    file = tmp_path / "placement.toml"
    file.write_text('version = "x"\n')
    assert run("policy", "dry-run", *PERIOD)[0] == 2
    code, output = run(
        "policy", "dry-run", "--placement", str(file), "--rule-pack", str(file), *PERIOD
    )
    assert code == 2
    assert "exactly one" in output


def test_the_period_must_be_dates_in_order(tmp_path: Path) -> None:
    file = tmp_path / "placement.toml"
    file.write_text('version = "x"\n')
    code, output = run(
        "policy", "dry-run", "--placement", str(file), "--from", "2026-12-01", "--to", "2026-11-01"
    )
    assert code == 2
    assert "--to" in output
    code, output = run(
        "policy", "dry-run", "--placement", str(file), "--from", "soon", "--to", "later"
    )
    assert code == 2
    assert "ISO 8601" in output


@pytest.mark.parametrize(
    ("option", "name", "content", "named"),
    [
        ("--placement", "placement.toml", "threshold_days = -1\n", "threshold_days"),
        ("--cadence", "cn-default.toml", 'id = "cn-default"\n', "cn-default.toml"),
        (
            "--rule-pack",
            "loose.toml",
            'label = "loose"\nbase = "CN-2026.1"\n[rules.CN-02]\nparams = { max_per_day = 9 }\n',
            "rules.CN-02.params.max_per_day",
        ),
    ],
)
def test_a_bad_candidate_is_refused_naming_the_key(
    tmp_path: Path, option: str, name: str, content: str, named: str
) -> None:
    file = tmp_path / name
    file.write_text(content)
    code, output = run("policy", "dry-run", option, str(file), *PERIOD)
    assert code == 2
    assert named in "".join(output.split()).replace("│", "")  # the error panel wraps lines


def test_explain_needs_one_contact() -> None:
    code, output = run("rules", "explain", "--lender", "l", "--loan", "x")
    assert code == 2
    assert "--notification" in output


def test_dates_without_an_offset_are_utc() -> None:
    from datetime import UTC, datetime

    from deploy.cli.policy import instant

    assert instant("2026-11-01", "--from") == datetime(2026, 11, 1, tzinfo=UTC)
    assert instant("2026-11-01T08:00", "--from") == datetime(2026, 11, 1, 8, tzinfo=UTC)
    assert instant("2026-11-01T08:00+08:00", "--from") == datetime(2026, 11, 1, tzinfo=UTC)
