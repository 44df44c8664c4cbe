"""The providers' signature schemes against the worked examples they publish."""

from datetime import UTC, datetime

from services.notifier.adapters.providers.aliyun import AliyunSms, aliyun_phone_number
from services.notifier.adapters.providers.base import OutgoingMessage
from services.notifier.adapters.providers.signatures import (
    aliyun_percent_encode,
    aliyun_rpc_signature,
    aliyun_string_to_sign,
    twilio_signature,
)
from shared.vocabulary import Channel

# Twilio's documented example (webhooks security; every Twilio SDK tests with it).
TWILIO_URL = "https://mycompany.com/myapp.php?foo=1&bar=2"
TWILIO_PARAMS = [
    ("CallSid", "CA1234567890ABCDE"),
    ("Caller", "+14158675309"),
    ("Digits", "1234"),
    ("From", "+14158675309"),
    ("To", "+18005551212"),
]

# Alibaba Cloud's SMS signature example (SendSms, "HTTP协议及签名"), method GET.
ALIYUN_PARAMS = {
    "AccessKeyId": "testId",
    "Action": "SendSms",
    "Format": "XML",
    "OutId": "123",
    "PhoneNumbers": "15300000001",
    "RegionId": "cn-hangzhou",
    "SignName": "阿里云短信测试专用",
    "SignatureMethod": "HMAC-SHA1",
    "SignatureNonce": "45e25e9b-0a6f-4070-8c85-2956eda1b466",
    "SignatureVersion": "1.0",
    "TemplateCode": "SMS_71390007",
    "TemplateParam": '{"customer":"test"}',
    "Timestamp": "2017-07-12T02:42:19Z",
    "Version": "2017-05-25",
}


def test_twilio_signature_matches_the_documented_example() -> None:
    assert twilio_signature("12345", TWILIO_URL, TWILIO_PARAMS) == "RSOYDt4T1cUTdK1PDd93/VVr8B8="


def test_twilio_signature_ignores_parameter_order_but_not_values_or_url() -> None:
    reordered = list(reversed(TWILIO_PARAMS))
    assert twilio_signature("12345", TWILIO_URL, reordered) == "RSOYDt4T1cUTdK1PDd93/VVr8B8="
    tampered = [*TWILIO_PARAMS[:2], ("Digits", "9999"), *TWILIO_PARAMS[3:]]
    assert twilio_signature("12345", TWILIO_URL, tampered) != "RSOYDt4T1cUTdK1PDd93/VVr8B8="
    assert twilio_signature("12345", TWILIO_URL + "&x=1", TWILIO_PARAMS) != (
        "RSOYDt4T1cUTdK1PDd93/VVr8B8="
    )


def test_aliyun_string_to_sign_matches_the_documented_example() -> None:
    assert aliyun_string_to_sign("GET", ALIYUN_PARAMS) == (
        "GET&%2F&AccessKeyId%3DtestId%26Action%3DSendSms%26Format%3DXML%26OutId%3D123"
        "%26PhoneNumbers%3D15300000001%26RegionId%3Dcn-hangzhou%26SignName%3D"
        "%25E9%2598%25BF%25E9%2587%258C%25E4%25BA%2591%25E7%259F%25AD%25E4%25BF%25A1"
        "%25E6%25B5%258B%25E8%25AF%2595%25E4%25B8%2593%25E7%2594%25A8"
        "%26SignatureMethod%3DHMAC-SHA1%26SignatureNonce%3D45e25e9b-0a6f-4070-8c85-2956eda1b466"
        "%26SignatureVersion%3D1.0%26TemplateCode%3DSMS_71390007%26TemplateParam%3D"
        "%257B%2522customer%2522%253A%2522test%2522%257D"
        "%26Timestamp%3D2017-07-12T02%253A42%253A19Z%26Version%3D2017-05-25"
    )


def test_aliyun_signature_matches_the_documented_examples() -> None:
    assert aliyun_rpc_signature("GET", ALIYUN_PARAMS, "testSecret") == (
        "zJDF+Lrzhj/ThnlvIToysFRq6t4="
    )
    describe_regions = {  # the RPC signature page's own example
        "AccessKeyId": "testid",
        "Action": "DescribeRegions",
        "Format": "XML",
        "SignatureMethod": "HMAC-SHA1",
        "SignatureNonce": "3ee8c1b8-83d3-44af-a94f-4e0ad82fd6cf",
        "SignatureVersion": "1.0",
        "Timestamp": "2016-02-23T12:46:24Z",
        "Version": "2014-05-26",
    }
    assert aliyun_rpc_signature("GET", describe_regions, "testsecret") == (
        "OLeaidS1JvxuMvnyHOwuJ+uX5qY="
    )


def test_aliyun_signature_leaves_out_a_signature_already_present() -> None:
    signed = {**ALIYUN_PARAMS, "Signature": "anything"}
    assert aliyun_rpc_signature("GET", signed, "testSecret") == "zJDF+Lrzhj/ThnlvIToysFRq6t4="


def test_aliyun_percent_encoding_follows_the_pop_rules() -> None:
    assert aliyun_percent_encode("a b*~-_.") == "a%20b%2A~-_."
    assert aliyun_percent_encode("/=&+") == "%2F%3D%26%2B"
    assert aliyun_percent_encode("退") == "%E9%80%80"


def test_aliyun_send_sms_parameters_carry_the_text_in_the_template_variable() -> None:
    adapter = AliyunSms(
        endpoint="http://provider.invalid/",
        access_key_id="id",
        access_key_secret="secret",
        sign_name="签名",
        template_code="SMS_1",
    )
    message = OutgoingMessage(Channel.SMS, "+8613800000000", None, '还款提醒 "1"', "rem-1")
    params = adapter.signed_parameters(
        message, nonce="n-1", timestamp=datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)
    )
    assert params["PhoneNumbers"] == "13800000000"
    assert params["TemplateParam"] == '{"content":"还款提醒 \\"1\\""}'
    assert params["OutId"] == "rem-1"
    assert params["Timestamp"] == "2026-01-02T03:04:05Z"
    assert params["Signature"] == aliyun_rpc_signature("POST", params, "secret")


def test_aliyun_phone_numbers_drop_the_plus_and_mainland_prefix() -> None:
    assert aliyun_phone_number("+8613800000000") == "13800000000"
    assert aliyun_phone_number("+85261234567") == "85261234567"
