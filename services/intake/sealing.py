"""The keys intake protects personal data with."""

from dataclasses import dataclass

from shared.crypto import KeyRing, Pseudonymizer


@dataclass(frozen=True)
class Sealing:
    """At rest (intake's own key), in events (keys shared with entitled services), and the
    keyed hash that makes borrower pseudonyms."""

    storage: KeyRing
    transit: KeyRing
    pseudonyms: Pseudonymizer
