"""Banned-phrase matching (CN-06), once for every service: the engine's check of a message,
the gateway's screen of an agency's note, compliance's judgement of logged notes and the
notifier's check of its templates all fold text the same way, so that no service lets
through what another refuses."""

import unicodedata
from collections.abc import Iterable


def fold(text: str) -> str:
    """Text as it is matched: Unicode NFKC (a full-width letter is its ASCII one), case folded,
    with format characters (zero-width space and joiners, soft hyphen) and all white space
    removed, so that none of them hides a phrase."""
    normal = unicodedata.normalize("NFKC", text).casefold()
    return "".join(c for c in normal if not c.isspace() and unicodedata.category(c) != "Cf")


def banned_in(text: str, phrases: Iterable[str]) -> list[str]:
    """The phrases (as written) that ``text`` contains once both are folded."""
    folded = fold(text)
    return [phrase for phrase in phrases if (key := fold(phrase)) and key in folded]
