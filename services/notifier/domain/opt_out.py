"""Which inbound replies opt a borrower out of the channel they came on (pure)."""

import unicodedata

OPT_OUT_WORDS = frozenset(
    {
        # The carriers' and Twilio's English keywords (CTIA).
        "stop",
        "stopall",
        "unsubscribe",
        "cancel",
        "end",
        "quit",
        # Chinese carriers' conventions: 退订 ("unsubscribe"), TD and T.
        "退订",
        "td",
        "t",
    }
)
_TRAILING = " \t\r\n.!。！,，"


def is_opt_out(body: str) -> bool:
    """The whole reply, trimmed and case-folded (full-width letters as plain ones), is one of
    the opt-out words; a sentence that merely contains one is not."""
    word = unicodedata.normalize("NFKC", body).strip(_TRAILING).casefold()
    return word in OPT_OUT_WORDS
