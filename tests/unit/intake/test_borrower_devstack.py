"""``make run`` starts the borrowers' site beside intake and says where a borrower tries it;
the site's two message catalogues say the same things."""

import string
import subprocess
import sys
from pathlib import Path

import pytest

from deploy.devstack import runner
from deploy.devstack.infrastructure import LocalInfrastructure
from deploy.devstack.local_providers import MESSAGES_URL
from deploy.devstack.platform import BORROWER_SITE, ServiceProcess, borrower_site
from services.intake.api.borrower_site import CATALOGUES, LOCALES

INTAKE = ServiceProcess(
    "intake", 8001, [sys.executable, "-m", "services.intake"], {"INTAKE_HTTP_PORT": "8001"}
)


def test_the_site_runs_as_intake_with_the_borrower_argument_on_its_own_port() -> None:
    site = borrower_site(INTAKE)
    assert site.name == BORROWER_SITE
    assert site.argv == [sys.executable, "-m", "services.intake", "borrower"]
    assert site.port == 8005
    assert site.env["INTAKE_HTTP_PORT"] == "8001"  # intake's settings, database and keys
    assert site.env["INTAKE_BORROWER_BASE_URL"] == "http://127.0.0.1:8005"


def test_the_banner_says_where_a_borrower_tries_it(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    infra = LocalInfrastructure(tmp_path)
    runner._print_banner(infra, [INTAKE, borrower_site(INTAKE)], 1.0, services_too=True)
    printed = capsys.readouterr().out
    assert "http://127.0.0.1:8001   docs: http://127.0.0.1:8001/docs" in printed
    line = next(line for line in printed.splitlines() if BORROWER_SITE in line)
    assert "http://127.0.0.1:8005/b/<token>" in line
    assert MESSAGES_URL in line


def test_both_catalogues_have_the_same_keys_and_placeholders() -> None:
    english, chinese = (CATALOGUES[locale] for locale in LOCALES[::-1])
    assert set(english) == set(chinese)
    for key, text in english.items():
        assert sorted(_fields(text)) == sorted(_fields(chinese[key])), key


def _fields(text: str) -> list[str]:
    return [name for _, name, _, _ in string.Formatter().parse(text) if name]


def test_the_process_entry_point_refuses_an_unknown_argument() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "services.intake", "lender"],
        capture_output=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 1
    assert b"usage: python -m services.intake [borrower]" in done.stderr
