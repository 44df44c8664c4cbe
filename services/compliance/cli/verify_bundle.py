"""The offline verifier of an evidence bundle: the zip alone (and, better, the log's public key
obtained separately); no database, no network.

``collections audit verify-bundle evidence-<loan>.zip [--public-key FILE]`` (deploy/cli/audit.py)
says ``valid`` when the checkpoint is signed by the key (the one given, which
the bundle's ``public-key`` must then be), and every entry of ``entries.jsonl``, re-hashed from
its canonical bytes, reaches the signed root through its proof of ``proofs.json``, with no
entry or proof missing; otherwise ``invalid: <what fails>``. The checks are
``domain/evidence.py``'s, on ``shared.tlog``'s verification code.
"""

import zipfile
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
