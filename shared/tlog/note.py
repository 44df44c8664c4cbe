"""C2SP signed notes and checkpoints with Ed25519 keys, in the formats of
``golang.org/x/mod/sumdb/note`` and C2SP tlog-checkpoint, so existing tooling reads them.

- signer key (configuration): ``PRIVATE+KEY+<name>+<hex key id>+<base64(0x01 ‖ seed)>``,
  as ``note.GenerateKey`` writes it;
- verifier key: ``<name>+<hex key id>+<base64(0x01 ‖ public key)>``;
- key id: the first 4 bytes of ``SHA-256(name ‖ 0x0A ‖ 0x01 ‖ public key)``, big-endian;
- note: the text (ending in a newline), a blank line, then ``— <name> <base64(key id ‖
  signature)>`` per signature; the signature covers the text alone;
- checkpoint text: origin, tree size in decimal, base64 root hash, one line each.
"""

import base64
import hashlib
import struct
from dataclasses import dataclass

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

ED25519 = b"\x01"
SIGNATURE_PREFIX = "\u2014 "  # an em dash and a space


class NoteError(ValueError):
    """A key, note or checkpoint that is malformed, or a signature that does not verify."""


def key_id(name: str, public_key: bytes) -> int:
    digest = hashlib.sha256(name.encode() + b"\n" + ED25519 + public_key).digest()
    return int(struct.unpack(">I", digest[:4])[0])


def _check_name(name: str) -> str:
    if not name or "+" in name or any(c.isspace() for c in name):
        raise NoteError(f"a key name is non-empty, without spaces or '+': {name!r}")
    return name


@dataclass(frozen=True)
class Verifier:
    name: str
    key_id: int
    public_key: Ed25519PublicKey

    @classmethod
    def parse(cls, text: str) -> "Verifier":
        parts = text.strip().split("+", 2)
        if len(parts) != 3:
            raise NoteError("a verifier key is <name>+<hex key id>+<base64 key>")
        name, hex_id, encoded = parts
        raw = _b64(encoded)
        if len(raw) != 33 or raw[:1] != ED25519:
            raise NoteError("the verifier key is not an Ed25519 key")
        verifier = cls(
            _check_name(name), int(hex_id, 16), Ed25519PublicKey.from_public_bytes(raw[1:])
        )
        if len(hex_id) != 8 or key_id(name, raw[1:]) != verifier.key_id:
            raise NoteError("the verifier key's id does not match its name and key")
        return verifier

    @property
    def raw_public_key(self) -> bytes:
        return self.public_key.public_bytes(
            serialization.Encoding.Raw, serialization.PublicFormat.Raw
        )

    def __str__(self) -> str:
        encoded = base64.b64encode(ED25519 + self.raw_public_key).decode()
        return f"{self.name}+{self.key_id:08x}+{encoded}"

    def pem(self) -> str:
        return self.public_key.public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        ).decode()


@dataclass(frozen=True)
class Signer:
    name: str
    private_key: Ed25519PrivateKey

    @classmethod
    def generate(cls, name: str) -> "Signer":
        return cls(_check_name(name), Ed25519PrivateKey.generate())

    @classmethod
    def parse(cls, text: str) -> "Signer":
        parts = text.strip().split("+", 4)
        if len(parts) != 5 or parts[:2] != ["PRIVATE", "KEY"]:
            raise NoteError("a signer key is PRIVATE+KEY+<name>+<hex key id>+<base64 key>")
        raw = _b64(parts[4])
        if len(raw) != 33 or raw[:1] != ED25519:
            raise NoteError("the signer key is not an Ed25519 key")
        signer = cls(_check_name(parts[2]), Ed25519PrivateKey.from_private_bytes(raw[1:]))
        if parts[3] != f"{signer.verifier.key_id:08x}":
            raise NoteError("the signer key's id does not match its name and key")
        return signer

    @property
    def verifier(self) -> Verifier:
        public = self.private_key.public_key()
        raw = public.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
        return Verifier(self.name, key_id(self.name, raw), public)

    def __str__(self) -> str:
        seed = self.private_key.private_bytes(
            serialization.Encoding.Raw,
            serialization.PrivateFormat.Raw,
            serialization.NoEncryption(),
        )
        encoded = base64.b64encode(ED25519 + seed).decode()
        return f"PRIVATE+KEY+{self.name}+{self.verifier.key_id:08x}+{encoded}"

    def sign(self, text: str) -> str:
        """The signed note of ``text`` (non-empty, newline-terminated, no blank line)."""
        if not text.endswith("\n") or "\n\n" in text:
            raise NoteError("a note's text ends with a newline and has no blank line")
        signature = self.private_key.sign(text.encode())
        stamp = base64.b64encode(struct.pack(">I", self.verifier.key_id) + signature).decode()
        return f"{text}\n{SIGNATURE_PREFIX}{self.name} {stamp}\n"


def open_note(note: str, verifier: Verifier) -> str:
    """The text of ``note`` if ``verifier`` signed it; :class:`NoteError` otherwise."""
    text, separator, signatures = note.rpartition("\n\n")
    if not separator or not signatures.endswith("\n"):
        raise NoteError("a signed note is its text, a blank line and signature lines")
    text += "\n"
    for line in signatures[:-1].split("\n"):
        if not line.startswith(SIGNATURE_PREFIX):
            raise NoteError(f"not a signature line: {line!r}")
        name, _, encoded = line[len(SIGNATURE_PREFIX) :].partition(" ")
        stamp = _b64(encoded)
        if len(stamp) < 5:
            raise NoteError("a signature line too short to hold a signature")
        if name != verifier.name or struct.unpack(">I", stamp[:4])[0] != verifier.key_id:
            continue  # another signer's (a witness's): not ours to judge
        try:
            verifier.public_key.verify(stamp[4:], text.encode())
        except InvalidSignature as error:
            raise NoteError("the note's signature does not verify") from error
        return text
    raise NoteError(f"the note has no signature by {verifier.name}+{verifier.key_id:08x}")


@dataclass(frozen=True)
class Checkpoint:
    origin: str
    size: int
    root_hash: bytes

    def text(self) -> str:
        return f"{self.origin}\n{self.size}\n{base64.b64encode(self.root_hash).decode()}\n"

    @classmethod
    def parse(cls, text: str) -> "Checkpoint":
        lines = text.split("\n")
        if len(lines) < 4 or lines[-1] != "":
            raise NoteError("a checkpoint is an origin, a tree size and a root hash, one a line")
        origin, size, root = lines[:3]
        if not size.isdigit() or (size.startswith("0") and size != "0"):
            raise NoteError(f"the tree size is not a decimal number: {size!r}")
        root_hash = _b64(root)
        if len(root_hash) != 32:
            raise NoteError("the root hash is not 32 bytes")
        return cls(origin, int(size), root_hash)


def open_checkpoint(note: str, verifier: Verifier) -> Checkpoint:
    """A checkpoint signed by ``verifier`` whose origin is the verifier's name."""
    checkpoint = Checkpoint.parse(open_note(note, verifier))
    if checkpoint.origin != verifier.name:
        raise NoteError(f"the checkpoint is of {checkpoint.origin!r}, not {verifier.name!r}")
    return checkpoint


def _b64(text: str) -> bytes:
    try:
        return base64.b64decode(text, validate=True)
    except ValueError as error:
        raise NoteError("not standard base64") from error
