"""Signed notes and checkpoints, byte for byte as golang.org/x/mod/sumdb/note makes them."""

import pytest

from shared.tlog.merkle import leaf_hash
from shared.tlog.note import Checkpoint, NoteError, Signer, Verifier, open_checkpoint, open_note

# The example key pair and note of golang.org/x/mod/sumdb/note's documentation.
GO_SIGNER = "PRIVATE+KEY+PeterNeumann+c74f20a3+AYEKFALVFGyNhPJEMzD1QIDr+Y7hfZx09iUvxdXHKDFz"
GO_VERIFIER = "PeterNeumann+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW"
GO_TEXT = (
    "If you think cryptography is the answer to your problem,\n"
    "then you don't know what your problem is.\n"
)
GO_NOTE = (
    GO_TEXT + "\n\u2014 PeterNeumann x08go/ZJkuBS9UG/SffcvIAQxVBtiFupLLr8pAcElZInNIuGUgYN1FFYC2p"
    "ZSNXgKvqfqdngotpRZb6KE6RyyBwJnAM=\n"
)


def test_notes_match_the_go_implementation() -> None:
    signer = Signer.parse(GO_SIGNER)
    assert str(signer) == GO_SIGNER
    assert str(signer.verifier) == GO_VERIFIER
    assert signer.sign(GO_TEXT) == GO_NOTE
    assert open_note(GO_NOTE, Verifier.parse(GO_VERIFIER)) == GO_TEXT


def test_a_changed_text_or_another_key_is_refused() -> None:
    verifier = Verifier.parse(GO_VERIFIER)
    with pytest.raises(NoteError, match="does not verify"):
        open_note(GO_NOTE.replace("answer", "question"), verifier)
    with pytest.raises(NoteError, match="no signature by"):
        open_note(GO_NOTE, Signer.generate("PeterNeumann").verifier)
    with pytest.raises(NoteError):
        Verifier.parse(GO_VERIFIER.replace("c74f20a3", "c74f20a4"))


def test_a_checkpoint_round_trips_through_its_signed_note() -> None:
    signer = Signer.generate("collections.example/audit")
    checkpoint = Checkpoint("collections.example/audit", 12, leaf_hash(b"x"))
    note = signer.sign(checkpoint.text())
    assert note.startswith("collections.example/audit\n12\n")
    assert open_checkpoint(note, signer.verifier) == checkpoint
    assert str(Signer.parse(str(signer)).verifier) == str(signer.verifier)
    impostor = Signer.generate("other.example/log")
    with pytest.raises(NoteError, match=r"not 'other\.example/log'"):
        open_checkpoint(impostor.sign(checkpoint.text()), impostor.verifier)
    with pytest.raises(NoteError, match="decimal"):
        Checkpoint.parse("origin\n012\n" + checkpoint.text().split("\n")[2] + "\n")
