"""A loan's evidence bundle: its entries, the signed checkpoint of the log as it is now, one
inclusion proof per entry at that checkpoint's size, the key, the statement and how to verify,
as one zip.

Read in one transaction (the reads agree: every entry is in the tree the checkpoint signs), and
every proof's nodes in one read however many entries the loan has.
"""

import io
import zipfile
from collections.abc import Callable

from services.compliance.application.errors import LoanNotFoundError
from services.compliance.application.log_writer import LogWriter
from services.compliance.application.ports import AuditReads, Signer
from services.compliance.domain import evidence as parts
from services.compliance.domain.evidence import LoggedEntry
from services.compliance.domain.statement import Statement, statement
from shared.tlog.tree import inclusion_ranges, nodes_of, range_hash

RenderStatement = Callable[[Statement], bytes]


class EvidenceBundles:
    def __init__(self, writer: LogWriter, render: RenderStatement) -> None:
        self._writer = writer
        self._render = render

    async def bundle(self, read: AuditReads, lender_id: str, loan_id: str) -> bytes:
        """The zip of the loan's bundle; :class:`LoanNotFoundError` if no entry names it."""
        signed = await self._writer.latest(read.log, read.checkpoints)
        rows = await read.log.timeline(lender_id, loan_id)
        entries = [
            LoggedEntry(int(row["leaf_index"]), bytes(row["entry"]))
            for row in rows
            if row["leaf_index"] < signed.tree_size
        ]
        if not entries:
            raise LoanNotFoundError(f"No audit entry names loan {loan_id!r}.")
        size = signed.tree_size
        ranges = {entry.leaf_index: inclusion_ranges(entry.leaf_index, size) for entry in entries}
        nodes = await read.log.nodes(nodes_of([r for each in ranges.values() for r in each]))
        proofs = {
            index: [range_hash(start, end, nodes) for start, end in each]
            for index, each in ranges.items()
        }
        signer: Signer = self._writer.signer
        verifier = signer.verifier
        files = {
            parts.STATEMENT: self._render(
                statement(loan_id, lender_id, entries, size, signed.root_hash)
            ),
            parts.ENTRIES: parts.entries_jsonl(entries),
            parts.CHECKPOINT: signed.note.encode(),
            parts.PROOFS: parts.proofs_json(size, signed.root_hash, proofs),
            parts.PUBLIC_KEY: parts.public_key_file(verifier),
            parts.VERIFY: parts.verify_md(loan_id, size, verifier),
        }
        return pack(files)


def pack(files: dict[str, bytes]) -> bytes:
    """The files as a zip archive, in the bundle's order."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for name in parts.PARTS:
            archive.writestr(name, files[name])
    return buffer.getvalue()
