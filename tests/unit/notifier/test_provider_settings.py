"""Provider settings: the SMS order, the rate limiters, the dispatchers built from them."""

import pytest

from services.notifier.adapters.providers.dispatch import build_dispatchers, per_second
from services.notifier.adapters.providers.settings import ProviderSettings
from shared.vocabulary import Channel


def test_sms_providers_are_tried_in_the_configured_order() -> None:
    assert ProviderSettings(sms_providers=" aliyun , twilio").sms_provider_order() == [
        "aliyun",
        "twilio",
    ]


@pytest.mark.parametrize("order", ["", "twilio,nexmo", " , "])
def test_an_unknown_or_empty_sms_order_is_refused(order: str) -> None:
    with pytest.raises(ValueError, match="NOTIFIER_SMS_PROVIDERS"):
        ProviderSettings(sms_providers=order).sms_provider_order()


def test_settings_come_from_notifier_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("NOTIFIER_SMS_PROVIDERS", "aliyun")
    monkeypatch.setenv("NOTIFIER_TWILIO_AUTH_TOKEN", "from-env")
    monkeypatch.setenv("NOTIFIER_UNRELATED", "ignored")
    settings = ProviderSettings()
    assert settings.sms_provider_order() == ["aliyun"]
    assert settings.twilio_auth_token.get_secret_value() == "from-env"
    assert "from-env" not in repr(settings)


def test_rates_below_one_a_second_space_single_messages() -> None:
    assert (per_second(10).max_rate, per_second(10).time_period) == (10, 1.0)
    assert (per_second(0.5).max_rate, per_second(0.5).time_period) == (1, 2.0)


async def test_dispatchers_cover_sms_and_email_with_the_configured_providers() -> None:
    dispatchers = build_dispatchers(ProviderSettings(sms_providers="aliyun,twilio"))
    try:
        assert set(dispatchers) == {Channel.SMS, Channel.EMAIL}
        sms = [entry.provider.name for entry in dispatchers[Channel.SMS].providers]
        email = [entry.provider.name for entry in dispatchers[Channel.EMAIL].providers]
        assert (sms, email) == (["aliyun", "twilio"], ["smtp"])
    finally:
        for dispatcher in dispatchers.values():
            await dispatcher.aclose()
