"""Packs load from TOML, refuse bad data naming the key, and may be tightened, never loosened."""

from pathlib import Path

import pytest

from shared.contact_rules import PackError, RuleStatus, load_overlay_file, load_pack_file, tighten
from shared.contact_rules.packs import REQUIRED, parse_pack
from tests.unit.contact_rules.support import CN, US

PACKS = Path(__file__).resolve().parents[3] / "shared" / "contact_rules" / "packs"


def test_every_rule_of_the_reference_is_in_its_pack() -> None:
    for pack in (CN, US):
        assert tuple(pack.rules) == REQUIRED[pack.jurisdiction]
        for rule in pack.rules.values():
            assert rule.source
            assert (rule.status is RuleStatus.OUT_OF_SCOPE) == (rule.reason is not None)
    assert load_pack_file(PACKS / "us.toml").version == "US-2026.1"


def _edited(name: str, old: str, new: str) -> str:
    text = (PACKS / name).read_text("utf-8")
    assert old in text
    return text.replace(old, new, 1)


@pytest.mark.parametrize(
    ("old", "new", "message"),
    [
        (
            "max_per_day = 3",
            'max_per_day = "three"',
            "cn.toml: rules.CN-02.params.max_per_day: Input should be a valid integer",
        ),
        ("max_per_day = 3", "max_per_day = -1", "rules.CN-02.params.max_per_day: Input should be"),
        ('start = "22:00"', 'start = "10pm"', "rules.CN-01.params.start: Value error"),
        ("min_staff = 2", "min_staf = 2", "rules.CN-07.params.min_staf: Extra inputs"),
        ('status = "judged"', 'status = "maybe"', "rules.CN-05.status: Input should be"),
        ('reason = "a storage duty', 'note = "a storage duty', "rules.CN-08: Value error, reason"),
        ('version = "CN-2026.1"', 'version = "2026"', "cn.toml: version: String should match"),
        ("[rules.CN-11]", "[rules.CN-12]", "cn.toml: rules: missing CN-11"),
        ("[rules.POL-01]", "[rules.POL-01]\nfoo = 1", "rules.POL-01.foo: Extra inputs"),
    ],
)
def test_an_invalid_pack_refuses_to_load_naming_the_key(old: str, new: str, message: str) -> None:
    with pytest.raises(PackError) as raised:
        parse_pack(_edited("cn.toml", old, new), "cn.toml")
    assert message in str(raised.value)


def test_a_rule_of_another_jurisdiction_is_refused() -> None:
    text = _edited(
        "cn.toml",
        "[rules.CN-11]",
        "[rules.US-09]\ntitle='x'\nstatus='judged'\n"
        "applies_to=['agency']\nsource='s'\n[rules.CN-11]",
    )
    with pytest.raises(PackError, match=r"rules\.US-09: not a rule of CN packs"):
        parse_pack(text, "cn.toml")


def test_tightening_is_allowed_and_names_the_overlay() -> None:
    stricter = tighten(
        CN,
        {
            "CN-02": {"params": {"max_per_day": 2}},
            "CN-01": {"params": {"start": "21:00", "end": "09:00"}},
            "CN-06": {
                "params": {
                    "banned_phrases": [
                        *CN.rule("CN-06").params.model_dump()["banned_phrases"],
                        "老赖",
                    ]
                }
            },
        },
        label="acme",
    )
    assert stricter.version == "CN-2026.1+acme"
    assert stricter.rule("CN-02").params.model_dump()["max_per_day"] == 2
    assert CN.rule("CN-02").params.model_dump()["max_per_day"] == 3


@pytest.mark.parametrize(
    ("pack_name", "overrides", "message"),
    [
        (
            "CN",
            {"CN-02": {"params": {"max_per_day": 4}}},
            "rules.CN-02.params.max_per_day: 4 would loosen 3",
        ),
        (
            "CN",
            {"CN-01": {"params": {"start": "23:00"}}},
            "rules.CN-01.params.start/end: 23:00–08:00 does not cover 22:00–08:00",
        ),
        ("CN", {"CN-01": {"params": {"start": "08:00", "end": "22:00"}}}, "does not cover"),
        ("CN", {"CN-01": {"params": {"channels": ["sms"]}}}, "rules.CN-01.params.channels"),
        (
            "CN",
            {"CN-07": {"params": {"recording_required": False}}},
            "rules.CN-07.params.recording_required",
        ),
        (
            "US",
            {"US-10": {"params": {"waiting_days": 7}}},
            "rules.US-10.params.waiting_days: 7 would loosen 14",
        ),
        ("US", {"US-04": {"params": {"period_days": 20}}}, "rules.US-04.params.period_days"),
        ("US", {"US-03": {"params": {"consent_exclusion_days": 10}}}, "consent_exclusion_days"),
        (
            "US",
            {"US-02": {"params": {"scope": "same_party"}, "applies_to": ["lender"]}},
            "rules.US-02.applies_to: cannot drop agency",
        ),
        ("US", {"US-12": {"params": {"revocation_business_days": 15}}}, "revocation_business_days"),
        ("US", {"US-99": {"params": {}}}, "overlay: rules.US-99: no such rule"),
        ("US", {"US-02": {"status": "out_of_scope"}}, "overlay: rules.US-02.status: Extra inputs"),
    ],
)
def test_loosening_is_refused_naming_the_key(
    pack_name: str, overrides: dict[str, dict[str, object]], message: str
) -> None:
    pack = CN if pack_name == "CN" else US
    with pytest.raises(PackError) as raised:
        tighten(pack, overrides, label="lender")
    assert message in str(raised.value)


def test_an_overlay_file_names_its_base(tmp_path: Path) -> None:
    overlay = tmp_path / "acme.toml"
    overlay.write_text('label = "acme"\nbase = "US-2026.1"\n[rules.US-02.params]\nmax_calls = 5\n')
    assert load_overlay_file(overlay, US).version == "US-2026.1+acme"
    with pytest.raises(
        PackError, match=r"acme\.toml: base: US-2026\.1 is not the pack's CN-2026\.1"
    ):
        load_overlay_file(overlay, CN)
