"""The offline verifier of an evidence bundle: the zip alone (and, better, the log's public key
obtained separately); no database, no network.

``python -m services.compliance.cli.verify_bundle evidence-<loan>.zip [--public-key FILE]``

Prints ``valid`` and exits 0 when the checkpoint is signed by the key (the one given, which
the bundle's ``public-key`` must then be), and every entry of ``entries.jsonl``, re-hashed from
its canonical bytes, reaches the signed root through its proof of ``proofs.json``, with no
entry or proof missing; otherwise prints ``invalid: <what fails>`` and exits 1. The checks are
``domain/evidence.py``'s, on ``shared.tlog``'s verification code.
"""

import argparse
import sys
import zipfile
from collections.abc import Sequence
from pathlib import Path

from services.compliance.domain.evidence import PARTS, BundleError, Verified, check_bundle


def verify_bundle(archive: Path, public_key: str | None = None) -> Verified:
    """Check the bundle at ``archive``; :class:`BundleError` names the first failure."""
    try:
        with zipfile.ZipFile(archive) as bundle:
            names = set(bundle.namelist())
            extra = sorted(names - set(PARTS))
            if extra:
                raise BundleError(f"the bundle holds files it should not: {', '.join(extra)}")
            parts = {name: bundle.read(name) for name in PARTS if name in names}
    except (OSError, zipfile.BadZipFile) as error:
        raise BundleError(f"not a readable zip archive: {error}") from error
    return check_bundle(parts, public_key)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m services.compliance.cli.verify_bundle")
    parser.add_argument("bundle", type=Path, help="the evidence bundle (zip)")
    parser.add_argument(
        "--public-key",
        type=Path,
        help="the log's key obtained separately: a C2SP verifier key line, or its PEM",
    )
    args = parser.parse_args(argv)
    try:
        key = args.public_key.read_text() if args.public_key else None
        verified = verify_bundle(args.bundle, key)
    except (BundleError, OSError, UnicodeDecodeError) as error:
        print(f"invalid: {error}")
        return 1
    print("valid")
    print(
        f"{verified.entries} entries in the tree of {verified.checkpoint.size} signed by "
        f"{verified.verifier}, root {verified.checkpoint.root_hash.hex()}",
        file=sys.stderr,
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
