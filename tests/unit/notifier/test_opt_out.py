"""Which replies opt a borrower out of a channel."""

import pytest

from services.notifier.domain.opt_out import is_opt_out


@pytest.mark.parametrize(
    "body",
    [
        "STOP",
        "stop",
        " Stop \n",
        "STOPALL",
        "unsubscribe",
        "CANCEL",
        "end",
        "QUIT",
        "STOP.",
        "退订",
        " 退订 ",
        "退订。",
        "TD",
        "td",
        "T",
        "ＴＤ",
    ],
)
def test_opt_out_words_opt_out(body: str) -> None:
    assert is_opt_out(body)


@pytest.mark.parametrize(
    "body",
    [
        "",
        "   ",
        "please stop calling me",
        "STOP IT",
        "stopp",
        "OK",
        "Thanks",
        "退订了吗",
        "TDD",
        "start",
    ],
)
def test_other_replies_do_not(body: str) -> None:
    assert not is_opt_out(body)
